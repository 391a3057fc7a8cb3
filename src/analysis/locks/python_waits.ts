/**
 * What a blocked thread waits for, told by its newest Python frames alone:
 * the standard library's waits (`Thread.join`, `Condition.wait` and what is
 * built on it, the import lock, `Future.result`). Pure: frames in, a
 * description out; the caller reads the objects the frames point at.
 *
 * @module
 */

import type { PyFrame } from "../../model.ts";

/** How many of the newest frames are looked at. */
const DEPTH = 4;

/** A wait recognised from frames; `frame` is the index (in `frames`) whose `self` names it. */
export type PythonWait =
  | { kind: "thread_join"; frame: number }
  | { kind: "import_lock"; frame: number }
  | { kind: "future"; frame: number }
  | { kind: "condition"; what: string; frame: number };

function base(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1);
}

/** Whether `frame` runs one of `functions` in `file` (2.7's `Queue.py` counts as `queue.py`). */
function isIn(frame: PyFrame | undefined, file: string, ...functions: string[]): boolean {
  if (frame === undefined || !functions.includes(frame.function)) return false;
  const name = base(frame.file);
  return name === file || file === "queue.py" && name === "Queue.py";
}

/**
 * Whether the newest of `frames` is `threading.Condition.wait()`: a thread blocked there has
 * let go of the condition's lock (it waits for a notification, or to take the lock back).
 */
export function inConditionWait(frames: readonly PyFrame[]): boolean {
  return isIn(frames[frames.length - 1], "threading.py", "wait");
}

/**
 * The standard-library wait at the top of `frames` (oldest first), if any.
 *
 * @example A consumer blocked in `queue.Queue.get()`
 * ```ts
 * import assert from "node:assert/strict";
 * import { pythonWaitOf } from "./python_waits.ts";
 * const f = (file: string, fn: string) => ({
 *   file, function: fn, isEntry: false, frameAddress: 0n, codeAddress: 0n,
 *   location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
 * });
 * const frames = [f("/app/c.py", "consume"), f("/usr/lib/python3.12/queue.py", "get"),
 *   f("/usr/lib/python3.12/threading.py", "wait")];
 * assert.deepEqual(pythonWaitOf(frames), {
 *   kind: "condition", what: "queue.Queue.get() (waiting for an item)", frame: 1,
 * });
 * ```
 */
export function pythonWaitOf(frames: readonly PyFrame[]): PythonWait | undefined {
  const n = frames.length;
  for (let i = n - 1; i >= Math.max(0, n - DEPTH); i--) {
    const f = frames[i]!;
    if (isIn(f, "threading.py", "join")) return { kind: "thread_join", frame: i };
    if (base(f.file) === "<frozen importlib._bootstrap>" && f.function === "acquire") {
      return { kind: "import_lock", frame: i };
    }
  }
  const top = frames[n - 1];
  if (!isIn(top, "threading.py", "wait", "wait_for")) return undefined;
  // The callers of Condition.wait() say what is waited for.
  for (let i = n - 2; i >= Math.max(0, n - DEPTH); i--) {
    const f = frames[i]!;
    if (isIn(f, "threading.py", "wait", "wait_for")) {
      if (f.function === "wait") return { kind: "condition", what: "Event.wait()", frame: i };
      continue;
    }
    if (isIn(f, "queue.py", "get")) {
      return { kind: "condition", what: "queue.Queue.get() (waiting for an item)", frame: i };
    }
    if (isIn(f, "queue.py", "put")) {
      return { kind: "condition", what: "queue.Queue.put() (waiting for room)", frame: i };
    }
    if (isIn(f, "_base.py", "result", "exception") && f.file.includes("concurrent")) {
      return { kind: "future", frame: i };
    }
    if (isIn(f, "threading.py", "acquire")) {
      return { kind: "condition", what: "Semaphore.acquire()", frame: i };
    }
    if (isIn(f, "threading.py", "_wait")) {
      return { kind: "condition", what: "Barrier.wait()", frame: i };
    }
    break;
  }
  return { kind: "condition", what: "Condition.wait() (waiting for notify())", frame: n - 1 };
}
