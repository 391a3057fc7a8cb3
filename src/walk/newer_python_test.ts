/**
 * A Python newer than any this pystack knows (a 3.16 declaring itself in
 * `_Py_DebugOffsets`): read with the newest known layouts and the offsets it
 * declares, with one warning, printing what it can. Built over bytes.
 */
import assert from "node:assert/strict";
import { v3_15 as buildV3_15 } from "../cpython/layouts/v3_15.ts";
import { DEBUG_OFFSETS_LAYOUTS } from "../cpython/layouts/debug_offsets.ts";
import { selectRuntime, SUPPORTED } from "../cpython/runtime.ts";
import { UnsupportedVersionError } from "../errors.ts";
import { detectVersion } from "./detect_version.ts";
import { runtimeForTarget } from "./debug_offsets.ts";
import { declaredOffsets, DeclaredTarget, INTERP, RUNTIME } from "./_declared_target.ts";
import { walkThreads } from "./threads.ts";

const v3_15 = buildV3_15();

/** 3.16.0 final, as `PY_VERSION_HEX`. */
const PY_3_16_0 = 0x031000f0n;
const TID = 4242;

/** What a 3.16 target declares: 3.15's offsets, but the thread id moved to the end of the thread state. */
function declared(): Map<string, number> {
  const s = v3_15.structs;
  const values = declaredOffsets(v3_15);
  values.set("thread_state.native_thread_id", s.thread!.size - 8);
  values.set("unicode_object.compactunicodeobject_size", s.compact_unicode!.size);
  return values;
}

class Target extends DeclaredTarget {
  constructor(values: Map<string, number>) {
    super(v3_15, values, 256 * 1024);
  }

  type(name: string, flags = 0n): bigint {
    const at = this.alloc(v3_15.structs.type!.size);
    this.put(at, "type_object.tp_name", this.cString(name));
    this.put(at, "type_object.tp_flags", flags);
    return at;
  }
}

/** Writes the blob at RUNTIME with the newest known layout of `_Py_DebugOffsets`. */
function writeDebugOffsets(t: Target, version: bigint, values: Map<string, number>): void {
  const layout = Object.entries(DEBUG_OFFSETS_LAYOUTS).at(-1)![1];
  t.mem.write(RUNTIME, new TextEncoder().encode("xdebugpy"));
  t.raw(RUNTIME + BigInt(layout.fields["version"]!.offset), "u64", version);
  for (const [name, value] of values) {
    const f = layout.fields[name];
    if (f !== undefined) t.raw(RUNTIME + BigInt(f.offset), "u64", value);
  }
}

/** A 3.16 process: one thread holding the GIL, in `work()` of `/app/job.py`, called from C. */
function newerTarget(): Target {
  const t = new Target(declared());
  writeDebugOffsets(t, PY_3_16_0, t.values);
  const str = t.type("str", 1n << 28n);
  const bytes = t.type("bytes", 1n << 27n);
  const code = t.type("code");
  const none = t.alloc(16);
  t.put(none, "pyobject.ob_type", t.type("NoneType"));
  const unicode = (text: string) => {
    const at = t.alloc(v3_15.structs.unicode!.size + text.length + 1);
    t.put(at, "pyobject.ob_type", str);
    t.put(at, "unicode_object.length", text.length);
    t.put(at, "unicode_object.state", 0x64); // kind 1, compact, ascii
    t.mem.write(at + BigInt(v3_15.structs.unicode!.size), new TextEncoder().encode(text));
    return at;
  };
  // One ONE_LINE1 entry for code unit 0: line = firstlineno + 1, columns 4 to 9.
  const table = new Uint8Array([0x80 | (11 << 3), 4, 9]);
  const linetable = t.alloc(64);
  t.put(linetable, "pyobject.ob_type", bytes);
  t.put(linetable, "bytes_object.ob_size", table.length);
  t.mem.write(linetable + BigInt(t.values.get("bytes_object.ob_sval")!), table);

  const co = t.alloc(v3_15.structs.code!.size + 16);
  t.put(co, "pyobject.ob_type", code);
  t.put(co, "code_object.filename", unicode("/app/job.py"));
  t.put(co, "code_object.name", unicode("work"));
  t.put(co, "code_object.firstlineno", 41);
  t.put(co, "code_object.linetable", linetable);
  const firstInstruction = co + BigInt(t.values.get("code_object.co_code_adaptive")!);

  const frame = t.alloc(v3_15.structs.frame!.size);
  const entry = t.alloc(v3_15.structs.frame!.size);
  t.put(frame, "interpreter_frame.executable", co | 1n); // a tagged _PyStackRef
  t.put(frame, "interpreter_frame.instr_ptr", firstInstruction);
  t.put(frame, "interpreter_frame.owner", 0);
  t.put(frame, "interpreter_frame.previous", entry);
  t.put(entry, "interpreter_frame.executable", none | 1n);
  t.put(entry, "interpreter_frame.owner", 3); // FRAME_OWNED_BY_INTERPRETER
  t.put(entry, "interpreter_frame.previous", 0);

  const tstate = t.alloc(v3_15.structs.thread!.size);
  t.put(tstate, "thread_state.interp", INTERP);
  t.put(tstate, "thread_state.current_frame", frame);
  t.put(tstate, "thread_state.native_thread_id", TID);

  t.put(RUNTIME, "runtime_state.interpreters_head", INTERP);
  t.put(INTERP, "interpreter_state.threads_head", tstate);
  t.put(
    INTERP,
    "interpreter_state.ceval_gil",
    INTERP + BigInt(t.values.get("interpreter_state.gil_runtime_state")!),
  );
  const locked = BigInt(t.values.get("interpreter_state.gil_runtime_state_locked")!);
  const holder = BigInt(t.values.get("interpreter_state.gil_runtime_state_holder")!);
  t.raw(INTERP + locked, v3_15.structs.gil!.fields["locked"]!.kind, 1);
  t.raw(INTERP + holder, "ptr", tstate);
  return t;
}

const NO_OBJECTS = { executable: undefined, libpython: undefined, main: undefined };

Deno.test("runtimeForTarget() reads a 3.16 that declares itself as the newest known version, with one warning", () => {
  const t = newerTarget();
  const detected = detectVersion(t.mem, NO_OBJECTS, new Map(), RUNTIME);
  assert.ok(detected !== undefined);
  assert.deepEqual([detected.version.major, detected.version.minor, detected.version.micro], [
    3,
    16,
    0,
  ]);
  const { rt, warnings, notes } = runtimeForTarget(t.mem, detected);
  assert.equal(rt.version.minor, 16, "the version stays the declared one");
  assert.equal(rt.layout.version, `3.${SUPPORTED.newest[1]}`);
  assert.equal(rt.newerThanKnown, `3.${SUPPORTED.newest[1]}`);
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(
    warnings[0]!,
    /^Python 3\.16\.0 is newer than this pystack knows \(3\.15 at most\): reading it as 3\.15/,
  );
  // The declared offsets win over the 3.15 table.
  assert.equal(
    rt.layout.structs.thread!.fields["native_thread_id"]!.offset,
    v3_15.structs.thread!.size - 8,
  );
  assert.ok(notes.some((n) => /native_thread_id is \d+, table says/.test(n)), notes.join("\n"));
});

Deno.test("walkThreads() prints what it can of a 3.16 target: thread, frame, line, GIL", () => {
  const t = newerTarget();
  const detected = detectVersion(t.mem, NO_OBJECTS, new Map(), RUNTIME)!;
  const { rt } = runtimeForTarget(t.mem, detected);
  const walk = walkThreads({
    mem: t.mem,
    rt,
    interp: INTERP,
    runtime: RUNTIME,
    symbols: new Map(),
    tids: new Set([TID]),
  });
  assert.deepEqual(walk.warnings, []);
  assert.equal(walk.threads.length, 1);
  const [thread] = walk.threads;
  assert.equal(thread!.tid, TID);
  assert.equal(thread!.holdsGil, true);
  assert.equal(thread!.partial, undefined);
  assert.deepEqual(
    thread!.frames.map((f) => [f.file, f.function, f.location.line, f.location.column, f.isEntry]),
    [["/app/job.py", "work", 42, 4, true]],
  );
});

Deno.test("runtimeForTarget() falls back to the newest table when a 3.16's offsets are absurd", () => {
  const values = declared();
  values.set("thread_state.size", 1 << 30);
  const t = new Target(values);
  writeDebugOffsets(t, PY_3_16_0, values);
  const detected = detectVersion(t.mem, NO_OBJECTS, new Map(), RUNTIME)!;
  const { rt, warnings } = runtimeForTarget(t.mem, detected);
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0]!, /newer than this pystack knows/);
  assert.match(warnings[1]!, /^ignored the target's _Py_DebugOffsets: thread_state\.size/);
  assert.deepEqual(rt.layout.structs.thread, v3_15.structs.thread);
});

Deno.test("selectRuntime() refuses a 3.16 that did not describe itself", () => {
  const v = { major: 3, minor: 16, micro: 0, releaseLevel: "final", serial: 0 } as const;
  assert.throws(() => selectRuntime(v), UnsupportedVersionError);
  assert.equal(selectRuntime(v, { selfDescribed: true }).newerThanKnown, "3.15");
});
