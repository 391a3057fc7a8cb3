/**
 * Runs `pystack watch`: samples with a one-line progress display on a
 * terminal, Ctrl-C ending sampling early, then prints the summary (of each
 * process of the tree, with `--subprocesses`).
 *
 * @module
 */

import { onProcessOf } from "./task_pid.ts";
import type { WatchCommand } from "./watch_args.ts";
import { printError, printLines } from "./output.ts";
import { sourceReader } from "./source_lines.ts";
import { ExitCode } from "../errors.ts";
import { watchProcesses } from "../analysis/watch/watch_process.ts";
import { summarizeWatch } from "../analysis/watch/summarize_watch.ts";
import {
  failedSamplesLine,
  renderWatchText,
  watchGroupKey,
  watchGroupsAcross,
  watchHeadline,
} from "../render/watch_text.ts";
import { groupBy } from "../analysis/group_threads.ts";
import { renderWatchJson, toWatchJson } from "../render/watch_json.ts";
import { renderCollapsed, renderSpeedscope } from "../render/flame_formats.ts";
import { liveTask, targetPath } from "../process/tasks.ts";
import { STUCK_RULE, type WatchSummary } from "../analysis/watch/watch_model.ts";
import { inspectTree, type TreeOutcome } from "../analysis/process_tree.ts";
import { inspectProcessAsync } from "../inspect_process.ts";
import { processTitle } from "../render/tree_text.ts";
import { appendLines } from "../render/append_lines.ts";
import { type Json, SCHEMA_VERSION } from "../render/json.ts";
import { VERSION } from "../version.ts";
import type { Deadline } from "../deadline.ts";
import { formatSeconds } from "../deadline.ts";

/**
 * Runs `command`; returns the exit code. Errors are thrown for the caller to report. With
 * `deadline` (`--timeout`), sampling ends when it passes: the summary of the samples taken is
 * printed, and the exit code says the time ran out.
 */
export async function runWatch(
  command: WatchCommand,
  color: boolean,
  deadline?: Deadline,
): Promise<number> {
  const code = await watchBody(onProcessOf(command), color, deadline);
  if (deadline?.stage === undefined) return code;
  printError(
    `pystack: Timed out after ${formatSeconds(deadline.seconds)} s (--timeout): sampling ended ` +
      "early; the summary covers the samples taken",
  );
  return ExitCode.timedOut;
}

async function watchBody(
  command: WatchCommand,
  color: boolean,
  deadline: Deadline | undefined,
): Promise<number> {
  if (!command.subprocesses) {
    const [summary] = await watchWithProgress(command, [command.pid], deadline);
    deadline?.readingDone();
    if (summary instanceof Error) throw summary;
    printLines(watchLines([summary!], command, color));
    return ExitCode.ok;
  }
  // Which processes of the tree run Python: each is read once without pausing it.
  const { outcomes, truncated } = await inspectTree(
    command.pid,
    (pid) => inspectProcessAsync(pid, { block: false }).then(() => pid),
  );
  const pids = outcomes.filter((o) => o.status === "read").map((o) => o.pid);
  const results = await watchWithProgress(command, pids, deadline);
  deadline?.readingDone();
  const watched: TreeOutcome<WatchSummary>[] = outcomes.map((o) => {
    const { report: _, ...rest } = o;
    if (o.status !== "read") return rest;
    const result = results[pids.indexOf(o.pid)]!;
    if (result instanceof Error) {
      return { ...rest, status: "exited", reason: `it could not be watched: ${result.message}` };
    }
    return { ...rest, report: result };
  });
  const summaries = watched.flatMap((o) => o.report === undefined ? [] : [o.report]);
  if (command.format === "collapsed" || command.format === "speedscope") {
    printLines(watchLines(summaries, command, color));
    return ExitCode.ok;
  }
  if (command.format === "json") {
    const doc: { [key: string]: Json } = {
      schemaVersion: SCHEMA_VERSION,
      tool: { name: "pystack", version: VERSION },
      kind: "processes",
      root: command.pid,
      truncated,
      processes: watched.map((o) => ({
        pid: o.pid,
        nsPid: o.nsPid ?? null,
        parent: o.parent ?? null,
        depth: o.depth,
        commandLine: o.commandLine,
        status: o.status,
        reason: o.reason ?? null,
        report: null,
        watch: o.report === undefined
          ? null
          : toWatchJson(o.report, command.group ? { group: true } : {}),
      })),
    };
    if (command.group) {
      const threads = summaries.flatMap((s) => s.threads.map((t) => ({ pid: s.pid, t })));
      doc.groups = groupBy(threads, ({ t }) => watchGroupKey(t)).map((g) => ({
        count: g.length,
        threads: g.map(({ pid, t }) => ({ pid, tid: t.tid })),
      }));
    }
    printLines(JSON.stringify(doc, null, 2).split("\n"));
    return ExitCode.ok;
  }
  const lines: string[] = [];
  const textOptions = (pid: number) => ({
    color,
    sourceLine: sourceReader((file) => targetPath(liveTask(pid) ?? pid, file)),
    ...(command.native === undefined ? {} : { native: command.native }),
  });
  if (command.group) {
    // The processes with their headlines, then the threads of all of them grouped.
    for (const o of watched) {
      lines.push(processTitle(o));
      lines.push(
        o.report === undefined ? `    ${o.status}: ${o.reason}` : `    ${watchHeadline(o.report)}`,
      );
      if (o.report?.endedEarly !== undefined) {
        lines.push(`    Sampling ended early: ${o.report.endedEarly}`);
      }
      if (o.report?.failedSamples !== undefined) {
        lines.push(`    ${failedSamplesLine(o.report.failedSamples)}`);
      }
    }
    lines.push(`(${STUCK_RULE})`);
    appendLines(lines, watchGroupsAcross(summaries, textOptions));
  } else {
    for (const o of watched) {
      if (lines.length > 0) lines.push("");
      lines.push(processTitle(o));
      if (o.report === undefined) lines.push(`    ${o.status}: ${o.reason}`);
      else appendLines(lines, watchLines([o.report], command, color, o.pid));
    }
  }
  if (truncated) lines.push("(more descendants were left out: at most 4,096 processes)");
  printLines(lines);
  return ExitCode.ok;
}

/**
 * Samples `pids` in turn; Ctrl-C ends sampling early (no target is held
 * between samples). Per pid, its summary or why it could not be sampled.
 */
async function watchWithProgress(
  command: WatchCommand,
  pids: number[],
  deadline: Deadline | undefined,
): Promise<(WatchSummary | Error)[]> {
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  // Only while sampling: the walk of one sample runs to its end (it always releases the
  // target), then the loop sees the flag and stops.
  Deno.addSignalListener("SIGINT", onInterrupt);
  const progress = Deno.stderr.isTerminal();
  try {
    const records = await watchProcesses(pids, {
      block: command.block,
      intervalMs: command.intervalMs,
      ...(command.durationMs === undefined ? {} : { durationMs: command.durationMs }),
      ...(command.samples === undefined ? {} : { samples: command.samples }),
      ...(command.native === undefined ? {} : { native: command.native }),
      stopRequested: () =>
        interrupted
          ? "interrupted (Ctrl-C)"
          : deadline?.passed("samples")
          ? `timed out after ${formatSeconds(deadline.seconds)} s (--timeout)`
          : undefined,
      ...(deadline === undefined ? {} : { waitAtMostMs: () => deadline.remainingMs() }),
      onSample: ({ samples, elapsedMs, threads }) => {
        if (!progress) return;
        const who = pids.length === 1 ? `process ${pids[0]}` : `${pids.length} processes`;
        printProgress(
          `sampling ${who}: ${samples} samples, ${(elapsedMs / 1000).toFixed(1)} s, ` +
            `${threads} threads (Ctrl-C to stop)`,
        );
      },
    });
    return records.map((record) => {
      if (record instanceof Error) return record;
      const summary = summarizeWatch(record);
      if (command.verbose > 0) {
        printError(
          `pystack: process ${summary.pid}: ${summary.samples} samples, target paused ` +
            `${summary.pausedMs.toFixed(2)} ms in all over ${summary.durationMs.toFixed(0)} ms`,
        );
      }
      return summary;
    });
  } finally {
    if (progress) printProgress("");
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/** The summaries in the asked format. */
function watchLines(
  summaries: WatchSummary[],
  command: WatchCommand,
  color: boolean,
  pid = command.pid,
): string[] {
  const native = command.native === undefined ? {} : { native: command.native };
  const group = command.group ? { group: true } : {};
  switch (command.format) {
    case "json":
      return renderWatchJson(summaries[0]!, group);
    case "collapsed":
      return renderCollapsed(summaries, native);
    case "speedscope":
      return renderSpeedscope(summaries, native);
    case "text":
      return renderWatchText(summaries[0]!, {
        color,
        sourceLine: sourceReader((file) => targetPath(liveTask(pid) ?? pid, file)),
        ...native,
        ...group,
      });
  }
}

/** Rewrites the progress line on stderr (an empty text clears it). */
function printProgress(text: string): void {
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${text}`));
  } catch {
    // stderr closed: no progress display
  }
}
