/**
 * `--json` on the command line: errors as one JSON document on stdout.
 *
 * @module
 */

import { ClosedPipe, printLines } from "./output.ts";
import { renderJsonError } from "../render/json.ts";

/**
 * Prints `error` as `{ "error": … }` on stdout (for a run under `--json`: see
 * `wants_json.ts`); the exit code is the caller's.
 */
export function printJsonError(error: unknown): void {
  try {
    printLines(renderJsonError(error));
  } catch (e) {
    if (!(e instanceof ClosedPipe)) throw e;
  }
}
