import assert from "node:assert/strict";
import { layoutFromDebugOffsets } from "./debug_offsets.ts";
import { v3_13 as buildV3_13 } from "../cpython/layouts/v3_13.ts";

const v3_13 = buildV3_13();

/** The values a 3.13 target would declare, derived from the generated table itself. */
function declared(): Map<string, number> {
  const s = v3_13.structs;
  const values = new Map<string, number>([
    ["runtime_state.size", s.runtime!.size],
    ["interpreter_state.size", s.interp!.size],
    ["thread_state.size", s.thread!.size],
    ["interpreter_frame.size", s.frame!.size],
    ["code_object.size", s.code!.size],
    ["pyobject.size", s.object!.size],
    ["type_object.size", s.type!.size],
    ["tuple_object.size", s.tuple!.size],
    ["list_object.size", s.list!.size],
    ["dict_object.size", s.dict!.size],
    ["float_object.size", s.float!.size],
    ["long_object.size", s.long!.size],
    ["bytes_object.size", s.bytes!.size],
    ["thread_state.native_thread_id", s.thread!.fields["native_thread_id"]!.offset],
    ["interpreter_frame.owner", s.frame!.fields["owner"]!.offset],
  ]);
  return values;
}

Deno.test("layoutFromDebugOffsets() keeps a table that agrees and notes nothing", () => {
  const result = layoutFromDebugOffsets(v3_13, declared());
  assert.ok(!("rejected" in result));
  assert.deepEqual(result.notes, []);
  assert.deepEqual(
    result.layout.structs.frame!.fields["owner"],
    v3_13.structs.frame!.fields["owner"],
  );
});

Deno.test("layoutFromDebugOffsets() prefers the target's offsets where they differ", () => {
  const values = declared();
  values.set("thread_state.native_thread_id", 8);
  const tableBefore = JSON.stringify(v3_13);
  assert.notEqual(v3_13.structs.thread!.fields["native_thread_id"]!.offset, 8, "a real change");
  const result = layoutFromDebugOffsets(v3_13, values);
  assert.ok(!("rejected" in result));
  assert.deepEqual(result.layout.structs.thread!.fields["native_thread_id"]!.offset, 8);
  assert.deepEqual(result.notes.length, 1);
  // The generated table itself is untouched.
  assert.equal(JSON.stringify(v3_13), tableBefore, "the generated table is unchanged");
});

Deno.test("layoutFromDebugOffsets() rejects absurd sizes and fields outside their struct", () => {
  const huge = declared();
  huge.set("thread_state.size", 1 << 30);
  assert.ok("rejected" in layoutFromDebugOffsets(v3_13, huge));
  const outside = declared();
  outside.set("interpreter_frame.owner", 100_000);
  assert.ok("rejected" in layoutFromDebugOffsets(v3_13, outside));
});
