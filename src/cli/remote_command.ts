/**
 * `pystack remote`: inspect a live process, then print text or JSON. Loaded
 * by `run.ts` only for `remote` and `demo`.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { sourceReader } from "./source_lines.ts";
import { inspectProcessAsync } from "../inspect_process.ts";
import { liveTask, targetPath } from "../process/tasks.ts";
import { remoteTree } from "./tree.ts";
import { useColor } from "./use_color.ts";
import type { TimeoutGuard } from "./timeout_guard.ts";
import { inspectOptions, logLine, print } from "./inspect_commands.ts";
import { sleepSync } from "../sleep_sync.ts";
import { onProcessOf } from "./task_pid.ts";

/** Runs `pystack remote` (and the demo's inspection); returns the exit code. */
export async function remote(
  command: Extract<Command, { kind: "remote" }>,
  guard: TimeoutGuard | undefined,
): Promise<number> {
  if (command.subprocesses) {
    return await remoteTree(onProcessOf(command), useColor(command.noColor), guard?.deadline);
  }
  const sleepMs = Number(Deno.env.get("_PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS") ?? 0);
  const heldFile = Deno.env.get("_PYSTACK_TEST_HELD_FILE");
  // SIGINT and SIGTERM keep their default action on purpose: pystack dies at once, and the
  // kernel detaches every thread it holds as the tracer exits (each resumes, and a signal
  // caught in a signal-delivery stop is still delivered). Catching them instead could only
  // act once the synchronous walk is over, and Deno delivers a caught signal to JavaScript
  // late enough that a run could finish as if it had never been interrupted.
  const report = await inspectProcessAsync(command.pid, {
    ...inspectOptions(command, guard),
    block: command.block,
    ...(command.verbose > 1 ? { debug: logLine } : {}),
    ...(sleepMs > 0 ? { onPaused: () => holdForTest(sleepMs, heldFile) } : {}),
  });
  const via = liveTask(report.pid) ?? report.pid;
  const sourceLine = sourceReader((file) => targetPath(via, file));
  return await print(report, command, sourceLine, [], guard);
}

/** The test switches' hold: create `heldFile` (when given), then sleep `ms`. */
function holdForTest(ms: number, heldFile: string | undefined): void {
  if (heldFile !== undefined) Deno.writeTextFileSync(heldFile, "held");
  sleepSync(ms);
}
