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
import { listTids, taskExited } from "./tasks.ts";
import { pathExists } from "../fs_checks.ts";
import { X86_64_REGISTER_NAMES, type X86_64Registers } from "../elf/core_notes.ts";
import { sleepSync } from "../sleep_sync.ts";

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
/** Seizes of one listed thread before a refusal is believed (see `#seize`). */
const SEIZE_ATTEMPTS = 3;
/** How long one thread may take to reach its stop. */
const STOP_TIMEOUT_MS = 2000;

/** How long {@linkcode detachRunning} waits for a thread to stop before it gives up. */
const DETACH_STOP_TIMEOUT_MS = 200;

/**
 * Detaches a thread that is seized but running: interrupts it, waits for its stop (at most
 * {@linkcode DETACH_STOP_TIMEOUT_MS}) and detaches it. A thread that is gone needs nothing.
 */
function detachRunning(tid: number, signal: bigint): void {
  const libc = openLibc();
  if (libc.ptrace(PTRACE_INTERRUPT, tid, 0n, 0n) < 0n) return; // gone, or not ours
  const status = new Uint8Array(4);
  const deadline = performance.now() + DETACH_STOP_TIMEOUT_MS;
  for (;;) {
    const r = libc.waitpid(tid, status, WALL | WNOHANG);
    if (r === tid) break;
    if (r < 0 || performance.now() > deadline) return;
    sleepSync(0.1);
  }
  libc.ptrace(PTRACE_DETACH, tid, 0n, signal);
}

/** Every thread of a process, held stopped until disposed. */
export class ProcessTracer implements Disposable {
  readonly pid: number;
  /** Thread ids held, in the order they were attached. */
  readonly tids: number[] = [];
  /** Signals that arrived while a thread was held, to hand back on detach. */
  #pending = new Map<number, number>();
  #released = false;
  /** `performance.now()` when the first thread was asked to stop (set by {@linkcode stopAll}). */
  stoppedAt = 0;

  private constructor(pid: number) {
    this.pid = pid;
  }

  /**
   * Seizes and stops every thread of `pid`, re-listing until no new thread appears. On an
   * error every thread already seized runs again before it is thrown.
   */
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

  /**
   * Each round seizes every thread not held yet (a seized thread runs on), then interrupts
   * them one after the other and only then waits for their stops: the target is stopped
   * from the first interrupt, so seizing stays outside its pause, and the threads reach
   * their stops while the later ones are being interrupted.
   */
  #attachAll(): void {
    const libc = openLibc();
    const held = new Set<number>();
    /** Threads listed that had exited (zombies): never held. */
    const skipped = new Set<number>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const fresh = listTids(this.pid).filter((tid) => !held.has(tid) && !skipped.has(tid));
      if (fresh.length === 0) break;
      const seized: number[] = [];
      for (const tid of fresh) {
        if (!this.#seize(tid)) {
          skipped.add(tid);
          continue;
        }
        held.add(tid);
        this.tids.push(tid);
        seized.push(tid);
      }
      if (this.stoppedAt === 0) this.stoppedAt = performance.now();
      for (const tid of seized) {
        if (libc.ptrace(PTRACE_INTERRUPT, tid, 0n, 0n) < 0n && errno() !== Errno.ESRCH) {
          throw new SyscallError(`ptrace(PTRACE_INTERRUPT, ${tid})`, errno());
        }
      }
      this.#waitStopped(seized);
    }
    // Every thread had exited: the process is a zombie (or all but gone).
    if (this.tids.length === 0) throw new TargetExitedError(this.pid);
  }

  /**
   * Seizes one listed thread; false when it had exited. A thread that exits after the listing
   * cannot be traced: EPERM while it is a zombie (an ended main thread stays one while other
   * threads run), ESRCH once it is gone. Its id may even be taken at once by a new thread
   * (the kernel reuses ids): a refusal counts only when a thread still there refuses again.
   */
  #seize(tid: number): boolean {
    const libc = openLibc();
    for (let attempt = 1;; attempt++) {
      if (libc.ptrace(PTRACE_SEIZE, tid, 0n, 0n) >= 0n) return true;
      const code = errno();
      if (code !== Errno.ESRCH && code !== Errno.EPERM) {
        throw new SyscallError(`ptrace(PTRACE_SEIZE, ${tid})`, code);
      }
      if (tid === this.pid && !pathExists(`/proc/${this.pid}`)) {
        throw new ProcessNotFoundError(this.pid);
      }
      if (taskExited(this.pid, tid)) return false;
      if (attempt === SEIZE_ATTEMPTS) {
        if (code === Errno.ESRCH) return false;
        throw new PermissionDeniedError(this.pid, "ptrace");
      }
    }
  }

  /**
   * Waits until every thread of `tids` is stopped (or gone), taking them in whatever order
   * they stop; fails when none of those left stops for {@linkcode STOP_TIMEOUT_MS}.
   */
  #waitStopped(tids: readonly number[]): void {
    const libc = openLibc();
    const status = new Int32Array(1);
    const statusBytes = new Uint8Array(status.buffer);
    let waiting = [...tids];
    let deadline = performance.now() + STOP_TIMEOUT_MS;
    while (waiting.length > 0) {
      const still: number[] = [];
      for (const tid of waiting) {
        const r = libc.waitpid(tid, statusBytes, WALL | WNOHANG);
        if (r === 0) still.push(tid);
        else this.#stopped(tid, r === tid ? status[0]! : undefined);
      }
      if (still.length === waiting.length) {
        if (performance.now() > deadline) {
          throw new SyscallError(
            `waitpid(${still[0]}) timed out; the thread did not stop`,
            Errno.EBUSY,
          );
        }
        sleepSync(0.1);
      } else {
        deadline = performance.now() + STOP_TIMEOUT_MS;
      }
      waiting = still;
    }
  }

  /** Notes what `waitpid` said of a held thread: its wait status, or undefined for an error. */
  #stopped(tid: number, s: number | undefined): void {
    if (s === undefined || (s & 0xff) !== 0x7f) {
      // Exited or killed (or no longer ours): the thread is gone. The main thread may end
      // alone (pthread_exit) while the others run on; when all end, none is left held.
      if (tid === this.pid && !pathExists(`/proc/${this.pid}`)) {
        throw new TargetExitedError(this.pid);
      }
      this.#forget(tid);
      return;
    }
    const sig = (s >> 8) & 0xff;
    const event = (s >> 16) & 0xff;
    if (event === PTRACE_EVENT_STOP || event !== 0) return;
    // A signal-delivery stop came first: the thread is stopped all the same.
    if (sig !== SIGTRAP) this.#pending.set(tid, sig);
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
      const signal = BigInt(this.#pending.get(tid) ?? 0);
      if (libc.ptrace(PTRACE_DETACH, tid, 0n, signal) < 0n && errno() === Errno.ESRCH) {
        // Seized but not stopped (an error came between seizing and its stop): ptrace only
        // detaches a stopped thread, so stop it first, for a moment at most.
        detachRunning(tid, signal);
      }
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
