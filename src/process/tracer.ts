/**
 * Pausing every thread of a live process for a consistent snapshot, and
 * always letting it go again.
 *
 * `PTRACE_SEIZE` + `PTRACE_INTERRUPT` never sends the target a signal; a
 * signal that arrives while a thread is held is handed back on detach.
 *
 * @module
 */

import { errno, openLibc } from "../../ffi/libc.ts";
import { Errno, SyscallError } from "../../ffi/errno.ts";
import { PermissionDeniedError, ProcessNotFoundError, TargetExitedError } from "../errors.ts";
import { listTids } from "./tasks.ts";
import { X86_64_REGISTER_NAMES, type X86_64Registers } from "../elf/core_notes.ts";

const PTRACE_GETREGS = 12;
const PTRACE_DETACH = 17;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
const WNOHANG = 1;
const WALL = 0x40000000;
const SIGTRAP = 5;
const PTRACE_EVENT_STOP = 128;
/** Re-list /proc/PID/task at most this many times while threads keep appearing. */
const MAX_ROUNDS = 50;
/** How long one thread may take to reach its stop. */
const STOP_TIMEOUT_MS = 2000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Every thread of a process, held stopped until disposed. */
export class ProcessTracer implements Disposable {
  readonly pid: number;
  /** Thread ids held, in the order they were attached. */
  readonly tids: number[] = [];
  /** Signals that arrived while a thread was held, to hand back on detach. */
  #pending = new Map<number, number>();
  #released = false;
  /** Nanosecond timestamp when the first thread was stopped. */
  readonly stoppedAt: number;

  private constructor(pid: number) {
    this.pid = pid;
    this.stoppedAt = performance.now();
  }

  /** Seizes and stops every thread of `pid`, re-listing until no new thread appears. */
  static stopAll(pid: number): ProcessTracer {
    const tracer = new ProcessTracer(pid);
    try {
      tracer.#attachAll();
    } catch (e) {
      tracer.release();
      throw e;
    }
    return tracer;
  }

  #attachAll(): void {
    const libc = openLibc();
    const held = new Set<number>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const fresh = listTids(this.pid).filter((tid) => !held.has(tid));
      if (fresh.length === 0) return;
      const seized: number[] = [];
      for (const tid of fresh) {
        if (libc.ptrace(PTRACE_SEIZE, tid, 0n, 0n) < 0n) {
          const code = errno();
          if (code === Errno.ESRCH) {
            if (tid === this.pid) throw new ProcessNotFoundError(this.pid);
            continue; // the thread exited between listing and seizing
          }
          if (code === Errno.EPERM) throw new PermissionDeniedError(this.pid, "ptrace");
          throw new SyscallError(`ptrace(PTRACE_SEIZE, ${tid})`, code);
        }
        held.add(tid);
        this.tids.push(tid);
        seized.push(tid);
        if (libc.ptrace(PTRACE_INTERRUPT, tid, 0n, 0n) < 0n && errno() !== Errno.ESRCH) {
          throw new SyscallError(`ptrace(PTRACE_INTERRUPT, ${tid})`, errno());
        }
      }
      for (const tid of seized) this.#waitStopped(tid);
    }
  }

  #waitStopped(tid: number): void {
    const libc = openLibc();
    const status = new Int32Array(1);
    const statusBytes = new Uint8Array(status.buffer);
    const deadline = performance.now() + STOP_TIMEOUT_MS;
    for (;;) {
      const r = libc.waitpid(tid, statusBytes, WALL | WNOHANG);
      if (r === tid) {
        const s = status[0]!;
        if ((s & 0xff) !== 0x7f) {
          // Exited or killed: the thread is gone.
          if (tid === this.pid) throw new TargetExitedError(this.pid);
          this.#forget(tid);
          return;
        }
        const sig = (s >> 8) & 0xff;
        const event = (s >> 16) & 0xff;
        if (event === PTRACE_EVENT_STOP || event !== 0) return;
        if (sig !== SIGTRAP) this.#pending.set(tid, sig);
        // A signal-delivery stop came first: the thread is stopped all the same.
        return;
      }
      if (r < 0) {
        if (tid === this.pid) throw new TargetExitedError(this.pid);
        this.#forget(tid);
        return;
      }
      if (performance.now() > deadline) {
        throw new SyscallError(`waitpid(${tid}) timed out; the thread did not stop`, Errno.EBUSY);
      }
      Atomics.wait(sleeper, 0, 0, 0.1);
    }
  }

  /**
   * The `fs_base` register of a held thread (under glibc on x86-64, its
   * `pthread_t`), or undefined when it cannot be read.
   */
  fsBase(tid: number): bigint | undefined {
    return this.registers(tid)?.fsBase;
  }

  /** The general registers of a held thread (`PTRACE_GETREGS`), or undefined when unreadable. */
  registers(tid: number): X86_64Registers | undefined {
    if (this.#released) return undefined;
    const regs = new BigUint64Array(X86_64_REGISTER_NAMES.length);
    const at = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(regs)));
    if (openLibc().ptrace(PTRACE_GETREGS, tid, 0n, at) < 0n) return undefined;
    return Object.fromEntries(
      X86_64_REGISTER_NAMES.map((name, i) => [name, regs[i]!]),
    ) as X86_64Registers;
  }

  #forget(tid: number): void {
    const i = this.tids.indexOf(tid);
    if (i >= 0) this.tids.splice(i, 1);
  }

  /** Detaches from every thread (they run again). Safe to call twice. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const libc = openLibc();
    for (const tid of this.tids) {
      libc.ptrace(PTRACE_DETACH, tid, 0n, BigInt(this.#pending.get(tid) ?? 0));
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
