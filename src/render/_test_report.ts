/**
 * For renderer tests: a live report of `threads` (pid 7, Python 3.12.1), the
 * rest of its fields at their plainest.
 *
 * @module
 */

import type { PyThread, StackReport } from "../model.ts";

/** A report of `threads` with nothing else in it. */
export function reportOf(threads: PyThread[]): StackReport {
  return {
    pid: 7,
    pythonVersion: "3.12.1",
    foundBy: "symbols",
    nonBlocking: false,
    warnings: [],
    threads,
  };
}
