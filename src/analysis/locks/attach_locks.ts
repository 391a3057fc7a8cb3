/**
 * Puts what `--locks` found on the report's threads, and the summary on the
 * report.
 *
 * @module
 */

import type { LockSummary, PyThread } from "../../model.ts";
import { X86_64_REGISTER_NAMES, type X86_64Registers } from "../../elf/core_notes.ts";
import type { ThreadLocks } from "./analyze_locks.ts";
import { summarizeLocks } from "./deadlocks.ts";
import { parseProcSyscall } from "./descriptors.ts";
import { sleepSync } from "../../sleep_sync.ts";

/** Sets `waitingFor`, `holds`, `syscall` on each thread; returns the summary. */
export function attachLocks(
  threads: PyThread[],
  perThread: ReadonlyMap<number, ThreadLocks>,
): LockSummary {
  for (const t of threads) {
    const found = perThread.get(t.tid);
    if (found === undefined || t.tid === 0) continue;
    if (found.waitingFor !== undefined) t.waitingFor = found.waitingFor;
    if (found.holds.length > 0) t.holds = found.holds;
    if (found.syscall !== undefined) t.syscall = found.syscall;
  }
  return summarizeLocks(threads);
}

/**
 * What two live snapshots agree on: each thread keeps the wait of the first
 * snapshot when the second found the same one (same kind, resource and
 * holder); a wait seen once only (a GIL waiter between two 5 ms sleeps, a
 * lock released meanwhile) is dropped. Returns the thread ids whose wait was
 * dropped.
 *
 * @example A wait that changed between the snapshots is dropped
 * ```ts
 * import assert from "node:assert/strict";
 * import { keepStable } from "./attach_locks.ts";
 * const gil = { kind: "gil" as const, resource: "the GIL", holder: 2, evidence: "e" };
 * const first = new Map([[1, { waitingFor: gil, holds: [] }], [3, { waitingFor: gil, holds: [] }]]);
 * const second = new Map([[1, { waitingFor: gil, holds: [] }], [3, { holds: [] }]]);
 * assert.deepEqual(keepStable(first, second), [3]);
 * assert.equal(first.get(3)!.waitingFor, undefined);
 * assert.equal(first.get(1)!.waitingFor, gil);
 * ```
 */
export function keepStable(
  first: Map<number, ThreadLocks>,
  second: ReadonlyMap<number, ThreadLocks>,
): number[] {
  const dropped: number[] = [];
  for (const [tid, found] of first) {
    const a = found.waitingFor;
    if (a === undefined) continue;
    const b = second.get(tid)?.waitingFor;
    if (
      b !== undefined && a.kind === b.kind && a.resource === b.resource && a.holder === b.holder
    ) {
      continue;
    }
    delete found.waitingFor;
    dropped.push(tid);
  }
  return dropped;
}

/** How many times `/proc/PID/task/TID/syscall` is read for a thread found outside a call. */
const PROC_SYSCALL_READS = 3;

/**
 * Registers of a thread of a running process read without ptrace (`--no-block`): the system
 * call and its arguments from `/proc/PID/task/TID/syscall`, every other register 0.
 */
export function procSyscallRegisters(
  pid: number,
  tid: number,
  deadline = 0,
): X86_64Registers | undefined {
  let call: ReturnType<typeof parseProcSyscall>;
  // A running thread is caught between two calls now and then (a GIL waiter wakes every 5 ms):
  // a few reads a millisecond apart find it in one, until `deadline` (performance.now()).
  for (let attempt = 0; attempt < PROC_SYSCALL_READS && call === undefined; attempt++) {
    if (attempt > 0) {
      if (performance.now() > deadline) break;
      sleepSync(1);
    }
    try {
      call = parseProcSyscall(Deno.readTextFileSync(`/proc/${pid}/task/${tid}/syscall`));
    } catch {
      return undefined;
    }
  }
  const regs = Object.fromEntries(X86_64_REGISTER_NAMES.map((n) => [n, 0n])) as X86_64Registers;
  regs.origRax = call === undefined ? BigInt.asUintN(64, -1n) : BigInt(call.nr);
  if (call !== undefined) {
    [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9] = call.args as [
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
  }
  return regs;
}
