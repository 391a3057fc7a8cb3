/**
 * `--timeout`: the marker line of a run cut by the bound.
 *
 * @module
 */

import type { TimedOut } from "../model.ts";
import { formatSeconds } from "../deadline.ts";

/**
 * The marker line of a cut run, in the style of the other `(!)` lines.
 *
 * @example
 * ```ts
 * import { timedOutLine } from "./timed_out_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   timedOutLine({
 *     seconds: 1,
 *     stage: "threads",
 *     threadsShown: 2,
 *     threadsFound: 5,
 *     interpretersSkipped: false,
 *   }),
 *   "(!) Timed out after 1.0 s (--timeout) while reading threads: 2 of 5 threads shown",
 * );
 * ```
 */
export function timedOutLine(t: TimedOut): string {
  return `(!) ${timedOutText(t)}`;
}

/** {@linkcode timedOutLine} without its `(!)` (what stderr says after `pystack: `). */
export function timedOutText(t: TimedOut): string {
  const found = `${t.interpretersSkipped ? "at least " : ""}${t.threadsFound}`;
  const rest = ["interpreters", "threads", "frames"].includes(t.stage)
    ? ""
    : `; ${t.stage} and what comes after it are incomplete`;
  return `Timed out after ${formatSeconds(t.seconds)} s (--timeout) while reading ` +
    `${t.stage}: ${t.threadsShown} of ${found} threads shown${rest}`;
}
