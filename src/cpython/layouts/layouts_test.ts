import assert from "node:assert/strict";
import type { FieldKind } from "../layout.ts";
import { LAYOUTS } from "./all.ts";

const WIDTH: Record<FieldKind, number> = {
  ptr: 8,
  i8: 1,
  u8: 1,
  i16: 2,
  u16: 2,
  i32: 4,
  u32: 4,
  i64: 8,
  u64: 8,
  f64: 8,
};

/** Flexible-array members: they may start exactly at the end of their struct. */
const FLEXIBLE = new Set([
  "frame.localsplus",
  "tuple.item",
  "long.digit",
  "bytes.sval",
  "dictkeys.indices",
  "dictvalues.values",
  "code.code_adaptive",
]);

const MINORS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"];

Deno.test("LAYOUTS holds every supported minor version, keyed by its own version", () => {
  for (const minor of MINORS) assert(LAYOUTS[minor] !== undefined, `no layout for ${minor}`);
  for (const [minor, layout] of Object.entries(LAYOUTS)) {
    assert.deepEqual(layout.version, minor);
    // A free-threaded build's layout ("3.13t") comes from a release of its minor version.
    const release = minor.replace(/t$/, "");
    assert(layout.source.startsWith(`${release}.`), `${minor}: source ${layout.source}`);
  }
});

for (const [minor, layout] of Object.entries(LAYOUTS)) {
  Deno.test(`layout ${minor}: every field lies inside its struct`, () => {
    for (const [name, struct] of Object.entries(layout.structs)) {
      assert(Number.isInteger(struct.size) && struct.size > 0, `${minor} ${name}.size`);
      for (const [fieldName, field] of Object.entries(struct.fields)) {
        const id = `${minor} ${name}.${fieldName} @${field.offset}`;
        assert(Number.isInteger(field.offset) && field.offset >= 0, id);
        if (`${name}.${fieldName}` === "object.size") {
          // PyVarObject.ob_size directly follows the PyObject header.
          assert.deepEqual(field.offset, struct.size, id);
        } else if (FLEXIBLE.has(`${name}.${fieldName}`)) {
          assert(field.offset <= struct.size, `${id} is past the end (${struct.size})`);
        } else {
          const end = field.offset + WIDTH[field.kind];
          assert(end <= struct.size, `${id} ends at ${end}, past the end (${struct.size})`);
        }
      }
    }
  });
}

Deno.test("layout 3.13: debug offsets are every member of _Py_DebugOffsets, in order", () => {
  const debug = LAYOUTS["3.13"]?.structs.debug_offsets;
  assert(debug !== undefined);
  const fields = Object.entries(debug.fields);
  assert.deepEqual(fields[0], ["cookie", { offset: 0, kind: "u8" }]);
  // Every member after the cookie is a uint64_t, packed one after another.
  fields.slice(1).forEach(([name, field], i) => {
    assert.deepEqual(field, { offset: 8 + 8 * i, kind: "u64" }, name);
  });
  assert.deepEqual(debug.size, 8 + 8 * (fields.length - 1));
});

/**
 * Independently known x86-64 offsets: pystack's hand-copied struct prefixes
 * (reference/pystack-behaviour.md §5.9). `[minors, "struct.field", offset]`;
 * `struct.@size` is the struct's `sizeof`.
 */
const KNOWN: readonly [string, string, number][] = [
  ["3.6-3.13", "tuple.size", 16],
  ["3.6-3.13", "tuple.item", 24],
  ["3.6-3.13", "list.size", 16],
  ["3.6-3.13", "list.item", 24],
  ["3.6-3.13", "dict.keys", 32],
  ["3.6-3.13", "dict.values", 40],
  ["3.6-3.10", "dictkeys.size", 8],
  ["3.6-3.10", "dictkeys.nentries", 32],
  ["3.6-3.10", "dictkeys.indices", 40],
  ["3.11-3.13", "dictkeys.log2_size", 8],
  ["3.11-3.13", "dictkeys.kind", 10],
  ["3.11-3.13", "dictkeys.nentries", 24],
  ["3.11-3.13", "dictkeys.indices", 32],
  ["3.11-3.12", "dictvalues.values", 0],
  ["3.13", "dictvalues.values", 8],
  ["3.6-3.13", "float.value", 16],
  ["3.6-3.11", "long.size", 16],
  ["3.6-3.13", "long.digit", 24],
  ["3.6-3.13", "bytes.size", 16],
  ["3.6-3.13", "bytes.sval", 32],
  ["3.6-3.13", "unicode.length", 16],
  ["3.6-3.13", "unicode.state", 32],
  ["3.6-3.11", "unicode.@size", 48],
  ["3.12-3.13", "unicode.@size", 40],
  ["3.6-3.11", "compact_unicode.@size", 72],
  ["3.12-3.13", "compact_unicode.@size", 56],
  ["3.6-3.13", "object.type", 8],
  ["3.6-3.13", "type.name", 24],
  ["3.6-3.13", "type.repr", 88],
  ["3.6-3.13", "type.flags", 168],
  ["3.6-3.7", "code.argcount", 16],
  ["3.6-3.7", "code.firstlineno", 36],
  ["3.6-3.7", "code.varnames", 64],
  ["3.6-3.7", "code.filename", 96],
  ["3.6-3.7", "code.name", 104],
  ["3.6-3.7", "code.linetable", 112],
  ["3.8-3.10", "code.argcount", 16],
  ["3.8-3.10", "code.firstlineno", 40],
  ["3.8-3.10", "code.varnames", 72],
  ["3.8-3.10", "code.filename", 104],
  ["3.8-3.10", "code.name", 112],
  ["3.8-3.10", "code.linetable", 120],
  ["3.11", "code.argcount", 56],
  ["3.11", "code.firstlineno", 72],
  ["3.12-3.13", "code.argcount", 52],
  ["3.12-3.13", "code.firstlineno", 68],
  ["3.11-3.13", "code.localsplusnames", 96],
  ["3.11-3.13", "code.filename", 112],
  ["3.11-3.13", "code.name", 120],
  ["3.11-3.13", "code.linetable", 136],
  ["3.11", "code.code_adaptive", 184],
  ["3.12", "code.code_adaptive", 192],
  ["3.13", "code.code_adaptive", 200],
  ["3.11", "code.@size", 192],
  ["3.12", "code.@size", 200],
  ["3.13", "code.@size", 208],
  ["3.6", "frame.@size", 384],
  ["3.7-3.9", "frame.@size", 368],
  ["3.10", "frame.@size", 360],
  ["3.11-3.13", "frame.@size", 80],
  ["3.6-3.10", "frame.back", 24],
  ["3.6-3.10", "frame.code", 32],
  ["3.6", "frame.lasti", 120],
  ["3.7-3.9", "frame.lasti", 104],
  ["3.10", "frame.lasti", 96],
  ["3.6", "frame.localsplus", 376],
  ["3.7-3.9", "frame.localsplus", 360],
  ["3.10", "frame.localsplus", 352],
  ["3.11", "frame.back", 48],
  ["3.11", "frame.code", 32],
  ["3.12-3.13", "frame.back", 8],
  ["3.12-3.13", "frame.code", 0],
  ["3.11-3.13", "frame.instr", 56],
  ["3.11-3.13", "frame.localsplus", 72],
  ["3.11", "frame.is_entry", 68],
  ["3.12-3.13", "frame.owner", 70],
  ["3.6-3.13", "thread.prev", 0],
  ["3.6-3.13", "thread.next", 8],
  ["3.6-3.13", "thread.interp", 16],
  ["3.6-3.10", "thread.frame", 24],
  ["3.11-3.12", "thread.cframe", 56],
  ["3.13", "thread.current_frame", 72],
  ["3.6", "thread.thread_id", 152],
  ["3.7-3.10", "thread.thread_id", 176],
  ["3.11", "thread.thread_id", 152],
  ["3.11", "thread.native_thread_id", 160],
  ["3.12", "thread.thread_id", 136],
  ["3.12", "thread.native_thread_id", 144],
  ["3.13", "thread.thread_id", 152],
  ["3.13", "thread.native_thread_id", 160],
  ["3.6-3.12", "interp.next", 0],
  ["3.6-3.10", "interp.tstate_head", 8],
  ["3.11", "interp.tstate_head", 16],
  ["3.12", "interp.tstate_head", 72],
  ["3.13", "interp.next", 7264],
  ["3.13", "interp.tstate_head", 7344],
  ["3.7-3.8", "interp.id", 16],
  ["3.9-3.10", "interp.id", 24],
  ["3.11", "interp.id", 48],
  ["3.12", "interp.id", 8],
  ["3.13", "interp.id", 7272],
  ["3.9-3.10", "interp.gc_collecting", 616 + 200],
  ["3.11", "interp.gc_collecting", 648 + 200],
  ["3.12", "interp.gc_collecting", 112 + 200],
  ["3.13", "interp.gc_collecting", 7400 + 200],
  ["3.6", "interp.modules", 16],
  ["3.6", "interp.sysdict", 32],
  ["3.6", "interp.builtins", 40],
  ["3.7", "interp.modules", 40],
  ["3.7", "interp.sysdict", 56],
  ["3.7", "interp.builtins", 64],
  ["3.8", "interp.modules", 56],
  ["3.8", "interp.sysdict", 72],
  ["3.8", "interp.builtins", 80],
  ["3.9-3.10", "interp.modules", 856],
  ["3.9-3.10", "interp.sysdict", 872],
  ["3.9-3.10", "interp.builtins", 880],
  ["3.11", "interp.modules", 888],
  ["3.11", "interp.sysdict", 904],
  ["3.11", "interp.builtins", 912],
  ["3.12", "interp.modules", 944],
  ["3.12", "interp.sysdict", 352],
  ["3.12", "interp.builtins", 360],
  ["3.13", "interp.modules", 7656],
  ["3.13", "interp.sysdict", 7640],
  ["3.13", "interp.builtins", 7648],
  ["3.12", "interp.ceval_gil", 384],
  ["3.13", "interp.ceval_gil", 16],
  ["3.7", "runtime.finalizing", 8],
  ["3.7", "runtime.interpreters_head", 24],
  ["3.8-3.10", "runtime.finalizing", 16],
  ["3.8-3.10", "runtime.interpreters_head", 32],
  ["3.11-3.12", "runtime.finalizing", 24],
  ["3.11-3.12", "runtime.interpreters_head", 40],
  ["3.13", "runtime.finalizing", 608],
  ["3.13", "runtime.interpreters_head", 632],
  ["3.7", "runtime.gc_collecting", 320 + 312],
  ["3.8", "runtime.gc_collecting", 344 + 200],
  ["3.8", "runtime.gilstate_tstate_current", 1368],
  ["3.9-3.10", "runtime.gilstate_tstate_current", 568],
  ["3.11", "runtime.gilstate_tstate_current", 576],
  ["3.7", "gc.collecting", 312],
  ["3.8-3.13", "gc.collecting", 200],
  ["3.11", "cframe.current_frame", 8],
  ["3.12", "cframe.current_frame", 0],
  ["3.12-3.13", "gil.last_holder", 8],
  ["3.12-3.13", "gil.locked", 16],
  ["3.13", "debug_offsets.cookie", 0],
  ["3.13", "debug_offsets.version", 8],
  ["3.13", "debug_offsets.free_threaded", 16],
  ["3.13", "debug_offsets.runtime_state.size", 24],
  ["3.13", "debug_offsets.runtime_state.finalizing", 32],
  ["3.13", "debug_offsets.runtime_state.interpreters_head", 40],
  ["3.13", "debug_offsets.interpreter_state.size", 48],
  ["3.13", "debug_offsets.interpreter_state.threads_head", 72],
  ["3.13", "debug_offsets.interpreter_state.ceval_gil", 112],
  ["3.13", "debug_offsets.interpreter_state.gil_runtime_state_locked", 136],
  ["3.13", "debug_offsets.interpreter_state.gil_runtime_state_holder", 144],
  ["3.13", "debug_offsets.thread_state.size", 152],
  ["3.13", "debug_offsets.thread_state.current_frame", 184],
  ["3.13", "debug_offsets.thread_state.native_thread_id", 200],
  ["3.13", "debug_offsets.interpreter_frame.size", 224],
  ["3.13", "debug_offsets.interpreter_frame.owner", 264],
  ["3.13", "debug_offsets.code_object.size", 272],
  ["3.13", "debug_offsets.code_object.co_code_adaptive", 344],
  ["3.13", "debug_offsets.pyobject.ob_type", 360],
  ["3.13", "debug_offsets.type_object.tp_flags", 392],
  ["3.13", "debug_offsets.tuple_object.ob_size", 416],
  ["3.13", "debug_offsets.list_object.ob_size", 440],
  ["3.13", "debug_offsets.dict_object.ma_values", 464],
  ["3.13", "debug_offsets.float_object.ob_fval", 480],
  ["3.13", "debug_offsets.long_object.ob_digit", 504],
  ["3.13", "debug_offsets.bytes_object.ob_sval", 528],
  ["3.13", "debug_offsets.unicode_object.asciiobject_size", 560],
  ["3.13", "debug_offsets.gc.collecting", 576],
];

/** "3.7-3.10" -> ["3.7", "3.8", "3.9", "3.10"] */
function minorsIn(range: string): string[] {
  const [from, to = from] = range.split("-");
  const lo = Number(from?.split(".")[1]);
  const hi = Number(to?.split(".")[1]);
  return MINORS.filter((m) => m.startsWith("3.") && Number(m.split(".")[1]) >= lo)
    .filter((m) => Number(m.split(".")[1]) <= hi);
}

Deno.test("layouts agree with the independently known x86-64 offsets", () => {
  const wrong: string[] = [];
  for (const [range, path, expected] of KNOWN) {
    const dot = path.indexOf(".");
    const structName = path.slice(0, dot) as keyof (typeof LAYOUTS)[string]["structs"];
    const fieldName = path.slice(dot + 1);
    for (const minor of minorsIn(range)) {
      const struct = LAYOUTS[minor]?.structs[structName];
      const actual = fieldName === "@size" ? struct?.size : struct?.fields[fieldName]?.offset;
      if (actual !== expected) wrong.push(`${minor} ${path}: ${actual} (expected ${expected})`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("layouts give fields the kinds their C types have", () => {
  const kind = (minor: string, struct: string, field: string) =>
    LAYOUTS[minor]?.structs[struct as "code"]?.fields[field]?.kind;
  assert.deepEqual(kind("2.7", "thread", "thread_id"), "i64"); // long
  assert.deepEqual(kind("3.7", "thread", "thread_id"), "u64"); // unsigned long
  assert.deepEqual(kind("3.11", "code", "filename"), "ptr");
  assert.deepEqual(kind("3.11", "code", "firstlineno"), "i32"); // int
  assert.deepEqual(kind("3.11", "frame", "is_entry"), "u8"); // bool
  assert.deepEqual(kind("3.12", "frame", "owner"), "i8"); // char
  assert.deepEqual(kind("3.11", "dictkeys", "log2_size"), "u8"); // uint8_t
  assert.deepEqual(kind("3.12", "long", "lv_tag"), "u64"); // uintptr_t
  assert.deepEqual(kind("3.12", "long", "digit"), "u32"); // digit[]
  assert.deepEqual(kind("3.13", "float", "value"), "f64"); // double
  assert.deepEqual(kind("3.12", "gil", "locked"), "i32"); // _Py_atomic_int
  assert.deepEqual(kind("3.12", "gil", "last_holder"), "ptr"); // _Py_atomic_address
  assert.deepEqual(kind("3.13", "debug_offsets", "runtime_state.size"), "u64");
});
