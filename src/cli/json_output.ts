/**
 * `--json` on the command line: errors as one JSON document on stdout.
 *
 * @module
 */

import { ClosedPipe, printLines } from "./output.ts";
import { renderJsonError } from "../render/json.ts";

/**
 * Whether `argv` asks for JSON (looked at directly, so that usage errors are JSON too):
 * `--json`, or `--format json`.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  const args = end < 0 ? argv : argv.slice(0, end);
  // `watch --format json` (or `--format=json`) is `--json` too.
  return args.includes("--json") || args.includes("--format=json") ||
    args.some((arg, i) => arg === "--format" && args[i + 1] === "json");
}

/** Under `--json`, prints `error` as `{ "error": … }` on stdout; the exit code is the caller's. */
export function printJsonError(argv: readonly string[], error: unknown): void {
  if (!wantsJson(argv)) return;
  try {
    printLines(renderJsonError(error));
  } catch (e) {
    if (!(e instanceof ClosedPipe)) throw e;
  }
}
