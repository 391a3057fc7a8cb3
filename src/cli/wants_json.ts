/**
 * Whether a command line asks for JSON, read before it is parsed (so that
 * usage errors are JSON too).
 *
 * @module
 */

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
