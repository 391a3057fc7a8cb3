/**
 * `--json` on the command line: errors as one JSON document on stdout.
 *
 * @module
 */

import { ClosedPipe, printLines } from "./output.ts";
import { renderJsonError } from "../render/json.ts";
import { wantsJson } from "./wants_json.ts";

/** Under `--json`, prints `error` as `{ "error": … }` on stdout; the exit code is the caller's. */
export function printJsonError(argv: readonly string[], error: unknown): void {
  if (!wantsJson(argv)) return;
  try {
    printLines(renderJsonError(error));
  } catch (e) {
    if (!(e instanceof ClosedPipe)) throw e;
  }
}
