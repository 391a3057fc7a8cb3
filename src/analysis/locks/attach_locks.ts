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
 * Registers of a thread of a running process read without ptrace (`--no-block`): the system
 * call and its arguments from `/proc/PID/task/TID/syscall`, every other register 0.
 */
export function procSyscallRegisters(pid: number, tid: number): X86_64Registers | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/syscall`);
  } catch {
    return undefined;
  }
  const call = parseProcSyscall(text);
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
