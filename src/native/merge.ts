/**
 * One sequence of calls from a thread's native and Python frames: every
 * call of the evaluation loop (a native frame with role `eval`) is replaced
 * by the Python frames it was running. Pure, over the model.
 *
 * The two stacks line up only when the number of evaluation-loop calls
 * equals the number of entry frames (`PyFrame.isEntry`: the first Python
 * frame each C-level call of the loop ran) and the oldest Python frame is an
 * entry frame. Otherwise both stacks are given in full, after an
 * {@linkcode UNMERGED} marker: never a guessed interleaving.
 *
 * @module
 */

import type { MergedEntry, NativeFrame, PyFrame, PyThread } from "../model.ts";

/** Which native frames to show. */
export type NativeMode =
  /** Native frames around and between the Python frames (`--native`, `--native-all`). */
  | "python"
  | "all"
  /** Only the native frames after the last Python frame (`--native-last`). */
  | "last";

/** One line of a merged stack, oldest first. */
export type StackEntry =
  | { kind: "python"; frame: PyFrame }
  | { kind: "native"; frame: NativeFrame }
  /** The two stacks could not be lined up; both follow, Python first. */
  | { kind: "unmerged" };

/** The line PyStack prints when it cannot line the stacks up. */
export const UNMERGED =
  "* - Unable to merge native stack due to insufficient native information - *";

/** Whether `thread`'s native and Python frames line up (see the module doc). */
export function canMerge(thread: Pick<PyThread, "frames" | "native">): boolean {
  const native = thread.native ?? [];
  const calls = native.filter((f) => f.role === "eval").length;
  const entries = thread.frames.filter((f) => f.isEntry).length;
  if (calls !== entries) return false;
  return thread.frames.length === 0 || thread.frames[0]!.isEntry;
}

/**
 * The frames of `thread` as one stack, oldest first, as indexes into its
 * `frames` and `native` (what `PyThread.merged` holds). Plumbing frames are
 * left out of merged stacks; in `last` mode only the native frames after the
 * last evaluation-loop call are kept (all of them when there is none).
 */
export function mergedOrder(
  thread: Pick<PyThread, "frames" | "native">,
  mode: NativeMode,
): MergedEntry[] {
  const native = thread.native ?? [];
  const python = thread.frames;
  if (!canMerge(thread)) {
    const lastEval = native.findLastIndex((f) => f.role === "eval");
    const from = mode === "last" ? lastEval + 1 : 0;
    return [
      { kind: "unmerged" },
      ...python.map((_, index) => ({ kind: "python" as const, index })),
      ...native.slice(from).map((_, i) => ({ kind: "native" as const, index: from + i })),
    ];
  }
  const out: MergedEntry[] = [];
  let pending: MergedEntry[] = [];
  let next = 0; // the next Python frame to show
  native.forEach((frame, index) => {
    if (frame.role === "eval") {
      if (mode === "last") pending = [];
      // This call runs the entry frame at `next` and the frames it called without a C call.
      do {
        out.push({ kind: "python", index: next });
        next++;
      } while (next < python.length && !python[next]!.isEntry);
    } else if (frame.role !== "plumbing") {
      (mode === "last" ? pending : out).push({ kind: "native", index });
    }
  });
  out.push(...pending);
  return out;
}

/**
 * {@linkcode mergedOrder} with the frames themselves: `thread.merged` when
 * it is set (the order computed when the stacks were read), else computed.
 */
export function mergeStacks(
  thread: Pick<PyThread, "frames" | "native" | "merged">,
  mode: NativeMode,
): StackEntry[] {
  const native = thread.native ?? [];
  return (thread.merged ?? mergedOrder(thread, mode)).map((e): StackEntry =>
    e.kind === "unmerged"
      ? e
      : e.kind === "python"
      ? { kind: "python", frame: thread.frames[e.index]! }
      : { kind: "native", frame: native[e.index]! }
  );
}
