/**
 * `--native`, `--native-all`, `--native-last`: one setting written by three
 * flags. As in PyStack, they may be combined and the last one given wins
 * (`--native-all --native` means `--native`).
 *
 * @module
 */

import type { NativeMode } from "../native/merge.ts";

/** The flags, for `parseOptions`. */
export const NATIVE_OPTIONS = {
  native: { type: "boolean" },
  "native-all": { type: "boolean" },
  "native-last": { type: "boolean" },
} as const;

/** The flag names. */
export const NATIVE_FLAGS = ["native", "native-all", "native-last"] as const;

const MODES: Record<string, NativeMode> = {
  "--native": "python",
  "--native-all": "all",
  "--native-last": "last",
};

/**
 * The native mode `argv` asks for: that of the last of the three flags
 * before `--`, or undefined when none is given.
 *
 * @example
 * ```ts
 * nativeModeOf(["remote", "1", "--native-all", "--native-last"]); // "last"
 * ```
 */
export function nativeModeOf(argv: readonly string[]): NativeMode | undefined {
  let mode: NativeMode | undefined;
  for (const arg of argv) {
    if (arg === "--") break;
    mode = MODES[arg] ?? mode;
  }
  return mode;
}
