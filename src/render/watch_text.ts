/**
 * `pystack watch` as text: per thread, its verdict, CPU share, state and
 * distinct stacks (the most common in full, the next four by their innermost
 * frame). Pure, like `text.ts`.
 *
 * @module
 */

import type { PyFrame } from "../model.ts";
import type {
  FailedSamples,
  StackShare,
  WatchedThread,
  WatchSummary,
} from "../analysis/watch/watch_model.ts";
import { STUCK_RULE } from "../analysis/watch/watch_model.ts";
import { frameLines, type TextOptions } from "./text.ts";
import { nativeStackLines } from "./native_text.ts";
import { appendLines } from "./append_lines.ts";
import { groupBy, groupTitle } from "../analysis/group_threads.ts";
import { pythonStackKey } from "../analysis/stack_key.ts";

/** Distinct stacks shown per thread. */
export const SHOWN_STACKS = 5;

/** The summary line of a watch: samples, window, interval, pause share. */
export function watchHeadline(summary: WatchSummary): string {
  const seconds = (summary.durationMs / 1000).toFixed(2);
  const paused = summary.blocking
    ? `paused ${pausedPercent(summary).toFixed(1)}% of the time`
    : "never paused (--no-block)";
  const plural = summary.samples === 1 ? "" : "s";
  return `Watched process ${summary.pid} (Python ${summary.pythonVersion}): ` +
    `${summary.samples} sample${plural} in ${seconds} s, ` +
    `${summary.intervalMs} ms apart; ${paused}`;
}

/** The line that says how many samples failed and were left out. */
export function failedSamplesLine({ count, firstError }: FailedSamples): string {
  return `${count} sample${count === 1 ? "" : "s"} failed and ${
    count === 1 ? "was" : "were"
  } left out (the first: ${firstError})`;
}

/** Share of the window the target was paused, in percent. */
export function pausedPercent(summary: WatchSummary): number {
  return summary.durationMs > 0 ? 100 * summary.pausedMs / summary.durationMs : 0;
}

/**
 * What makes two watched threads the same for `--group`: the same verdict
 * and the same distinct Python stacks, in the same order of frequency.
 */
export function watchGroupKey(thread: WatchedThread): string {
  return [thread.verdict, ...thread.stacks.map((s) => pythonStackKey(s.frames))].join("\u0002");
}

/**
 * The whole watch as lines. With `group`, threads with the same verdict and
 * stacks are printed once, under `N threads: TID (name), …`, largest group
 * first (the first thread's figures are shown).
 */
export function renderWatchText(
  summary: WatchSummary,
  options: TextOptions & { group?: boolean },
): string[] {
  const lines = [watchHeadline(summary)];
  if (summary.endedEarly !== undefined) lines.push(`Sampling ended early: ${summary.endedEarly}`);
  if (summary.failedSamples !== undefined) lines.push(failedSamplesLine(summary.failedSamples));
  lines.push(`(${STUCK_RULE})`);
  const groups = options.group
    ? groupBy(summary.threads, watchGroupKey)
    : summary.threads.map((t) => [t]);
  for (const group of groups) {
    const body = watchedThreadLines(group[0]!, summary.samples, options);
    if (group.length > 1) {
      const verdict = body[0]!.replace(/^Thread \d+(?: \([^)]*\))?: /, "");
      body[0] = `${groupTitle(group)}: ${verdict}`;
    }
    lines.push("");
    appendLines(lines, body);
  }
  return lines;
}

/** Lines of one thread. */
export function watchedThreadLines(
  thread: WatchedThread,
  samples: number,
  options: TextOptions,
): string[] {
  const name = thread.name === undefined ? "" : ` (${thread.name})`;
  const verdict = thread.verdict === "stuck" ? "STUCK" : thread.verdict;
  const cpu = thread.cpuPercent === undefined ? "CPU unknown" : `CPU ${thread.cpuPercent}%`;
  const lines = [
    `Thread ${thread.tid}${name}: ${verdict} (${thread.reason})`,
    `  state ${thread.state ?? "unknown"}, ${cpu}, seen in ${thread.samples} of ${samples} samples`,
  ];
  thread.stacks.slice(0, SHOWN_STACKS).forEach((stack, i) => {
    const head = `  ${percent(stack.share)} (${stack.count} sample${stack.count === 1 ? "" : "s"})`;
    if (i === 0) {
      lines.push(`${head}:`);
      appendLines(lines, fullStackLines(stack, options));
    } else {
      lines.push(`${head}: ${innermost(stack.frames)}`);
    }
  });
  const more = thread.stacks.length - SHOWN_STACKS;
  if (more > 0) lines.push(`  … ${more} more stack${more === 1 ? "" : "s"}`);
  return lines;
}

function fullStackLines(stack: StackShare, options: TextOptions): string[] {
  if (stack.native !== undefined && options.native !== undefined) {
    return nativeStackLines(stack, options.native, {
      color: options.color,
      pythonLines: (frame) => frameLines(frame, options),
    });
  }
  if (stack.frames.length === 0) return ["    (no Python frames)"];
  return stack.frames.flatMap((frame) => frameLines(frame, options));
}

/** `in FUNCTION (FILE:LINE)` of the newest frame. */
function innermost(frames: readonly PyFrame[]): string {
  const f = frames.at(-1);
  if (f === undefined) return "(no Python frames)";
  return `in ${f.function} (${f.file}:${f.location.line})`;
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/**
 * `watch --subprocesses --group`: the threads of every summary grouped
 * together (same verdict and stacks), each group under
 * `N threads: TID (name) in process PID, …: VERDICT (reason)`, largest first.
 */
export function watchGroupsAcross(
  summaries: readonly WatchSummary[],
  options: (pid: number) => TextOptions,
): string[] {
  const threads = summaries.flatMap((summary) =>
    summary.threads.map((thread) => ({ thread, summary }))
  );
  const lines: string[] = [];
  for (const group of groupBy(threads, (t) => watchGroupKey(t.thread))) {
    const { thread, summary } = group[0]!;
    const body = watchedThreadLines(thread, summary.samples, options(summary.pid));
    const verdict = body[0]!.replace(/^Thread \d+(?: \([^)]*\))?: /, "");
    const who = group.map(({ thread: t, summary: s }) =>
      `${t.tid}${t.name === undefined ? "" : ` (${t.name})`} in process ${s.pid}`
    );
    body[0] = `${group.length} thread${group.length === 1 ? "" : "s"}: ${
      who.join(", ")
    }: ${verdict}`;
    lines.push("");
    appendLines(lines, body);
  }
  return lines;
}
