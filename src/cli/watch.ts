/**
 * Runs `pystack watch`: samples with a one-line progress display on a
 * terminal, Ctrl-C ending sampling early, then prints the summary.
 *
 * @module
 */

import type { WatchCommand } from "./watch_args.ts";
import { printError, printLines } from "./output.ts";
import { sourceReader } from "./source_lines.ts";
import { ExitCode } from "../errors.ts";
import { watchProcess } from "../analysis/watch/watch_process.ts";
import { summarizeWatch } from "../analysis/watch/summarize_watch.ts";
import { renderWatchText } from "../render/watch_text.ts";
import { renderWatchJson } from "../render/watch_json.ts";
import { renderCollapsed, renderSpeedscope } from "../render/flame_formats.ts";
import { targetPath } from "../process/tasks.ts";
import type { WatchSummary } from "../analysis/watch/watch_model.ts";

/** Runs `command`; returns the exit code. Errors are thrown for the caller to report. */
export async function runWatch(
  command: WatchCommand,
  color: boolean,
): Promise<number> {
  const summary = await watchWithProgress(command);
  printLines(watchLines(summary, command, color));
  return ExitCode.ok;
}

/** Samples `command.pid`; Ctrl-C ends sampling early (the target is never held between samples). */
export async function watchWithProgress(command: WatchCommand): Promise<WatchSummary> {
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  // Only while sampling: the walk of one sample runs to its end (it always releases the
  // target), then the loop sees the flag and stops.
  Deno.addSignalListener("SIGINT", onInterrupt);
  const progress = Deno.stderr.isTerminal();
  try {
    const record = await watchProcess(command.pid, {
      block: command.block,
      intervalMs: command.intervalMs,
      ...(command.durationMs === undefined ? {} : { durationMs: command.durationMs }),
      ...(command.samples === undefined ? {} : { samples: command.samples }),
      ...(command.native === undefined ? {} : { native: command.native }),
      stopRequested: () => interrupted ? "interrupted (Ctrl-C)" : undefined,
      onSample: ({ samples, elapsedMs, threads }) => {
        if (progress) {
          printProgress(
            `sampling process ${command.pid}: ${samples} samples, ` +
              `${(elapsedMs / 1000).toFixed(1)} s, ${threads} threads (Ctrl-C to stop)`,
          );
        }
      },
    });
    const summary = summarizeWatch(record);
    if (command.verbose > 0) {
      printError(
        `pystack: ${summary.samples} samples, target paused ${summary.pausedMs.toFixed(2)} ms ` +
          `in all over ${summary.durationMs.toFixed(0)} ms`,
      );
    }
    return summary;
  } finally {
    if (progress) printProgress("");
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/** The summary in the asked format. */
export function watchLines(summary: WatchSummary, command: WatchCommand, color: boolean): string[] {
  const native = command.native === undefined ? {} : { native: command.native };
  switch (command.format) {
    case "json":
      return renderWatchJson(summary);
    case "collapsed":
      return renderCollapsed(summary, native);
    case "speedscope":
      return renderSpeedscope(summary, native);
    case "text":
      return renderWatchText(summary, {
        color,
        sourceLine: sourceReader((file) => targetPath(command.pid, file)),
        ...native,
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
