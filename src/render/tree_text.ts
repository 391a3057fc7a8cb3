/**
 * `--subprocesses` as text: each process under `Process PID: COMMAND LINE`;
 * with `--group`, the processes listed, then the threads of all of them
 * grouped by identical Python stacks.
 *
 * @module
 */

import type { PyThread } from "../model.ts";
import type { TreeOutcome } from "../analysis/process_tree.ts";
import { groupThreads } from "../analysis/group_threads.ts";
import { renderText, type TextOptions, threadLines } from "./text.ts";
import { appendLines } from "./append_lines.ts";

/** `Process PID (pid N in its namespace): COMMAND LINE`. */
export function processTitle(outcome: TreeOutcome<unknown>): string {
  const ns = outcome.nsPid === undefined ? "" : ` (pid ${outcome.nsPid} in its namespace)`;
  return `Process ${outcome.pid}${ns}: ${outcome.commandLine}`;
}

function statusLine(outcome: TreeOutcome<unknown>): string | undefined {
  if (outcome.status === "skipped") return `    skipped: ${outcome.reason}`;
  if (outcome.status === "exited") return `    exited: ${outcome.reason}`;
  return undefined;
}

/** Options of {@linkcode renderTreeText}. */
export interface TreeTextOptions {
  /** Text options per process (source lines are read through each process's root). */
  text: (pid: number) => TextOptions;
  group?: boolean;
  /** Some descendants were left out (limits). */
  truncated?: boolean;
}

/** The tree as lines. */
export function renderTreeText(
  outcomes: readonly TreeOutcome[],
  options: TreeTextOptions,
): string[] {
  const lines: string[] = [];
  const tail = options.truncated
    ? ["(more descendants were left out: at most 4,096 processes, 32 generations)"]
    : [];
  if (options.group) {
    for (const o of outcomes) {
      lines.push(processTitle(o));
      const status = statusLine(o);
      if (status !== undefined) lines.push(status);
    }
    return appendLines(appendLines(lines, tail), groupedAcross(outcomes, options));
  }
  for (const o of outcomes) {
    if (lines.length > 0) lines.push("");
    lines.push(processTitle(o));
    const status = statusLine(o);
    if (status !== undefined) lines.push(status);
    if (o.report !== undefined) appendLines(lines, renderText(o.report, options.text(o.pid)));
  }
  return appendLines(lines, tail);
}

type Owned = PyThread & { pid: number };

/** Groups across processes: `N threads: TID (name) in process PID, …`. */
function groupedAcross(outcomes: readonly TreeOutcome[], options: TreeTextOptions): string[] {
  const threads: Owned[] = outcomes.flatMap((o) =>
    (o.report?.threads ?? []).map((t) => ({ ...t, pid: o.pid }))
  );
  const lines: string[] = [];
  for (const group of groupThreads(threads)) {
    const who = group.map((t) =>
      `${t.tid}${t.name === undefined ? "" : ` (${t.name})`} in process ${t.pid}`
    );
    const first = group[0]!;
    const body = threadLines(first, options.text(first.pid));
    const rest = body[0]?.startsWith("Traceback for thread") ? body.slice(1) : body;
    lines.push("", `${group.length} thread${group.length === 1 ? "" : "s"}: ${who.join(", ")}:`);
    appendLines(
      lines,
      rest.length === 0 || body[0]?.startsWith("The frame stack")
        ? ["    (no Python frames)"]
        : rest,
    );
  }
  return lines;
}
