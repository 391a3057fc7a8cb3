/**
 * The fault a signal handler caught, from the signal frame the kernel left on
 * the thread's stack. A process that handles fatal signals (Python's
 * `faulthandler`, enabled by `-X faulthandler`, `PYTHONFAULTHANDLER` or
 * pytest) prints its report, then raises the same signal again to die of it:
 * the core then records that second signal, sent by the thread to itself
 * from `raise()`, and the registers of the thread at that call. The fault
 * itself is further up the stack, in the frame the kernel pushed to run the
 * handler (x86-64 `struct rt_sigframe`: the handler's return address, then a
 * `ucontext` whose `sigcontext` holds the registers at the fault, the trap
 * number and, for a page fault, the faulting address `cr2`).
 *
 * A frame is recognised by its shape, every part of which must hold: the
 * user code and stack selectors (`cs` 0x33, `ss` 0x2b or unset), an
 * instruction pointer and a return address in executable mappings, a stack
 * pointer in a writable one, the pointer to the saved FPU state just above
 * the frame, and a trap number that raises the signal the process died of.
 * The innermost such frame above the stack pointer is the handler's.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { MapEntry } from "../../elf/maps.ts";
import { rethrowFatal } from "../../errors.ts";

/** Bytes of stack searched from the stack pointer up (as `crash_site.ts` scans). */
export const SIGNAL_FRAME_SCAN_BYTES = 64 * 1024;

/** Offsets in `struct rt_sigframe` (x86-64), from its start (the handler's return address). */
const FRAME = {
  /** `uc.uc_mcontext` (struct sigcontext) starts at 48: 8 + uc_flags, uc_link, uc_stack (24). */
  rsp: 48 + 120,
  rip: 48 + 128,
  eflags: 48 + 136,
  /** cs, gs, fs, ss: four 16-bit selectors in one word. */
  selectors: 48 + 144,
  err: 48 + 152,
  trapno: 48 + 160,
  cr2: 48 + 176,
  fpstate: 48 + 184,
  /** The frame's size: the handler's return address, `ucontext` (304), `siginfo` (128). */
  size: 440,
} as const;

/** How far above the frame the saved FPU state may start (it follows the frame, 64-aligned). */
const MAX_FPSTATE_GAP = 8192;

/** x86-64 trap numbers that make the kernel send each fault signal. */
const TRAPS: Readonly<Record<number, readonly number[]>> = {
  4: [6, 13], // SIGILL: #UD, #GP (a privileged instruction)
  7: [14, 17], // SIGBUS: #PF (past the end of a mapped file), #AC
  8: [0, 4, 16, 19], // SIGFPE: #DE, #OF, #MF, #XM
  11: [12, 13, 14], // SIGSEGV: #SS, #GP, #PF
};
/** The page fault trap: `cr2` holds the address accessed. */
const PAGE_FAULT = 14;

/** What a signal frame on the stack says about the fault a handler caught. */
export interface SignalFrame {
  /** Where the frame is (its first word: the handler's return address). */
  frameAddress: bigint;
  /** The instruction that faulted. */
  pc: bigint;
  /** The stack pointer at the fault. */
  sp: bigint;
  /** The x86-64 trap number (14: page fault). */
  trap: number;
  /** The address accessed, for a page fault (`cr2`). */
  faultAddress?: bigint;
}

/** Whether `signal` is one {@linkcode findSignalFrame} can find the fault of. */
export function isFaultSignal(signal: number): boolean {
  return TRAPS[signal] !== undefined;
}

/**
 * The innermost signal frame above `sp` (at most {@linkcode SIGNAL_FRAME_SCAN_BYTES}, within
 * its mapping) that holds a fault raising `signal`; undefined when there is none, or the
 * stack cannot be read.
 */
export function findSignalFrame(
  mem: MemoryReader,
  sp: bigint,
  maps: readonly MapEntry[],
  signal: number,
): SignalFrame | undefined {
  const traps = TRAPS[signal];
  const stack = maps.find((m) => m.start <= sp && sp < m.end);
  if (traps === undefined || stack === undefined) return undefined;
  const room = stack.end - sp;
  const length = Number(room < BigInt(SIGNAL_FRAME_SCAN_BYTES) ? room : SIGNAL_FRAME_SCAN_BYTES);
  let bytes: Uint8Array;
  try {
    bytes = mem.read(sp, length - (length % 8));
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
  return signalFrameIn(bytes, sp, maps, traps);
}

/**
 * The first offset of `bytes` (stack memory read at `base`) where a signal frame for one of
 * `traps` starts. Pure: the decoding {@linkcode findSignalFrame} does after its read.
 */
export function signalFrameIn(
  bytes: Uint8Array,
  base: bigint,
  maps: readonly MapEntry[],
  traps: readonly number[],
): SignalFrame | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (at: number) => view.getBigUint64(at, true);
  const executable = (a: bigint) =>
    maps.some((m) => m.start <= a && a < m.end && m.perms[2] === "x");
  const writable = (a: bigint) => maps.some((m) => m.start <= a && a < m.end && m.perms[1] === "w");
  for (let o = 0; o + FRAME.size <= bytes.byteLength; o += 8) {
    const selectors = word(o + FRAME.selectors);
    // cs 0x33 (64-bit user code); ss 0x2b, or 0 before kernels saved it (4.6).
    if ((selectors & 0xffffn) !== 0x33n || (selectors >> 16n & 0xffffffffn) !== 0n) continue;
    const ss = selectors >> 48n;
    if (ss !== 0x2bn && ss !== 0n) continue;
    const trap = word(o + FRAME.trapno);
    if (trap > 31n || !traps.includes(Number(trap))) continue;
    const frameAddress = base + BigInt(o);
    const fpstate = word(o + FRAME.fpstate);
    if (fpstate < frameAddress + BigInt(FRAME.size)) continue;
    if (fpstate > frameAddress + BigInt(FRAME.size + MAX_FPSTATE_GAP)) continue;
    const pc = word(o + FRAME.rip);
    const faultSp = word(o + FRAME.rsp);
    if (!executable(word(o)) || !executable(pc) || !writable(faultSp)) continue;
    const out: SignalFrame = { frameAddress, pc, sp: faultSp, trap: Number(trap) };
    if (trap === BigInt(PAGE_FAULT)) out.faultAddress = word(o + FRAME.cr2);
    return out;
  }
  return undefined;
}
