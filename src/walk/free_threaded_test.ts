/**
 * A free-threaded 3.14 (3.14t), which no build here can run: told by its `_Py_DebugOffsets`
 * (`free_threaded`), read with the 3.14t layout (3.14's headers probed with `Py_GIL_DISABLED=1`)
 * and the offsets it declares. Built over bytes: the 32-byte object header, per-thread bytecode
 * copies (`tlbc_index`, `co_tlbc`), thread states instead of the GIL, the `interned` byte of str,
 * split reference counts.
 */
import assert from "node:assert/strict";
import { v3_14 as buildV3_14 } from "../cpython/layouts/v3_14.ts";
import { v3_14t as buildV3_14T } from "../cpython/layouts/v3_14t.ts";
import { DEBUG_OFFSETS_LAYOUTS } from "../cpython/layouts/debug_offsets.ts";
import { ValueRenderer } from "../cpython/values.ts";
import { detectVersion } from "./detect_version.ts";
import { runtimeForTarget } from "./debug_offsets.ts";
import { declaredOffsets, DeclaredTarget, INTERP, RUNTIME } from "./_declared_target.ts";
import { walkThreads } from "./threads.ts";
import { VariableReader } from "./variables.ts";

const v3_14 = buildV3_14();
const v3_14t = buildV3_14T();

/** 3.14.2 final, as `PY_VERSION_HEX`. */
const PY_3_14_2 = 0x030e02f0n;
const [MAIN_TID, WORKER_TID] = [5000, 5001];

const LAYOUT = v3_14t;

/** What the 3.14t declares: the offsets of its layout. */
function declared(): Map<string, number> {
  return declaredOffsets(LAYOUT);
}

class Target extends DeclaredTarget {
  constructor() {
    super(LAYOUT, declared());
  }

  /** A free-threaded object header: owned by no thread, `shared` references (shifted by 2). */
  object(size: number, type: bigint, local = 1, shared = 0n): bigint {
    const at = this.alloc(size);
    const head = LAYOUT.structs.object!.fields;
    this.raw(at + BigInt(head["ref_local"]!.offset), "u32", local);
    this.raw(at + BigInt(head["ref_shared"]!.offset), "i64", shared << 2n);
    this.put(at, "pyobject.ob_type", type);
    return at;
  }

  type(name: string, flags = 0n): bigint {
    const at = this.alloc(LAYOUT.structs.type!.size);
    this.put(at, "type_object.tp_name", this.cString(name));
    // Py_TPFLAGS_READY (1 << 12), as every type the renderer believes.
    this.put(at, "type_object.tp_flags", flags | (1n << 12n));
    return at;
  }
}

/** Py_TPFLAGS_UNICODE_SUBCLASS, _BYTES_SUBCLASS. */
const UNICODE = 1n << 28n;
const BYTES = 1n << 27n;

/** `tstate->state`: _Py_THREAD_DETACHED 0, _Py_THREAD_ATTACHED 1, _Py_THREAD_SUSPENDED 2. */
const ATTACHED_DETACHED = { main: 1, worker: 0 };

/**
 * A 3.14t process: the main thread (bytecode copy 0, attached) and a worker (its own copy 1,
 * detached), both in `work()` of `/app/ft.py`, at code units 0 and 1; the GIL is not enabled.
 */
function freeThreadedTarget(states: { main: number; worker: number } = ATTACHED_DETACHED): Target {
  const t = new Target();
  const layout = Object.entries(DEBUG_OFFSETS_LAYOUTS).find(([r]) => r.startsWith("3.14."))![1];
  t.mem.write(RUNTIME, new TextEncoder().encode("xdebugpy"));
  t.raw(RUNTIME + BigInt(layout.fields["version"]!.offset), "u64", PY_3_14_2);
  t.raw(RUNTIME + BigInt(layout.fields["free_threaded"]!.offset), "u64", 1);
  for (const [name, value] of t.values) {
    const f = layout.fields[name];
    if (f !== undefined) t.raw(RUNTIME + BigInt(f.offset), "u64", value);
  }
  const [str, bytes, code] = [t.type("str", UNICODE), t.type("bytes", BYTES), t.type("code")];
  const none = t.object(32, t.type("NoneType"), 0xffff_ffff);
  // 3.14t's str state: a whole `interned` byte, then kind:3, compact:1, ascii:1.
  const ascii = 0x100 | 0x800 | 0x1000;
  const unicode = (text: string, local = 1, shared = 0n) => {
    const header = LAYOUT.structs.unicode!.size;
    const at = t.object(header + text.length + 1, str, local, shared);
    t.put(at, "unicode_object.length", text.length);
    t.put(at, "unicode_object.state", ascii);
    t.mem.write(at + BigInt(header), new TextEncoder().encode(text));
    return at;
  };
  // Code unit 0: ONE_LINE1 (line + 1), columns 4 to 9; code unit 1: ONE_LINE2 (line + 2), 8 to 12.
  const table = new Uint8Array([0x80 | (11 << 3), 4, 9, 0x80 | (12 << 3), 8, 12]);
  const linetable = t.object(64, bytes);
  t.put(linetable, "bytes_object.ob_size", table.length);
  t.mem.write(linetable + BigInt(t.values.get("bytes_object.ob_sval")!), table);
  const names = t.object(64, t.type("tuple"));
  t.put(names, "tuple_object.ob_size", 1);
  // A name only another thread still references: local count 0, shared count 1.
  t.raw(names + BigInt(t.values.get("tuple_object.ob_item")!), "ptr", unicode("job", 0, 1n));
  const kinds = t.object(64, bytes);
  t.put(kinds, "bytes_object.ob_size", 1);

  const co = t.object(t.values.get("code_object.size")! + 16, code);
  t.put(co, "code_object.filename", unicode("/app/ft.py"));
  t.put(co, "code_object.name", unicode("work"));
  t.put(co, "code_object.firstlineno", 10);
  t.put(co, "code_object.linetable", linetable);
  t.put(co, "code_object.argcount", 1);
  t.put(co, "code_object.localsplusnames", names);
  t.put(co, "code_object.localspluskinds", kinds);
  const shared = co + BigInt(t.values.get("code_object.co_code_adaptive")!);
  // The worker's copy of the bytecode, entry 1 of co_tlbc (entry 0 is co_code_adaptive).
  const copy = t.alloc(16);
  const tlbc = t.alloc(24);
  t.raw(tlbc, "i64", 2);
  t.raw(tlbc + 8n, "ptr", shared);
  t.raw(tlbc + 16n, "ptr", copy);
  t.put(co, "code_object.co_tlbc", tlbc);

  const thread = (tid: number, instr: bigint, index: number, state: number, argument: bigint) => {
    const frame = t.alloc(t.values.get("interpreter_frame.size")! + 16);
    const entry = t.alloc(t.values.get("interpreter_frame.size")!);
    t.put(frame, "interpreter_frame.executable", co | 1n);
    t.put(frame, "interpreter_frame.instr_ptr", instr);
    t.put(frame, "interpreter_frame.tlbc_index", index);
    t.put(frame, "interpreter_frame.owner", 0);
    t.put(frame, "interpreter_frame.previous", entry);
    t.put(frame, "interpreter_frame.localsplus", argument | 1n);
    t.put(entry, "interpreter_frame.executable", none | 1n);
    t.put(entry, "interpreter_frame.owner", 3); // FRAME_OWNED_BY_INTERPRETER
    const ts = t.alloc(LAYOUT.structs.thread!.size);
    t.put(ts, "thread_state.interp", INTERP);
    t.put(ts, "thread_state.current_frame", frame);
    t.put(ts, "thread_state.native_thread_id", tid);
    t.raw(ts + BigInt(LAYOUT.structs.thread!.fields["state"]!.offset), "i32", state);
    return ts;
  };
  // _Py_THREAD_ATTACHED 1, _Py_THREAD_DETACHED 0.
  const worker = thread(WORKER_TID, copy + 2n, 1, states.worker, unicode("worker's job"));
  const main = thread(MAIN_TID, shared, 0, states.main, unicode("main's job"));
  t.put(main, "thread_state.next", worker);
  t.put(worker, "thread_state.prev", main);

  t.put(RUNTIME, "runtime_state.interpreters_head", INTERP);
  t.put(INTERP, "interpreter_state.threads_head", main);
  const gil = INTERP + BigInt(t.values.get("interpreter_state.gil_runtime_state")!);
  t.put(INTERP, "interpreter_state.ceval_gil", gil);
  // Not enabled (a free-threaded build's default), though `locked` and `last_holder` are stale.
  t.raw(gil + BigInt(LAYOUT.structs.gil!.fields["enabled"]!.offset), "i32", 0);
  t.put(INTERP, "interpreter_state.gil_runtime_state_locked", 1);
  t.put(INTERP, "interpreter_state.gil_runtime_state_holder", worker);
  return t;
}

const NO_OBJECTS = { executable: undefined, libpython: undefined, main: undefined };

function read(t: Target) {
  const detected = detectVersion(t.mem, NO_OBJECTS, new Map(), RUNTIME);
  assert.ok(detected !== undefined);
  return { detected, ...runtimeForTarget(t.mem, detected) };
}

Deno.test("v3_14t: the free-threaded header, and the bytecode copies where PyStack reads them", () => {
  const [gil, ft] = [v3_14.structs, LAYOUT.structs];
  assert.deepEqual(Object.keys(ft.object!.fields).sort(), [
    "gc_bits",
    "mutex",
    "ref_local",
    "ref_shared",
    "size",
    "tid",
    "type",
  ]);
  assert.equal(ft.object!.fields["type"]!.offset, 24);
  for (const name of ["tuple", "list", "dict", "float", "bytes", "unicode", "cell"] as const) {
    for (const [field, f] of Object.entries(gil[name]!.fields)) {
      assert.equal(ft[name]!.fields[field]!.offset, f.offset + 16, `${name}.${field}`);
    }
  }
  const frame = ft.frame!.fields;
  assert.deepEqual(frame["tlbc_index"], { offset: frame["instr"]!.offset + 16, kind: "i32" });
  const code = ft.code!.fields;
  assert.deepEqual(code["tlbc"], { offset: code["code_adaptive"]!.offset - 8, kind: "ptr" });
  assert.equal(gil.frame!.fields["tlbc_index"], undefined, "GIL builds have no copies");
});

Deno.test("runtimeForTarget() reads a 3.14t with the 3.14t layout and the free-threaded rules", () => {
  const { detected, rt, warnings, notes } = read(freeThreadedTarget());
  assert.equal(detected.freeThreaded, true);
  assert.deepEqual(warnings, []);
  assert.equal(rt.layout.version, "3.14t");
  assert.equal(rt.threadStatus, "attachment");
  assert.equal(rt.bytecode, "per_thread");
  assert.equal(rt.unicodeState, "interned_byte");
  assert.equal(rt.values?.refcount, "split");
  assert.equal(rt.values?.managedDictBefore, 8);
  // Every offset it declares is its table's.
  assert.deepEqual(notes.filter((n) => /table says/.test(n)), []);
});

Deno.test("walkThreads() reads a 3.14t: thread states, no GIL, each thread's bytecode copy", () => {
  const t = freeThreadedTarget();
  const { rt } = read(t);
  const walk = walkThreads({
    mem: t.mem,
    rt,
    interp: INTERP,
    runtime: RUNTIME,
    symbols: new Map(),
    tids: new Set([MAIN_TID, WORKER_TID]),
  });
  assert.deepEqual(walk.warnings, []);
  assert.deepEqual(
    walk.threads.map((th) => [th.tid, th.threadState, th.holdsGil, th.gcCollecting, th.partial]),
    [[MAIN_TID, "attached", false, false, undefined], [
      WORKER_TID,
      "detached",
      false,
      false,
      undefined,
    ]],
  );
  const where = (i: number) =>
    walk.threads[i]!.frames.map((f) => [f.file, f.function, f.location.line, f.location.column]);
  assert.deepEqual(where(0), [["/app/ft.py", "work", 11, 4]]);
  // Code unit 1 of the worker's own copy of the bytecode (line 11 + 2), columns 8 to 12.
  assert.deepEqual(where(1), [["/app/ft.py", "work", 13, 8]]);
});

Deno.test("VariableReader reads a 3.14t's locals: 32-byte headers, split reference counts", () => {
  const t = freeThreadedTarget();
  const { rt } = read(t);
  const walk = walkThreads({
    mem: t.mem,
    rt,
    interp: INTERP,
    runtime: RUNTIME,
    symbols: new Map(),
    tids: new Set([MAIN_TID, WORKER_TID]),
  });
  new VariableReader(t.mem, rt, new ValueRenderer(t.mem, rt)).addTo(walk.threads);
  assert.deepEqual(walk.threads.map((th) => th.frames[0]!.variables), [
    [{ name: "job", value: `"main's job"`, argument: true }],
    [{ name: "job", value: `"worker's job"`, argument: true }],
  ]);
});

Deno.test("walkThreads() reads a 3.14t thread suspended by a stop-the-world pause, and a bad state", () => {
  const t = freeThreadedTarget({ main: 2, worker: 7 });
  const { rt } = read(t);
  const walk = walkThreads({
    mem: t.mem,
    rt,
    interp: INTERP,
    runtime: RUNTIME,
    symbols: new Map(),
    tids: new Set([MAIN_TID, WORKER_TID]),
  });
  assert.deepEqual(walk.threads.map((th) => [th.threadState, th.holdsGil]), [
    ["suspended", false],
    ["unknown", false],
  ]);
  assert.deepEqual(walk.threads.map((th) => th.frames.length), [1, 1], "frames read all the same");
});
