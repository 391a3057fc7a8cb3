/**
 * One OS thread can hold a thread state in several interpreters: a thread of
 * the main interpreter that runs a subinterpreter (nested, several deep) has
 * one in each. The walk reads them per interpreter; this turns them into one
 * thread per OS thread, its parts outermost first. Pure, over the model.
 *
 * @module
 */

import type { InterpreterPart, PyThread } from "../model.ts";

/** Outermost part first: see `PythonRuntime.stackAnchor`. */
function outermostFirst(
  a: { thread: PyThread; anchor: bigint },
  b: { thread: PyThread; anchor: bigint },
): number {
  if (a.anchor !== 0n && b.anchor !== 0n) {
    return a.anchor > b.anchor ? -1 : a.anchor < b.anchor ? 1 : 0;
  }
  if (a.anchor !== 0n) return -1;
  if (b.anchor !== 0n) return 1;
  const framesA = a.thread.frames.length > 0 ? 0 : 1;
  const framesB = b.thread.frames.length > 0 ? 0 : 1;
  return framesA - framesB || a.thread.interpreterId - b.thread.interpreterId;
}

/** True, false, or undefined when any part's value is unknown and none is true. */
function anyOf(values: (boolean | undefined)[]): boolean | undefined {
  if (values.includes(true)) return true;
  return values.includes(undefined) ? undefined : false;
}

function label(id: number): string {
  return id === 0 ? "in the main interpreter" : `in interpreter ${id}`;
}

/**
 * Joins the thread states of one OS thread (same `tid`, not 0) into one
 * {@linkcode PyThread} with `interpreters` set, its parts ordered outermost
 * first by `anchors` (parallel to `threads`; 0n when unknown: those parts
 * come after, those with frames first, then by interpreter id). Threads are
 * kept in the order of their last thread state in `threads` (the main
 * interpreter is walked last, so its threads keep their order). A thread with
 * one thread state is returned as it is.
 *
 * @example A thread that runs a subinterpreter
 * ```ts
 * import { combineInterpreters } from "./combine_interpreters.ts";
 * import type { PyThread } from "../model.ts";
 * import assert from "node:assert/strict";
 *
 * const state = (interpreterId: number, fn: string): PyThread => ({
 *   tid: 7, threadStateAddress: BigInt(interpreterId + 1), interpreterId,
 *   holdsGil: false, gcCollecting: false,
 *   frames: [{ file: "a.py", function: fn, isEntry: true, frameAddress: 1n, codeAddress: 2n,
 *     location: { line: 1, endLine: 1, column: -1, endColumn: -1 } }],
 * });
 * const [thread] = combineInterpreters([state(1, "inner"), state(0, "outer")], [0x100n, 0x200n]);
 * assert.deepEqual(thread!.frames.map((f) => f.function), ["outer", "inner"]);
 * assert.deepEqual(thread!.interpreters!.map((p) => p.interpreterId), [0, 1]);
 * ```
 */
export function combineInterpreters(
  threads: readonly PyThread[],
  anchors: readonly bigint[],
): PyThread[] {
  const groups = new Map<number, { thread: PyThread; anchor: bigint }[]>();
  const last = new Map<number, number>();
  threads.forEach((thread, i) => {
    if (thread.tid === 0) return;
    const group = groups.get(thread.tid) ?? [];
    group.push({ thread, anchor: anchors[i] ?? 0n });
    groups.set(thread.tid, group);
    last.set(thread.tid, i);
  });
  const out: PyThread[] = [];
  threads.forEach((thread, i) => {
    if (thread.tid === 0) {
      out.push(thread);
      return;
    }
    if (last.get(thread.tid) !== i) return;
    const group = groups.get(thread.tid)!;
    if (group.length === 1) {
      out.push(thread);
      return;
    }
    const parts = [...group].sort(outermostFirst).map((g) => g.thread);
    out.push(joined(parts));
  });
  return out;
}

function joined(parts: PyThread[]): PyThread {
  const outer = parts[0]!;
  const interpreters = parts.map((t): InterpreterPart => {
    const part: InterpreterPart = {
      interpreterId: t.interpreterId,
      threadStateAddress: t.threadStateAddress,
      holdsGil: t.holdsGil,
      gcCollecting: t.gcCollecting,
      frameCount: t.frames.length,
    };
    if (t.partial !== undefined) part.partial = t.partial;
    if (t.threadState !== undefined) part.threadState = t.threadState;
    return part;
  });
  const thread: PyThread = {
    ...outer,
    frames: parts.flatMap((t) => t.frames),
    holdsGil: anyOf(parts.map((t) => t.holdsGil)),
    gcCollecting: anyOf(parts.map((t) => t.gcCollecting)),
    interpreters,
  };
  const partial = parts.filter((t) => t.partial !== undefined)
    .map((t) => `${label(t.interpreterId)}: ${t.partial}`);
  if (partial.length > 0) thread.partial = partial.join("; ");
  else delete thread.partial;
  const named = parts.find((t) => t.name !== undefined);
  if (named?.name !== undefined) thread.name = named.name;
  // What the thread handles now: the innermost part's exception.
  const handling = parts.findLast((t) => t.exception !== undefined);
  if (handling?.exception !== undefined) thread.exception = handling.exception;
  else delete thread.exception;
  const pythonNamed = parts.find((t) => t.pythonName !== undefined);
  if (pythonNamed?.pythonName !== undefined) thread.pythonName = pythonNamed.pythonName;
  return thread;
}
