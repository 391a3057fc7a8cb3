/**
 * Removes the `# @frame ...` comments that tests use to mark expected frames.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripFrameMarkers } from "./strip_markers.ts";
 * assert.equal(stripFrameMarkers("    f()  # @frame main:0 f\n"), "    f()\n");
 * ```
 *
 * @module
 */

/** `source` with every trailing `  # @frame ...` comment removed (lines keep their numbers). */
export function stripFrameMarkers(source: string): string {
  return source.replace(/[ \t]*# @frame [^\n]*/g, "");
}
