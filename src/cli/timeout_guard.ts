/**
 * `--timeout SECONDS`: the bound of one run, in two layers. The
 * {@linkcode Deadline} is checked between reads (per interpreter, thread,
 * step, native thread, sample): a run cut there releases the target as
 * always, prints what it read with a marker and exits with
 * `ExitCode.timedOut`. The backstop (`timeout_backstop.ts`) ends the process
 * a little after the bound when the main thread is stuck inside one call; it
 * stops once the reading is done ({@linkcode Deadline.readingDone}), before
 * the output.
 *
 * The bound counts from the start of pystack, so that start-up counts too.
 *
 * @module
 */

import { Deadline } from "../deadline.ts";
import { ExitCode, TimedOutError } from "../errors.ts";
import type { TimedOut } from "../model.ts";
import { renderJsonError } from "../render/json.ts";
import { timedOutText } from "../render/timed_out_text.ts";
import { wantsJson } from "./wants_json.ts";
import { printError } from "./output.ts";
import { startBackstop } from "./timeout_backstop.ts";
import { sleepSync } from "../sleep_sync.ts";

/**
 * How long after the bound the backstop ends a run the checks could not cut: the time a cut
 * run takes to release the target and print.
 */
export const BACKSTOP_GRACE_MS = 500;

/** The bound of one run (dispose of it when the run is over). */
export interface TimeoutGuard extends Disposable {
  readonly deadline: Deadline;
  /**
   * After the output: says on stderr when `report` was cut, and returns the exit code
   * (`ExitCode.timedOut` when it was, `ExitCode.ok` when not).
   */
  finish(report: { timedOut?: TimedOut }): number;
}

/**
 * Starts the bound of a run given `--timeout seconds`. Test switches: with
 * `_PYSTACK_TEST_SLOW_AFTER_THREADS=N`, every thread after the first N waits
 * for the bound before it is read; with `_PYSTACK_TEST_SLOW_STAGE=NAME`
 * (`locals`, `native frames`, …), that step waits for it. The run is then cut
 * there, whatever the machine's speed.
 */
export function timeoutGuard(seconds: number, argv: readonly string[]): TimeoutGuard {
  const fastThreads = Number(Deno.env.get("_PYSTACK_TEST_SLOW_AFTER_THREADS") ?? NaN);
  const slowStage = Deno.env.get("_PYSTACK_TEST_SLOW_STAGE");
  let threadChecks = 0;
  const slow = (stage: string) =>
    stage === slowStage || (stage === "threads" && threadChecks++ >= fastThreads);
  const error = new TimedOutError(seconds);
  const backstop = startBackstop({
    atEpochMs: performance.timeOrigin + seconds * 1000 + BACKSTOP_GRACE_MS,
    code: error.exitCode,
    stderrLine: `pystack: ${error.message}; ${error.hint}`,
    ...(wantsJson(argv) ? { stdoutLines: renderJsonError(error) } : {}),
    onUnavailable: (reason) =>
      printError(
        `pystack: warning: --timeout cannot end a run stuck inside one read (${reason}); ` +
          "the bound holds between reads only",
      ),
  });
  const deadline: Deadline = new Deadline(seconds, {
    startMs: 0,
    // The report is complete: printing it is never cut (the target was released already).
    onReadingDone: () => backstop[Symbol.dispose](),
    ...((Number.isInteger(fastThreads) && fastThreads >= 0) || slowStage !== undefined
      ? {
        beforeCheck: (stage: string) => {
          if (slow(stage)) sleepSync(deadline.remainingMs() + 1);
        },
      }
      : {}),
  });
  return {
    deadline,
    finish(report) {
      if (report.timedOut === undefined) return ExitCode.ok;
      printError(`pystack: ${timedOutText(report.timedOut)}`);
      return ExitCode.timedOut;
    },
    [Symbol.dispose]: () => backstop[Symbol.dispose](),
  };
}
