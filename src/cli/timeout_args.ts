/**
 * `--timeout SECONDS` on the command line (`remote`, `core`, `watch`).
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The option, in the form of the `OPTIONS` table of `args.ts`. */
export const TIMEOUT_OPTIONS = { timeout: { type: "string" } } as const;

/** Longest bound accepted: one day. */
const MAX_TIMEOUT_SECONDS = 86_400;

/**
 * The value of `--timeout`, in seconds: a positive decimal number (`1`, `0.5`,
 * `2.25`), at most one day. Throws {@linkcode UsageError} otherwise.
 *
 * @example
 * ```ts
 * import { parseTimeout } from "./timeout_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseTimeout("0.5"), 0.5);
 * assert.equal(parseTimeout("3"), 3);
 * assert.throws(() => parseTimeout("0"));
 * assert.throws(() => parseTimeout("5s"));
 * ```
 */
export function parseTimeout(text: string): number {
  const seconds = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0) || seconds > MAX_TIMEOUT_SECONDS) {
    throw new UsageError(
      `Invalid --timeout '${text}': expected a number of seconds greater than 0 and at most ` +
        `${MAX_TIMEOUT_SECONDS}`,
      "for example --timeout 2 or --timeout 0.5",
    );
  }
  return seconds;
}

/** `{ timeout }` when `--timeout` was given (parsed), else `{}`. */
export function timeoutOf(values: { timeout?: string | undefined }): { timeout?: number } {
  return values.timeout === undefined ? {} : { timeout: parseTimeout(values.timeout) };
}
