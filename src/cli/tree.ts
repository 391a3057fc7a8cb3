/**
 * `pystack remote PID --subprocesses`: the process and every descendant.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { printError, printLines } from "./output.ts";
import { sourceReader } from "./source_lines.ts";
import { ExitCode, PystackError } from "../errors.ts";
import { type Deadline, formatSeconds } from "../deadline.ts";
import { timedOutText } from "../render/timed_out_text.ts";
import { inspectProcessAsync } from "../inspect_process.ts";
import { inspectTree, type TreeOutcome } from "../analysis/process_tree.ts";
import { renderTreeText } from "../render/tree_text.ts";
import { toTreeJson } from "../render/tree_json.ts";
import { liveTask, targetPath } from "../process/tasks.ts";

/**
 * Runs `command` over the tree of `command.pid`; returns the exit code. Once `deadline`
 * (`--timeout`) has passed, the processes left are not read (skipped, with the reason).
 */
export async function remoteTree(
  command: Extract<Command, { kind: "remote" }>,
  color: boolean,
  deadline?: Deadline,
): Promise<number> {
  const log = command.verbose > 0 ? (m: string) => printError(`pystack: ${m}`) : undefined;
  const { outcomes, truncated } = await inspectTree(command.pid, (pid) => {
    if (deadline?.passed("processes")) {
      return Promise.reject(new PystackError("not read: the time was up (--timeout)"));
    }
    return inspectProcessAsync(pid, {
      block: command.block,
      exhaustive: command.exhaustive,
      ...(command.locals ? { locals: true } : {}),
      ...(command.native === undefined ? {} : { native: command.native }),
      ...(command.json ? {} : { nativeLines: "shown" as const }),
      ...(log === undefined ? {} : { log: (m: string) => log(`process ${pid}: ${m}`) }),
      ...(deadline === undefined ? {} : { deadline }),
    });
  });
  deadline?.readingDone();
  for (const o of outcomes) {
    for (const w of o.report?.warnings ?? []) {
      printError(`pystack: warning: process ${o.pid}: ${w}`);
    }
  }
  if (command.json) {
    const doc = toTreeJson(command.pid, outcomes, {
      ...(command.group ? { group: true } : {}),
      truncated,
    });
    printLines(JSON.stringify(doc, null, 2).split("\n"));
    return treeTimedOut(deadline, outcomes, false);
  }
  printLines(renderTreeText(outcomes, {
    text: (pid) => ({
      color,
      sourceLine: sourceReader((file) => targetPath(liveTask(pid) ?? pid, file)),
      ...(command.native === undefined ? {} : { native: command.native }),
    }),
    ...(command.group ? { group: true } : {}),
    truncated,
  }));
  return treeTimedOut(deadline, outcomes, true);
}

/**
 * `--timeout` over a tree: when the time ran out, says so (with `text`, the `(!)` marker on
 * stdout after a blank line; always one line on stderr) and returns `ExitCode.timedOut`.
 */
function treeTimedOut(
  deadline: Deadline | undefined,
  outcomes: readonly TreeOutcome[],
  text: boolean,
): number {
  if (deadline?.stage === undefined) return ExitCode.ok;
  const read = outcomes.filter((o) => o.status === "read" && o.report?.timedOut === undefined);
  const cut = outcomes.find((o) => o.report?.timedOut !== undefined);
  const what = cut?.report?.timedOut !== undefined
    ? `${timedOutText(cut.report.timedOut)} in process ${cut.pid}`
    : `Timed out after ${formatSeconds(deadline.seconds)} s (--timeout) while reading the ` +
      "processes";
  const summary = `${what}; ${read.length} of ${outcomes.length} processes read in full`;
  if (text) printLines(["", `(!) ${summary}`]);
  printError(`pystack: ${summary}`);
  return ExitCode.timedOut;
}
