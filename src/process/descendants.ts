/**
 * A process's descendants, from the parent links of `/proc/PID/stat`, for
 * `--subprocesses`.
 *
 * @module
 */

import { printable } from "../cpython/repr_format.ts";
import { parseTaskStat } from "./task_counters.ts";
import { parseNsPid } from "./namespace_tids.ts";

/** One process of a tree. */
export interface TreeProcess {
  pid: number;
  /** 0 for the root, 1 for its children, … */
  depth: number;
  parent?: number;
}

/** Bounds of {@linkcode descendantsOf}. */
export interface TreeLimits {
  /** Generations below the root (default 32). */
  maxDepth?: number;
  /** Processes in all, the root included (default 4,096). */
  maxCount?: number;
}

/**
 * `root` and its descendants in `parents` (pid → parent pid), depth first,
 * children by pid; bounded by `limits` (`truncated` says whether anything
 * was left out). Loops in the links cannot repeat a process.
 *
 * @example
 * ```ts
 * import { descendantsOf } from "./descendants.ts";
 * import assert from "node:assert/strict";
 *
 * const parents = new Map([[10, 1], [12, 10], [11, 10], [13, 12], [20, 1]]);
 * assert.deepEqual(descendantsOf(10, parents).processes.map((p) => p.pid), [10, 11, 12, 13]);
 * ```
 */
export function descendantsOf(
  root: number,
  parents: ReadonlyMap<number, number>,
  limits: TreeLimits = {},
): { processes: TreeProcess[]; truncated: boolean } {
  const maxDepth = limits.maxDepth ?? 32;
  const maxCount = limits.maxCount ?? 4096;
  const children = new Map<number, number[]>();
  for (const [pid, parent] of parents) {
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [pid]);
    else list.push(pid);
  }
  for (const list of children.values()) list.sort((a, b) => a - b);
  const processes: TreeProcess[] = [];
  const seen = new Set<number>();
  let truncated = false;
  const stack: TreeProcess[] = [{ pid: root, depth: 0 }];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next.pid)) continue;
    if (processes.length >= maxCount) {
      truncated = true;
      break;
    }
    seen.add(next.pid);
    processes.push(next);
    const kids = children.get(next.pid) ?? [];
    if (kids.length > 0 && next.depth >= maxDepth) {
      truncated = true;
      continue;
    }
    for (let i = kids.length - 1; i >= 0; i--) {
      stack.push({ pid: kids[i]!, depth: next.depth + 1, parent: next.pid });
    }
  }
  return { processes, truncated };
}

/** pid → parent pid of every process `/proc` lists now (at most 1,000,000). */
export function readParents(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    if (parents.size >= 1_000_000) break;
    try {
      const stat = parseTaskStat(Deno.readTextFileSync(`/proc/${entry.name}/stat`));
      if (stat !== undefined) parents.set(Number(entry.name), stat.ppid);
    } catch {
      // exited meanwhile
    }
  }
  return parents;
}

/** Longest command line shown. */
const MAX_COMMAND_LINE = 4096;

/**
 * The command line of `pid` (arguments joined by spaces, non-printable characters escaped,
 * cut at 4,096 characters), `[comm]` for a kernel thread, undefined when it is gone.
 */
export function commandLine(pid: number): string | undefined {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    // Arguments may hold newlines (`python -c '...'`): escaped, one line per process.
    const text = printable(raw.replace(/\0+$/, "").replaceAll("\0", " "));
    if (text !== "") {
      return text.length > MAX_COMMAND_LINE ? `${text.slice(0, MAX_COMMAND_LINE)}…` : text;
    }
    return `[${printable(Deno.readTextFileSync(`/proc/${pid}/comm`).trimEnd())}]`;
  } catch {
    return undefined;
  }
}

/** `pid` inside its own PID namespace, when that differs (a container). */
export function namespacePid(pid: number): number | undefined {
  try {
    const ids = parseNsPid(Deno.readTextFileSync(`/proc/${pid}/status`));
    const inner = ids?.at(-1);
    return inner !== undefined && inner !== pid ? inner : undefined;
  } catch {
    return undefined;
  }
}
