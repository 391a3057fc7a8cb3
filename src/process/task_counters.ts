/**
 * What the kernel counts for each thread: its scheduler state, CPU time and
 * voluntary context switches (`/proc/PID/task/TID/stat` and `status`).
 *
 * @module
 */

/** One reading of a thread's counters. */
export interface TaskCounters {
  /** Scheduler state letter: `R`, `S`, `D`, `T`, `t`, `Z`, … */
  state: string;
  /** User plus system CPU time, in clock ticks. */
  cpuTicks: number;
  /** Times the thread gave up the CPU to wait (`voluntary_ctxt_switches`). */
  voluntarySwitches: number;
}

/**
 * Clock ticks per second of `/proc` CPU times (`USER_HZ`, `sysconf(_SC_CLK_TCK)`):
 * 100 on every Linux architecture pystack reads.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of a `/proc/PID[/task/TID]/stat` line that pystack uses. */
export interface TaskStat {
  state: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

/**
 * Parses a `stat` line. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from its last `)`. Undefined when the
 * line is not one.
 *
 * @example
 * ```ts
 * import { parseTaskStat } from "./task_counters.ts";
 * import assert from "node:assert/strict";
 *
 * const line = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 0 0";
 * assert.deepEqual(parseTaskStat(line), { state: "S", ppid: 1, cpuTicks: 10 });
 * ```
 */
export function parseTaskStat(text: string): TaskStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).trim().split(" ");
  const state = fields[0];
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (state === undefined || !/^[A-Za-z]$/.test(state)) return undefined;
  if (![ppid, utime, stime].every((n) => Number.isSafeInteger(n) && n >= 0)) return undefined;
  return { state, ppid, cpuTicks: utime + stime };
}

/** `voluntary_ctxt_switches` of a `status` file, or undefined. */
export function parseVoluntarySwitches(status: string): number | undefined {
  const match = /^voluntary_ctxt_switches:\s*(\d+)\s*$/m.exec(status);
  return match === null ? undefined : Number(match[1]);
}

/** The counters of thread `tid` of `pid`, or undefined when it is gone or unreadable. */
export function readTaskCounters(pid: number, tid: number): TaskCounters | undefined {
  try {
    const stat = parseTaskStat(Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`));
    const switches = parseVoluntarySwitches(
      Deno.readTextFileSync(`/proc/${pid}/task/${tid}/status`),
    );
    if (stat === undefined || switches === undefined) return undefined;
    return { state: stat.state, cpuTicks: stat.cpuTicks, voluntarySwitches: switches };
  } catch {
    return undefined;
  }
}

/** The counters of every thread in `tids` that could be read. */
export function readCounters(pid: number, tids: Iterable<number>): Map<number, TaskCounters> {
  const out = new Map<number, TaskCounters>();
  for (const tid of tids) {
    const counters = readTaskCounters(pid, tid);
    if (counters !== undefined) out.set(tid, counters);
  }
  return out;
}
