/**
 * `--native` for a thread that runs a greenlet other than its main one: its
 * C stack holds, below the running greenlet's frames, those of the greenlets
 * it was started from (their Python frames are theirs, not the thread's), so
 * the native stack is cut where greenlet starts the running greenlet.
 *
 * @module
 */

import type { NativeFrame, PyThread } from "../../model.ts";
import { mergedOrder, type NativeMode } from "../../native/merge.ts";

/**
 * Where greenlet starts a greenlet's `run` (greenlet 2.x, 3.x: a C++ method;
 * 1.x: a C function), demangled.
 */
const BOOTSTRAP = /^(greenlet::UserGreenlet::inner_bootstrap|g_initialstub)\b/;

/**
 * The native frames (outermost first) of the greenlet a thread runs: from
 * greenlet's newest bootstrap frame on; all of them when there is none (the
 * thread runs its main greenlet, or greenlet's functions have no names).
 *
 * @example
 * ```ts
 * import { runningGreenletNative } from "./native_slice.ts";
 * import assert from "node:assert/strict";
 *
 * const frame = (symbol: string) => ({ address: 0n, symbol, inlined: false });
 * const stack = [frame("main"), frame("g_switch"), frame("g_initialstub"), frame("run")];
 * assert.deepEqual(runningGreenletNative(stack).map((f) => f.symbol), ["g_initialstub", "run"]);
 * ```
 */
export function runningGreenletNative(native: readonly NativeFrame[]): NativeFrame[] {
  for (let i = native.length - 1; i > 0; i--) {
    if (BOOTSTRAP.test(native[i]!.symbol ?? "")) return native.slice(i);
  }
  return [...native];
}

/**
 * Cuts the native stack of each of `threads` to its running greenlet's
 * (see {@linkcode runningGreenletNative}), and orders it again with its
 * Python frames (`merged`) where it changed.
 */
export function sliceRunningGreenlets(threads: readonly PyThread[], mode: NativeMode): void {
  for (const thread of threads) {
    if (thread.native === undefined) continue;
    const native = runningGreenletNative(thread.native);
    if (native.length === thread.native.length) continue;
    thread.native = native;
    thread.merged = mergedOrder(thread, mode);
  }
}
