/**
 * `--group` as text: each group of threads with identical Python stacks
 * printed once, under `N threads: TID (name), …`, largest group first.
 *
 * @module
 */

import type { StackReport } from "../model.ts";
import { groupThreads, groupTitle } from "../analysis/group_threads.ts";
import { toJsonReport } from "./json.ts";
import { hasSeveralInterpreters, type TextOptions, threadLines } from "./text.ts";
import { appendLines } from "./append_lines.ts";

/**
 * The report with its threads grouped. A group of one thread prints as
 * without `--group`; a group of several prints the first thread's stack
 * (its status and native frames: the others' may differ) under the title.
 */
export function renderGroupedText(report: StackReport, options: TextOptions): string[] {
  if (options.interpreterSections === undefined && hasSeveralInterpreters(report.threads)) {
    options = { ...options, interpreterSections: true };
  }
  const lines: string[] = [];
  for (const group of groupThreads(report.threads)) {
    if (lines.length > 0) lines.push("");
    const body = threadLines(group[0]!, options);
    if (group.length === 1) {
      appendLines(lines, body);
      continue;
    }
    lines.push(`${groupTitle(group)}:`);
    // The first thread's own header (or "empty stack" line) is replaced by the title.
    const first = body[0] ?? "";
    const rest = first.startsWith("Traceback for thread") ? body.slice(1) : body;
    appendLines(
      lines,
      rest.length === 0 || first.startsWith("The frame stack") ? ["    (no Python frames)"] : rest,
    );
  }
  return lines;
}

/**
 * `--group --json`: the report's document plus `groups`, largest first, each
 * `{ count, tids }` (threads in the order of `threads`).
 */
export function groupedJson(report: StackReport): string[] {
  const doc = {
    ...toJsonReport(report),
    groups: groupThreads(report.threads).map((g) => ({
      count: g.length,
      tids: g.map((t) => t.tid),
    })),
  };
  return JSON.stringify(doc, null, 2).split("\n");
}
