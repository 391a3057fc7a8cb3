import assert from "node:assert/strict";
import { layoutFromDebugOffsets, SIZE_MAP } from "./debug_offsets.ts";
import { v3_15 as buildV3_15 } from "../cpython/layouts/v3_15.ts";
import type { StructName } from "../cpython/layout.ts";

const v3_15 = buildV3_15();

/** The sizes a 3.15 target declares (from the table), plus `extra`. */
function declared(extra: [string, number][]): Map<string, number> {
  const sizes = SIZE_MAP.map(([group, struct]): [string, number] => [
    `${group}.size`,
    v3_15.structs[struct as StructName]!.size,
  ]);
  return new Map([...sizes, ...extra]);
}

Deno.test("layoutFromDebugOffsets() takes 3.15's exception offsets from the target", () => {
  const result = layoutFromDebugOffsets(
    v3_15,
    declared([["thread_state.current_exception", 8], ["err_stackitem.exc_value", 8]]),
  );
  assert.ok(!("rejected" in result));
  assert.equal(result.layout.structs.thread!.fields["current_exception"]!.offset, 8);
  assert.equal(result.layout.structs.err_stackitem!.fields["exc_value"]!.offset, 8);
  assert.equal(result.notes.length, 2);
});

Deno.test("layoutFromDebugOffsets() rejects an exc_value outside _PyErr_StackItem", () => {
  const result = layoutFromDebugOffsets(v3_15, declared([["err_stackitem.exc_value", 4096]]));
  assert.ok("rejected" in result);
});
