import assert from "node:assert/strict";
import type { NativeFrame, PyFrame } from "../model.ts";
import { canMerge, mergedOrder, mergeStacks, type StackEntry } from "./merge.ts";
import { classifyFrames, gilActivity, isCollecting, roleOf } from "./classify.ts";
import type { NativeRules } from "../cpython/runtime.ts";

const RULES_310: NativeRules = {
  evalFunctions: ["_PyEval_EvalFrameDefault"],
  evalPrefixes: [],
  gcFunctions: ["gc_collect_main"],
  hideVectorcall: true,
  splitEvalFunction: "_PyEval_EvalFrameDefault",
};

function c(symbol: string, inlined = false): NativeFrame {
  return { address: 0n, symbol, library: "lib", inlined };
}

function py(name: string, isEntry: boolean): PyFrame {
  return {
    file: "x.py",
    function: name,
    location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
    isEntry,
    frameAddress: 0n,
    codeAddress: 0n,
  };
}

function names(entries: StackEntry[]): string[] {
  return entries.map((e) =>
    e.kind === "unmerged"
      ? "UNMERGED"
      : e.kind === "python"
      ? `py:${e.frame.function}`
      : e.frame.symbol ?? "???"
  );
}

const EVAL = "_PyEval_EvalFrameDefault";

Deno.test("roleOf() tells the evaluation loop, its clones and plumbing apart", () => {
  assert.equal(roleOf(c(EVAL), RULES_310), "eval");
  assert.equal(roleOf(c(`${EVAL}.cold`), RULES_310), "eval");
  // An inlined copy is not a call of its own.
  assert.equal(roleOf(c(EVAL, true), RULES_310), "plumbing");
  assert.equal(roleOf(c("_PyEval_EvalFrame", true), RULES_310), "plumbing");
  assert.equal(roleOf(c("_PyEval_EvalFrameDefaultX"), RULES_310), "plumbing");
  assert.equal(roleOf(c("PyObject_Vectorcall"), RULES_310), "plumbing");
  assert.equal(roleOf(c("cfunction_vectorcall_O"), RULES_310), "plumbing");
  assert.equal(
    roleOf(c("cfunction_vectorcall_O"), { ...RULES_310, hideVectorcall: false }),
    undefined,
  );
  assert.equal(roleOf(c("time_sleep"), RULES_310), undefined);
  assert.equal(roleOf({ address: 1n, inlined: false }, RULES_310), undefined);
  assert.equal(
    roleOf(c("_TAIL_CALL_LOAD_FAST.llvm.123"), { ...RULES_310, evalPrefixes: ["_TAIL_CALL_"] }),
    "eval",
  );
});

Deno.test("mergeStacks() puts each eval call's Python frames in its place (one call per frame)", () => {
  const native = classifyFrames(
    [
      c("_start"),
      c("main"),
      c("PyEval_EvalCode"),
      c(EVAL),
      c("_PyFunction_Vectorcall"),
      c(EVAL),
      c("call_c"),
      c("helper", true),
      c("PyObject_CallObject"),
      c(EVAL),
      c("time_sleep"),
      c("clock_nanosleep"),
    ],
    RULES_310,
  );
  const thread = {
    frames: [py("<module>", true), py("outer", true), py("callback", true)],
    native,
  };
  assert.equal(canMerge(thread), true);
  assert.deepEqual(names(mergeStacks(thread, "python")), [
    "_start",
    "main",
    "py:<module>",
    "py:outer",
    "call_c",
    "helper",
    "py:callback",
    "time_sleep",
    "clock_nanosleep",
  ]);
  assert.deepEqual(names(mergeStacks(thread, "last")), [
    "py:<module>",
    "py:outer",
    "py:callback",
    "time_sleep",
    "clock_nanosleep",
  ]);
});

Deno.test("mergeStacks() lets one eval call run several frames (3.11+)", () => {
  const native = classifyFrames(
    [c("main"), c(EVAL), c("call_c"), c(EVAL), c("time_sleep")],
    RULES_310,
  );
  const thread = {
    frames: [py("<module>", true), py("f", false), py("g", false), py("cb", true), py("h", false)],
    native,
  };
  assert.deepEqual(names(mergeStacks(thread, "python")), [
    "main",
    "py:<module>",
    "py:f",
    "py:g",
    "call_c",
    "py:cb",
    "py:h",
    "time_sleep",
  ]);
});

Deno.test("mergeStacks() shows both stacks after the marker when they do not line up", () => {
  const native = classifyFrames([c("main"), c(EVAL), c("time_sleep")], RULES_310);
  const thread = { frames: [py("<module>", true), py("f", true)], native };
  assert.equal(canMerge(thread), false);
  assert.deepEqual(names(mergeStacks(thread, "python")), [
    "UNMERGED",
    "py:<module>",
    "py:f",
    "main",
    EVAL,
    "time_sleep",
  ]);
  assert.deepEqual(names(mergeStacks(thread, "last")), [
    "UNMERGED",
    "py:<module>",
    "py:f",
    "time_sleep",
  ]);
  // The oldest Python frame must be an entry frame.
  const skewed = { frames: [py("a", false), py("b", true)], native };
  assert.equal(canMerge(skewed), false);
  // No native frames at all (unwinding failed).
  assert.equal(canMerge({ frames: [py("a", true)], native: [] }), false);
});

Deno.test("mergeStacks() prints every frame of a thread without Python", () => {
  const thread = {
    frames: [],
    native: classifyFrames([c("start_thread"), c("worker")], RULES_310),
  };
  assert.deepEqual(names(mergeStacks(thread, "all")), ["start_thread", "worker"]);
  assert.deepEqual(names(mergeStacks(thread, "last")), ["start_thread", "worker"]);
});

Deno.test("gilActivity() and isCollecting() read exact function names", () => {
  assert.equal(
    gilActivity([c("PyEval_RestoreThread"), c("take_gil", true)]),
    "Waiting for the GIL",
  );
  assert.equal(
    gilActivity([c("PyEval_SaveThread"), c("drop_gil.constprop.0")]),
    "Dropping the GIL",
  );
  assert.equal(gilActivity([c("take_gil_for_real")]), undefined);
  // 2.7: the GIL is a lock, taken by the interpreter; other locks are not the GIL.
  assert.equal(
    gilActivity([c("PyEval_RestoreThread"), c("PyThread_acquire_lock"), c("sem_wait")]),
    "Waiting for the GIL",
  );
  assert.equal(
    gilActivity([c("lock_PyThread_acquire_lock"), c("PyThread_acquire_lock")]),
    undefined,
  );
  const libpython = (f: NativeFrame) => f.library === "lib";
  assert.equal(isCollecting([c("gc_collect_main")], RULES_310, libpython), true);
  assert.equal(isCollecting([c("gc_collect_main.constprop.0", true)], RULES_310, libpython), true);
  assert.equal(isCollecting([c("collect")], RULES_310, libpython), false);
  assert.equal(isCollecting([c("gc_collect_mainly")], RULES_310, libpython), false);
  assert.equal(isCollecting([c("gc_collect_main")], RULES_310, () => false), false);
});

Deno.test("mergedOrder() gives indexes into frames and native; mergeStacks() follows thread.merged", () => {
  const thread = {
    frames: [py("a", true), py("b", false)],
    native: classifyFrames([c("main"), c(EVAL), c("PyObject_Vectorcall"), c("sleep")], RULES_310),
  };
  const order = mergedOrder(thread, "python");
  assert.deepEqual(order, [
    { kind: "native", index: 0 },
    { kind: "python", index: 0 },
    { kind: "python", index: 1 },
    { kind: "native", index: 3 },
  ]);
  assert.deepEqual(names(mergeStacks({ ...thread, merged: order }, "python")), [
    "main",
    "py:a",
    "py:b",
    "sleep",
  ]);
  // The order recorded in the model wins over the mode given to the renderer.
  assert.deepEqual(names(mergeStacks({ ...thread, merged: order.slice(0, 1) }, "last")), ["main"]);
});
