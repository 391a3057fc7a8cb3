/**
 * Linux x86-64 signal names.
 *
 * @module
 */

const NAMES: Readonly<Record<number, string>> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

/**
 * The name of signal `n` ("SIGSEGV"), or "SIGRTMIN+k" / "signal n".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signalName } from "./signals.ts";
 * assert.equal(signalName(11), "SIGSEGV");
 * assert.equal(signalName(36), "SIGRTMIN+2");
 * ```
 */
export function signalName(n: number): string {
  const name = NAMES[n];
  if (name !== undefined) return name;
  if (n >= 34 && n <= 64) return `SIGRTMIN+${n - 34}`;
  return `signal ${n}`;
}
