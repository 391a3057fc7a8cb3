import assert from "node:assert/strict";
import { exceptionTable, protectedDepth } from "./exception_table.ts";

// `def f(x):\n    with L:\n        with M:\n            g(x)\n        g(2)` on 3.11.9: the table
// and `dis`'s reading of it (byte offsets there, code units here).
const TABLE_311 = "880841130390102c05a00c411303ac043009b003411303b3013009b412411303c11304411707" +
  "c11a01411707";
const DIS_311 = [
  [16, 30, 166, 1],
  [32, 62, 88, 2],
  [64, 86, 166, 1],
  [88, 94, 96, 4],
  [96, 100, 166, 1],
  [102, 102, 96, 4],
  [104, 138, 166, 1],
  [166, 172, 174, 3],
  [180, 180, 174, 3],
];

function hex(text: string): Uint8Array {
  return new Uint8Array(text.match(/../g)!.map((b) => parseInt(b, 16)));
}

Deno.test("exceptionTable reads a 3.11 table as dis does", () => {
  const entries = exceptionTable(hex(TABLE_311));
  assert.deepEqual(
    entries.map((e) => [e.start * 2, (e.end - 1) * 2, e.target * 2, e.depth]),
    DIS_311,
  );
  assert.ok(entries.every((e) => e.lasti));
});

Deno.test("protectedDepth: the depth of the range holding the instruction, else 0", () => {
  const entries = exceptionTable(hex(TABLE_311));
  assert.equal(protectedDepth(entries, 0), 0); // before the first `with`
  assert.equal(protectedDepth(entries, 10), 1); // in `with L:` only: L.__exit__ kept
  assert.equal(protectedDepth(entries, 20), 2); // in `with M:` too
  assert.equal(protectedDepth(entries, 40), 1); // `g(2)`, back in `with L:` only
  assert.equal(protectedDepth(entries, 82), 0); // the handler itself is past every range
  assert.equal(protectedDepth([], 5), 0);
});

Deno.test("exceptionTable keeps the entries before a damaged one", () => {
  const good = hex(TABLE_311).subarray(0, 10); // two whole entries
  assert.equal(exceptionTable(good).length, 2);
  // Cut inside the third entry, then a byte without the start bit.
  assert.equal(exceptionTable(hex(TABLE_311).subarray(0, 12)).length, 2);
  assert.equal(exceptionTable(new Uint8Array([0x08, 0x08])).length, 0);
  // A varint that never ends.
  assert.equal(
    exceptionTable(new Uint8Array([0x80, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f])).length,
    0,
  );
});
