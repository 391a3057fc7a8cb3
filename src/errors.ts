/**
 * Errors the CLI turns into one line and a documented exit code.
 *
 * Each class carries `exitCode` and a `hint` (what to do). Messages say what
 * failed and why, in sentence case without a trailing period.
 *
 * @module
 */

import { formatSeconds } from "./deadline.ts";
/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  processNotFound: 3,
  permissionDenied: 4,
  notPython: 5,
  unsupportedVersion: 6,
  targetExited: 7,
  badCore: 8,
  nativeUnavailable: 9,
  timedOut: 10,
  interrupted: 130,
} as const;

/**
 * Base of every error pystack reports to the user.
 *
 * @example What a failure carries
 * ```ts
 * import { inspectProcess, ProcessNotFoundError, PystackError } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * try {
 *   inspectProcess(0x3fffffff);
 *   assert.fail("no such process");
 * } catch (e) {
 *   assert.ok(e instanceof ProcessNotFoundError && e instanceof PystackError);
 *   assert.equal(e.exitCode, 3);
 *   assert.match(e.hint ?? "", /pgrep/);
 * }
 * ```
 */
export class PystackError extends Error {
  readonly exitCode: number = ExitCode.failure;
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** The command line is wrong. */
export class UsageError extends PystackError {
  override readonly exitCode: number = ExitCode.usage;
}

/** No process has the given PID. */
export class ProcessNotFoundError extends PystackError {
  override readonly exitCode: number = ExitCode.processNotFound;
  constructor(pid: number) {
    super(
      `Cannot inspect process ${pid}: No such process`,
      "check the PID with 'ps' or 'pgrep -a python' where pystack runs: a process in another " +
        "PID namespace (outside pystack's container) cannot be seen",
    );
  }
}

/** ptrace or memory access was refused by the kernel. */
export class PermissionDeniedError extends PystackError {
  override readonly exitCode: number = ExitCode.permissionDenied;
  constructor(pid: number, what: string) {
    super(
      `Cannot inspect process ${pid}: ${what}: Operation not permitted`,
      "run pystack as the target's user or as root, or grant CAP_SYS_PTRACE " +
        "(in a container: --cap-add=SYS_PTRACE); with Yama, " +
        "/proc/sys/kernel/yama/ptrace_scope must be 0 for non-root tracers; " +
        "another debugger may already be attached",
    );
  }
}

/** The target is not a Python process, or no interpreter could be found in it. */
export class NotPythonError extends PystackError {
  override readonly exitCode: number = ExitCode.notPython;
}

/**
 * A CPython was found but no interpreter state: the same failure for the user (code
 * `not_python`), but one a live target can cause by changing while it is read (worth a
 * second search), unlike a process that runs no CPython at all.
 */
export class NoInterpreterStateError extends NotPythonError {}

/** The target runs a Python this pystack cannot read. */
export class UnsupportedVersionError extends PystackError {
  override readonly exitCode: number = ExitCode.unsupportedVersion;
}

/**
 * The live target exited while pystack was reading it, or (with `reason`) had exited before:
 * a zombie its parent has not reaped.
 */
export class TargetExitedError extends PystackError {
  override readonly exitCode: number = ExitCode.targetExited;
  constructor(pid: number, reason?: string) {
    super(
      reason === undefined
        ? `Cannot finish reading process ${pid}: it exited while being read`
        : `Cannot inspect process ${pid}: ${reason}`,
      "nothing to inspect any more; if it crashed, inspect its core file with 'pystack core'",
    );
  }
}

/** Why a zombie cannot be read, as `--subprocesses` and `remote` say it. */
export const ZOMBIE_REASON = "it has exited (a zombie its parent has not reaped)";

/** A native mode was asked for, but elfutils' libdw cannot be loaded. */
export class NativeUnavailableError extends PystackError {
  override readonly exitCode: number = ExitCode.nativeUnavailable;
  constructor(reason: string) {
    super(
      `Cannot show native frames: elfutils' libdw cannot be loaded (${reason})`,
      "install libdw1 (Debian/Ubuntu: apt-get install libdw1; Fedora: dnf install elfutils-libs), " +
        "or run without --native, --native-all or --native-last",
    );
  }
}

/**
 * `--timeout` ran out while pystack was stuck inside one read: nothing could be printed. (A
 * run cut between two reads prints what it read, with a marker, and exits with the same code.)
 */
export class TimedOutError extends PystackError {
  override readonly exitCode: number = ExitCode.timedOut;
  constructor(seconds: number) {
    super(
      `Timed out after ${formatSeconds(seconds)} s (--timeout) inside one step that could ` +
        "not be cut short: no stacks printed; pystack exits, which releases the target",
      "try again with a longer --timeout, or run with -v to see where the time goes",
    );
  }
}

/**
 * Kept for library callers that stop an inspection themselves. The CLI leaves SIGINT and
 * SIGTERM at their default action (see `src/cli/run.ts`).
 */
export class InterruptedError extends PystackError {
  override readonly exitCode: number = ExitCode.interrupted;
}

/** Rethrows errors that must end the run (target gone, permission); lets read failures through. */
export function rethrowFatal(e: unknown): void {
  if (e instanceof PystackError) throw e;
}
