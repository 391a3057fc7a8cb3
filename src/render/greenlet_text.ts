/**
 * Text blocks of suspended greenlets, printed after their thread's block.
 *
 * @module
 */

import type { GreenletStack, PyThread } from "../model.ts";
import { appendLines } from "./append_lines.ts";

/**
 * The header line of a suspended greenlet:
 * `Greenlet 0x7f00 (suspended) in thread 7, the main greenlet (most recent call last):`, or
 * `…, gevent._gevent_cgreenlet.Greenlet spawned for serve (most recent call last):`.
 */
export function greenletHeader(stack: GreenletStack): string {
  const what = stack.role === "main"
    ? "the main greenlet"
    : stack.role === "hub"
    ? "gevent's hub"
    : stack.spawnFunction === undefined
    ? stack.typeName
    : `${stack.typeName} spawned for ${stack.spawnFunction}`;
  // The thread is inferred from the stack addresses the greenlet saved (greenlets.ts).
  const where = stack.tid === 0 ? "in an unknown thread" : `in thread ${stack.tid} (inferred)`;
  return `Greenlet 0x${stack.address.toString(16)} (suspended) ${where}, ${what} ` +
    "(most recent call last):";
}

/** Lines of one greenlet, its frames drawn by `frameLines`. */
export function greenletLines(
  stack: GreenletStack,
  frameLines: (frame: GreenletStack["frames"][number]) => string[],
): string[] {
  const lines = [greenletHeader(stack)];
  for (const frame of stack.frames) appendLines(lines, frameLines(frame));
  if (stack.partial !== undefined) lines.push(`    (!) Stack may be incomplete: ${stack.partial}`);
  return lines;
}

/**
 * The greenlets to print after `thread` (those of its tid), or, with
 * `thread` undefined, those of no listed thread (printed after every thread).
 */
export function greenletsAfter(
  greenlets: readonly GreenletStack[] | undefined,
  threads: readonly PyThread[],
  thread: PyThread | undefined,
): GreenletStack[] {
  if (greenlets === undefined) return [];
  if (thread !== undefined) return greenlets.filter((g) => g.tid === thread.tid && g.tid !== 0);
  return greenlets.filter((g) => g.tid === 0 || !threads.some((t) => t.tid === g.tid));
}
