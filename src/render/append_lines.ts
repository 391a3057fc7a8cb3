/**
 * Appending one array of output lines to another without a spread call.
 *
 * @module
 */

/**
 * Appends `more` to `lines`, one at a time, and returns `lines`.
 * `lines.push(...more)` passes every element as an argument: for a stack
 * tens of thousands of frames deep that overflows the call stack
 * ("Maximum call stack size exceeded").
 *
 * @example
 * ```ts
 * import { appendLines } from "./append_lines.ts";
 * import assert from "node:assert/strict";
 *
 * const lines = ["a"];
 * appendLines(lines, new Array<string>(500_000).fill("b"));
 * assert.equal(lines.length, 500_001);
 * ```
 */
export function appendLines(lines: string[], more: readonly string[]): string[] {
  for (const line of more) lines.push(line);
  return lines;
}
