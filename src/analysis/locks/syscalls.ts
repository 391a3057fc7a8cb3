/**
 * What a stopped thread is doing in the kernel, from its registers alone
 * (x86-64 Linux): the system call (`orig_rax`) and its arguments
 * (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`). Pure.
 *
 * @module
 */

import type { X86_64Registers } from "../../elf/core_notes.ts";

/** x86-64 system call numbers this module names. */
export const SYS = {
  read: 0,
  write: 1,
  poll: 7,
  select: 23,
  nanosleep: 35,
  accept: 43,
  recvfrom: 45,
  recvmsg: 47,
  wait4: 61,
  futex: 202,
  restart_syscall: 219,
  clock_nanosleep: 230,
  epoll_wait: 232,
  ppoll: 271,
  pselect6: 270,
  accept4: 288,
  epoll_pwait: 281,
  readv: 19,
  pread64: 17,
  connect: 42,
  sendto: 44,
  waitid: 247,
  pause: 34,
  sigsuspend: 130,
  epoll_pwait2: 441,
} as const;

const NAMES = new Map<number, string>(Object.entries(SYS).map(([name, n]) => [n, name]));

/** System calls whose first argument is a file descriptor. */
const FD_FIRST = new Set<number>([
  SYS.read,
  SYS.write,
  SYS.accept,
  SYS.accept4,
  SYS.recvfrom,
  SYS.recvmsg,
  SYS.readv,
  SYS.pread64,
  SYS.connect,
  SYS.sendto,
  SYS.epoll_wait,
  SYS.epoll_pwait,
  SYS.epoll_pwait2,
]);

/** One system call a thread is in. */
export interface SyscallCall {
  number: number;
  /** `futex`, `recvfrom`…; `syscall 999` for numbers this module does not name. */
  name: string;
  /** The file descriptor argument, for calls that take one first. */
  fd?: number;
  /** Raw arguments, `rdi` first. */
  args: readonly bigint[];
}

/** A futex wait: the address slept on and the operation. */
export interface FutexWait {
  address: bigint;
  /** `op & 0x7f`: 0 WAIT, 9 WAIT_BITSET, 6 LOCK_PI. */
  op: number;
  /** The value the waiter expected at `address`. */
  expected: number;
}

/**
 * The system call the thread is stopped in, or undefined when it is not in one
 * (`orig_rax` is -1: running user code, or stopped outside a call).
 *
 * @example A thread blocked in `recvfrom(12, …)`
 * ```ts
 * import assert from "node:assert/strict";
 * import { syscallOf } from "./syscalls.ts";
 * import { X86_64_REGISTER_NAMES } from "../../elf/core_notes.ts";
 * const regs = Object.fromEntries(X86_64_REGISTER_NAMES.map((n) => [n, 0n])) as never;
 * Object.assign(regs, { origRax: 45n, rdi: 12n });
 * assert.equal(syscallOf(regs)?.name, "recvfrom");
 * assert.equal(syscallOf(regs)?.fd, 12);
 * ```
 */
export function syscallOf(regs: X86_64Registers): SyscallCall | undefined {
  const raw = BigInt.asIntN(64, regs.origRax);
  if (raw < 0n || raw > 1024n) return undefined;
  const number = Number(raw);
  const args = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
  const call: SyscallCall = { number, name: NAMES.get(number) ?? `syscall ${number}`, args };
  if (FD_FIRST.has(number)) {
    const fd = Number(BigInt.asIntN(32, regs.rdi));
    if (fd >= 0) call.fd = fd;
  }
  return call;
}

/** Futex operations that wait: WAIT, WAIT_BITSET, LOCK_PI, LOCK_PI2, WAIT_REQUEUE_PI. */
const FUTEX_WAIT_OPS: ReadonlySet<number> = new Set([0, 9, 6, 13, 11]);

/** The futex operations that do not wait, as `describeSyscall` names them. */
const FUTEX_OP_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "FUTEX_WAKE"],
  [3, "FUTEX_REQUEUE"],
  [4, "FUTEX_CMP_REQUEUE"],
  [5, "FUTEX_WAKE_OP"],
  [7, "FUTEX_UNLOCK_PI"],
  [8, "FUTEX_TRYLOCK_PI"],
  [10, "FUTEX_WAKE_BITSET"],
  [12, "FUTEX_CMP_REQUEUE_PI"],
]);

/**
 * The futex a thread sleeps on: `futex(addr, op, val, …)`, or
 * `restart_syscall` after a timed futex wait was interrupted (a previous
 * ptrace stop or signal), whose argument registers still hold the futex's.
 * Undefined for any other call and for futex operations that do not wait.
 */
export function futexWaitOf(regs: X86_64Registers): FutexWait | undefined {
  const call = syscallOf(regs);
  if (call === undefined) return undefined;
  if (call.number !== SYS.futex && call.number !== SYS.restart_syscall) return undefined;
  const op = Number(regs.rsi & 0x7fn);
  if (!FUTEX_WAIT_OPS.has(op)) return undefined;
  return { address: regs.rdi, op, expected: Number(BigInt.asUintN(32, regs.rdx)) };
}

/**
 * How a system call is shown: `futex(0x7f…)`, `recvfrom(fd 12)`,
 * `clock_nanosleep`, with `what` (a descriptor's description) after an arrow.
 */
export function describeSyscall(call: SyscallCall, what?: string): string {
  if (call.fd !== undefined) {
    return `${call.name}(fd ${call.fd}${what === undefined ? "" : ` → ${what}`})`;
  }
  if (call.number === SYS.futex || call.number === SYS.restart_syscall) {
    const address = `0x${call.args[0]!.toString(16)}`;
    // A futex call that does not wait (a wake, a requeue) says so: the thread is not asleep.
    const op = Number(call.args[1]! & 0x7fn);
    if (call.number === SYS.restart_syscall || FUTEX_WAIT_OPS.has(op)) {
      return `${call.name}(${address})`;
    }
    return `${call.name}(${address}, ${FUTEX_OP_NAMES.get(op) ?? `op ${op}`})`;
  }
  if (call.number === SYS.wait4) {
    const pid = Number(BigInt.asIntN(32, call.args[0]!));
    return `wait4(${pid === -1 ? "any child" : `pid ${pid}`})`;
  }
  return call.name;
}
