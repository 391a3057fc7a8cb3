/**
 * What native frames mean to the interpreter: which are calls of the
 * evaluation loop, which are call plumbing, which thread is collecting
 * garbage or waiting for the GIL. Pure functions over the model.
 *
 * @module
 */

import type { NativeRules } from "../cpython/runtime.ts";
import type { NativeFrame } from "../model.ts";

/**
 * Interpreter call machinery between two Python frames (PyStack's list):
 * hidden when native and Python frames are merged.
 */
const PLUMBING_PREFIXES = [
  "PyEval",
  "_PyEval",
  "_Py",
  "PyObject_Call",
  "call_function",
  "classmethoddescr_call",
  "cmpwrapper_call",
  "fast_function",
  "function_call",
  "instance_call",
  "instancemethod_call",
  "methoddescr_call",
  "proxy_call",
  "slot_tp_call",
  "type_call",
  "weakref_call",
  "wrap_call",
  "wrapper_call",
  "wrapperdescr_call",
  "do_call_core",
];

/** `name` is `fn` or a compiler clone of it (`fn.cold`, `fn.constprop.0`, `fn.isra.0`, `fn.lto_priv.0`). */
export function isFunction(name: string | undefined, fn: string): boolean {
  return name !== undefined && (name === fn || name.startsWith(`${fn}.`));
}

/** The role of one native frame under `rules` (see `NativeFrame.role`). */
export function roleOf(frame: NativeFrame, rules: NativeRules): NativeFrame["role"] {
  const name = frame.symbol;
  if (name === undefined) return undefined;
  if (!frame.inlined) {
    if (rules.evalFunctions.some((fn) => isFunction(name, fn))) return "eval";
    if (rules.evalPrefixes.some((prefix) => name.startsWith(prefix))) return "eval";
  }
  if (PLUMBING_PREFIXES.some((prefix) => name.startsWith(prefix))) return "plumbing";
  if (rules.hideVectorcall && name.toLowerCase().includes("vectorcall")) return "plumbing";
  return undefined;
}

/** Sets `role` on every frame of `frames` (in place) and returns them. */
export function classifyFrames(frames: NativeFrame[], rules: NativeRules): NativeFrame[] {
  for (const frame of frames) {
    const role = roleOf(frame, rules);
    if (role === undefined) delete frame.role;
    else frame.role = role;
  }
  return frames;
}

/**
 * Whether the collector runs on this stack: one of its main functions (inlined
 * or not) is a frame of the interpreter's own object (`inInterpreter`), so
 * that a `collect` function of some other library does not count.
 */
export function isCollecting(
  frames: readonly NativeFrame[],
  rules: NativeRules,
  inInterpreter: (frame: NativeFrame) => boolean,
): boolean {
  return frames.some((f) =>
    rules.gcFunctions.some((fn) => isFunction(f.symbol, fn)) && inInterpreter(f)
  );
}

/**
 * Python 2.7's GIL is a plain lock, taken by `PyThread_acquire_lock` called straight from
 * one of these (3.x has `take_gil`); releasing it never blocks.
 */
const PY2_GIL_TAKERS = [
  "PyEval_RestoreThread",
  "PyEval_AcquireThread",
  "PyEval_AcquireLock",
  "PyEval_EvalFrameEx",
];

/**
 * `Waiting for the GIL` (in `take_gil`, or 2.7's `PyThread_acquire_lock` called by
 * the interpreter to take the GIL) or `Dropping the GIL` (in `drop_gil`), inlined
 * copies included; undefined for neither. The innermost of the two wins.
 */
export function gilActivity(
  frames: readonly NativeFrame[],
): "Waiting for the GIL" | "Dropping the GIL" | undefined {
  for (let i = frames.length - 1; i >= 0; i--) {
    const name = frames[i]!.symbol;
    if (isFunction(name, "take_gil")) return "Waiting for the GIL";
    if (isFunction(name, "drop_gil")) return "Dropping the GIL";
    if (
      isFunction(name, "PyThread_acquire_lock") &&
      PY2_GIL_TAKERS.some((fn) => isFunction(frames[i - 1]?.symbol, fn))
    ) {
      return "Waiting for the GIL";
    }
  }
  return undefined;
}
