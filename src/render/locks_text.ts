/**
 * `--locks` in the text output: the lines under a thread's header (what it
 * waits for, who holds it, what it holds, its system call), and the summary
 * after the threads.
 *
 * @module
 */

import type { PyThread, StackReport } from "../model.ts";
import { summaryLines } from "../analysis/locks/deadlocks.ts";

function who(threads: readonly PyThread[], tid: number): string {
  const t = threads.find((o) => o.tid === tid);
  const name = t?.pythonName ?? t?.name;
  return name === undefined ? `thread ${tid}` : `thread ${tid} (${name})`;
}

/**
 * The `--locks` lines of one thread (none when it has no `--locks` data).
 *
 * @example A thread waiting for a pthread mutex
 * ```ts
 * import assert from "node:assert/strict";
 * import { threadLockLines } from "./locks_text.ts";
 * const thread = {
 *   tid: 2, threadStateAddress: 0n, interpreterId: 0, frames: [], holdsGil: true,
 *   gcCollecting: false,
 *   waitingFor: { kind: "pthread_mutex" as const, resource: "pthread mutex 0x10", holder: 3,
 *     confidence: "recorded" as const, evidence: "owner recorded in the mutex" },
 *   holds: [{ kind: "gil" as const, resource: "the GIL", confidence: "recorded" as const }],
 * };
 * assert.deepEqual(threadLockLines(thread, [thread]), [
 *   "    Waiting for: pthread mutex 0x10, held by thread 3 [owner recorded in the mutex]",
 *   "    Holds: the GIL",
 * ]);
 * ```
 */
export function threadLockLines(thread: PyThread, threads: readonly PyThread[]): string[] {
  const lines: string[] = [];
  const w = thread.waitingFor;
  if (w !== undefined) {
    lines.push(
      w.holder === undefined
        ? `    Waiting for: ${w.resource} (${w.evidence})`
        : `    Waiting for: ${w.resource}, held by ${who(threads, w.holder)} [${w.evidence}]`,
    );
  }
  if (thread.holds !== undefined && thread.holds.length > 0) {
    const held = thread.holds.map((h) =>
      `${h.resource}${h.count === undefined ? "" : ` (count ${h.count})`}${
        h.confidence === "inferred" ? " [inferred]" : ""
      }`
    );
    lines.push(`    Holds: ${held.join("; ")}`);
  }
  const call = thread.syscall;
  if (
    call !== undefined && (w === undefined || !["futex", "restart_syscall"].includes(call.name))
  ) {
    lines.push(`    In system call: ${call.text}`);
  }
  return lines;
}

/** The summary after the threads: deadlocks, warnings, or `No deadlock found`. */
export function lockSummaryLines(report: StackReport): string[] {
  if (report.locks === undefined) return [];
  return ["", ...summaryLines(report.locks, report.threads)];
}
