/**
 * `pystack remote PID --subprocesses`: the process and every descendant.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { printError, printLines } from "./output.ts";
import { sourceReader } from "./source_lines.ts";
import { ExitCode } from "../errors.ts";
import { inspectProcessAsync } from "../inspect_process.ts";
import { inspectTree } from "../analysis/process_tree.ts";
import { renderTreeText } from "../render/tree_text.ts";
import { toTreeJson } from "../render/tree_json.ts";
import { targetPath } from "../process/tasks.ts";

/** Runs `command` over the tree of `command.pid`; returns the exit code. */
export async function remoteTree(
  command: Extract<Command, { kind: "remote" }>,
  color: boolean,
): Promise<number> {
  const log = command.verbose > 0 ? (m: string) => printError(`pystack: ${m}`) : undefined;
  const { outcomes, truncated } = await inspectTree(command.pid, (pid) =>
    inspectProcessAsync(pid, {
      block: command.block,
      exhaustive: command.exhaustive,
      ...(command.locals ? { locals: true } : {}),
      ...(command.native === undefined ? {} : { native: command.native }),
      ...(command.json ? {} : { nativeLines: "shown" as const }),
      ...(log === undefined ? {} : { log: (m: string) => log(`process ${pid}: ${m}`) }),
    }));
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
    return ExitCode.ok;
  }
  printLines(renderTreeText(outcomes, {
    text: (pid) => ({
      color,
      sourceLine: sourceReader((file) => targetPath(pid, file)),
      ...(command.native === undefined ? {} : { native: command.native }),
    }),
    ...(command.group ? { group: true } : {}),
    truncated,
  }));
  return ExitCode.ok;
}
