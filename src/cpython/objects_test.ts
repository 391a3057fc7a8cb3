import assert from "node:assert/strict";
import { hasReferences } from "./objects.ts";
import { StructView } from "./struct_view.ts";
import { LAYOUTS } from "./layouts/all.ts";

/** An object header of `minor`'s layout with the given counts. */
function header(minor: string, counts: { refcnt?: bigint; local?: number; shared?: bigint }) {
  const layout = LAYOUTS[minor]!.structs.object!;
  const bytes = new Uint8Array(layout.size);
  const view = new DataView(bytes.buffer);
  const at = (field: string) => layout.fields[field]!.offset;
  if (counts.refcnt !== undefined) view.setBigInt64(at("refcnt"), counts.refcnt, true);
  if (counts.local !== undefined) view.setUint32(at("ref_local"), counts.local, true);
  if (counts.shared !== undefined) view.setBigInt64(at("ref_shared"), counts.shared, true);
  return new StructView(0x1000n, layout, bytes);
}

Deno.test("hasReferences() reads ob_refcnt in a GIL build", () => {
  assert.equal(hasReferences(header("3.13", { refcnt: 1n }), "ob_refcnt"), true);
  assert.equal(hasReferences(header("3.13", { refcnt: 0n }), "ob_refcnt"), false);
  assert.equal(hasReferences(header("3.13", { refcnt: -3n }), "ob_refcnt"), false);
});

Deno.test("hasReferences() adds the split counts of a free-threaded build", () => {
  const ft = (local: number, shared: bigint) =>
    hasReferences(header("3.13t", { local, shared }), "split");
  assert.equal(ft(1, 0n), true, "owned by its thread");
  assert.equal(ft(0, 1n << 2n), true, "only shared references");
  assert.equal(ft(0, (1n << 2n) | 3n), true, "the low 2 bits of ob_ref_shared are flags");
  assert.equal(ft(2, -1n << 2n), true, "another thread dropped one of three");
  assert.equal(ft(1, -1n << 2n), false, "none left");
  assert.equal(ft(0, 0n), false, "freed");
  assert.equal(ft(0xffff_ffff, 0n), true, "immortal");
});
