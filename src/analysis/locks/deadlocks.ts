/**
 * The wait-for graph over threads: each thread waits for at most one
 * resource, held by at most one thread. Finds the cycles (deadlocks), the GIL
 * held across a blocking call, and chains that end in a thread blocked on
 * something else. Pure.
 *
 * @module
 */

import type { Deadlock, DeadlockEdge, LockSummary, PyThread } from "../../model.ts";

/** System calls in which a GIL holder is blocked (not merely running). */
const BLOCKING = new Set([
  "futex",
  "restart_syscall",
  "read",
  "recvfrom",
  "recvmsg",
  "accept",
  "accept4",
  "poll",
  "ppoll",
  "select",
  "pselect6",
  "epoll_wait",
  "epoll_pwait",
  "nanosleep",
  "clock_nanosleep",
  "wait4",
  "waitid",
  "pause",
]);

const FUTEX = new Set(["futex", "restart_syscall"]);

function who(t: Pick<PyThread, "tid" | "name" | "pythonName"> | undefined, tid: number): string {
  const name = t?.pythonName ?? t?.name;
  return name === undefined ? `thread ${tid}` : `thread ${tid} (${name})`;
}

/**
 * Deadlocks and findings over `threads` (those carrying `waitingFor`).
 *
 * @example Two threads each waiting for what the other holds
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeLocks } from "./deadlocks.ts";
 * const t = (tid: number, holder: number) => ({
 *   tid, waitingFor: { kind: "rlock" as const, resource: `R${holder}`, holder,
 *     confidence: "recorded" as const, evidence: "owner recorded in the RLock" },
 * });
 * const summary = summarizeLocks([t(1, 2), t(2, 1)]);
 * assert.deepEqual(summary.deadlocks[0]!.threads, [1, 2]);
 * ```
 */
export function summarizeLocks(
  threads: readonly Pick<
    PyThread,
    "tid" | "name" | "pythonName" | "waitingFor" | "holds" | "syscall"
  >[],
): LockSummary {
  const byTid = new Map(threads.map((t) => [t.tid, t]));
  const deadlocks: Deadlock[] = [];
  const inCycle = new Set<number>();
  for (const start of threads) {
    const path: number[] = [];
    const onPath = new Map<number, number>();
    let tid: number | undefined = start.tid;
    while (
      tid !== undefined && !onPath.has(tid) && !inCycle.has(tid) && path.length <= threads.length
    ) {
      onPath.set(tid, path.length);
      path.push(tid);
      tid = byTid.get(tid)?.waitingFor?.holder;
    }
    if (tid === undefined || !onPath.has(tid)) continue;
    const cycle = path.slice(onPath.get(tid)!);
    // Report each cycle once, starting from its smallest thread id.
    const first = cycle.indexOf(Math.min(...cycle));
    const ordered = [...cycle.slice(first), ...cycle.slice(0, first)];
    const edges: DeadlockEdge[] = ordered.map((waiter) => {
      const w = byTid.get(waiter)!.waitingFor!;
      return {
        waiter,
        resource: w.resource,
        holder: w.holder!,
        confidence: w.confidence ?? "inferred",
        evidence: w.evidence,
      };
    });
    for (const c of ordered) inCycle.add(c);
    deadlocks.push({
      threads: ordered,
      edges,
      confidence: edges.every((e) => e.confidence === "recorded") ? "recorded" : "inferred",
    });
  }
  const findings: string[] = [];
  for (const t of threads) {
    if (!t.holds?.some((h) => h.kind === "gil")) continue;
    const waiters = threads.filter((o) =>
      o.waitingFor?.kind === "gil" && o.waitingFor.holder === t.tid
    );
    if (waiters.length === 0 || t.syscall === undefined || !BLOCKING.has(t.syscall.name)) continue;
    findings.push(
      `${who(t, t.tid)} holds the GIL while blocked in native code (${t.syscall.text}); ` +
        `${waiters.length} thread${waiters.length === 1 ? "" : "s"} wait${
          waiters.length === 1 ? "s" : ""
        } for the GIL`,
    );
  }
  // Chains: a waiter outside any cycle whose holder is itself blocked on something with no holder.
  for (const t of threads) {
    const w = t.waitingFor;
    if (w?.holder === undefined || inCycle.has(t.tid)) continue;
    const holder = byTid.get(w.holder);
    const next = holder?.waitingFor;
    const call = holder?.syscall;
    if (next === undefined) {
      // The holder waits for no resource, but sits in a blocking call (I/O, a sleep, a child).
      if (call === undefined || !BLOCKING.has(call.name) || FUTEX.has(call.name)) continue;
      findings.push(
        `${who(t, t.tid)} waits for ${w.resource}, held by ${who(holder, w.holder)}, ` +
          `which is blocked in ${call.text}`,
      );
      continue;
    }
    if (next.holder !== undefined) continue;
    findings.push(
      `${who(t, t.tid)} waits for ${w.resource}, held by ${who(holder, w.holder)}, ` +
        `which waits for ${next.resource}`,
    );
  }
  return { deadlocks, findings, snapshots: 1 };
}

/** The summary as text lines: each deadlock as its cycle, the findings, or `No deadlock found`. */
export function summaryLines(
  summary: LockSummary,
  threads: readonly Pick<PyThread, "tid" | "name" | "pythonName">[],
): string[] {
  const byTid = new Map(threads.map((t) => [t.tid, t]));
  const lines: string[] = [];
  for (const d of summary.deadlocks) {
    const parts = d.edges.map((e) =>
      `${who(byTid.get(e.waiter), e.waiter)} waits for ${e.resource} held by ${
        who(byTid.get(e.holder), e.holder)
      }`
    );
    lines.push(`Deadlock: ${parts.join("; ")} [${d.confidence}]`);
  }
  for (const f of summary.findings) lines.push(`Warning: ${f}`);
  if (summary.deadlocks.length === 0) lines.push("No deadlock found");
  return lines;
}
