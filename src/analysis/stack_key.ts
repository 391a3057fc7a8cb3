/**
 * Keys that say when two stacks are the same, for grouping and sampling.
 *
 * @module
 */

import type { PyFrame, PyThread } from "../model.ts";

/**
 * The identity of a Python stack: file, function and line of every frame,
 * oldest first. Two threads with equal keys run the same code at the same lines.
 */
export function pythonStackKey(frames: readonly PyFrame[]): string {
  return frames.map((f) => `${f.file}\u0000${f.function}\u0000${f.location.line}`).join("\n");
}

/** {@linkcode pythonStackKey} plus, when there are native frames, their symbols and objects. */
export function stackKey(thread: Pick<PyThread, "frames" | "native">): string {
  const python = pythonStackKey(thread.frames);
  if (thread.native === undefined) return python;
  const native = thread.native.map((f) =>
    `${f.symbol ?? f.objectAddress ?? f.address}\u0000${f.library ?? ""}`
  );
  return `${python}\n\u0001${native.join("\n")}`;
}
