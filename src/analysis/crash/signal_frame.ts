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
 * The innermost such frame above the stack pointer is the handler's; it is
 * kept only when it records a fault, not a signal sent ({@linkcode isFault}).
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { MapEntry } from "../../elf/maps.ts";
import { rethrowFatal } from "../../errors.ts";
import { stackFrom } from "./crash_site.ts";

/** Offsets in `struct rt_sigframe` (x86-64), from its start (the handler's return address). */
const FRAME = {
  /** `uc.uc_mcontext` (struct sigcontext) starts at 48: 8 + uc_flags, uc_link, uc_stack (24). */
  rsp: 48 + 120,
  rip: 48 + 128,
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

/** x86-64 trap numbers that make the kernel send each fault signal (`arch/x86/kernel/traps.c`). */
const TRAPS: Readonly<Record<number, readonly number[]>> = {
  4: [6], // SIGILL: #UD
  7: [11, 12, 14, 17], // SIGBUS: #NP, #SS, #PF (past the end of a mapped file), #AC
  8: [0, 16, 19], // SIGFPE: #DE, #MF, #XM
  11: [4, 5, 13, 14], // SIGSEGV: #OF, #BR, #GP, #PF
};
const SIGFPE = 8;
const SIGSEGV = 11;
const DIVIDE_ERROR = 0;
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
  /** The trap's error code (for a page fault: 2, a write; 16, an instruction fetch). */
  error: number;
  /** The address accessed, for a page fault (`cr2`). */
  faultAddress?: bigint;
}

/** Whether `signal` is one {@linkcode findSignalFrame} can find the fault of. */
export function isFaultSignal(signal: number): boolean {
  return TRAPS[signal] !== undefined;
}

/**
 * The innermost signal frame in the stack above `sp` (as `stackFrom` reads it) that holds a
 * fault raising `signal`; undefined when there is none, or the stack cannot be read.
 */
export function findSignalFrame(
  mem: MemoryReader,
  sp: bigint,
  maps: readonly MapEntry[],
  signal: number,
): SignalFrame | undefined {
  const traps = TRAPS[signal];
  const bytes = traps === undefined ? undefined : stackFrom(mem, sp, maps);
  if (traps === undefined || bytes === undefined) return undefined;
  const frame = signalFrameIn(bytes, sp, maps, traps);
  if (frame === undefined) return undefined;
  let code: Uint8Array | undefined;
  try {
    code = mem.read(frame.pc - 2n, CODE_BYTES + 2);
  } catch (e) {
    rethrowFatal(e);
  }
  return isFault(frame, code, maps, signal) ? frame : undefined;
}

/** Bytes read at the faulting instruction: its prefixes, opcode and ModRM. */
const CODE_BYTES = 16;

/**
 * Whether the frame records the fault itself. A frame is also pushed for a signal sent with
 * `kill` or `raise` (faulthandler catches those too), and the kernel then saves the thread's
 * last trap, its number, error code and address, stale. Such a frame is refused when the
 * instruction before the saved one is a `syscall` (the signal came as a system call
 * returned: a `kill` the thread made, or any signal while it waited in one), for a divide
 * error when the saved instruction is no division, and for a page fault when its address lies
 * in a mapping that allows that access (the kernel served it: not what ended the process).
 * `code`: the bytes from two before the saved instruction (undefined: unreadable).
 */
export function isFault(
  frame: SignalFrame,
  code: Uint8Array | undefined,
  maps: readonly MapEntry[],
  signal: number,
): boolean {
  if (code !== undefined && code[0] === 0x0f && code[1] === 0x05) return false;
  if (signal === SIGFPE && frame.trap === DIVIDE_ERROR) {
    return code !== undefined && isDivision(code.subarray(2));
  }
  if (signal === SIGSEGV && frame.trap === PAGE_FAULT && frame.faultAddress !== undefined) {
    const at = frame.faultAddress;
    const mapping = maps.find((m) => m.start <= at && at < m.end);
    const needed = (frame.error & 16) !== 0 ? 2 : (frame.error & 2) !== 0 ? 1 : 0;
    if (mapping !== undefined && mapping.perms[needed] !== "-") return false;
  }
  return true;
}

/**
 * Whether `code` starts with a `div` or `idiv` (opcode F6 or F7 with ModRM reg 6 or 7), after
 * legacy and REX prefixes.
 */
export function isDivision(code: Uint8Array): boolean {
  let i = 0;
  while (i < code.length && isPrefix(code[i]!)) i++;
  const opcode = code[i];
  const modrm = code[i + 1];
  if ((opcode !== 0xf6 && opcode !== 0xf7) || modrm === undefined) return false;
  const reg = (modrm >> 3) & 7;
  return reg === 6 || reg === 7;
}

function isPrefix(byte: number): boolean {
  return (byte >= 0x40 && byte <= 0x4f) || // REX
    [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65].includes(byte);
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
    if (!traps.includes(Number(trap))) continue;
    const frameAddress = base + BigInt(o);
    const fpstate = word(o + FRAME.fpstate);
    if (fpstate < frameAddress + BigInt(FRAME.size)) continue;
    if (fpstate > frameAddress + BigInt(FRAME.size + MAX_FPSTATE_GAP)) continue;
    const pc = word(o + FRAME.rip);
    const faultSp = word(o + FRAME.rsp);
    if (!executable(word(o)) || !executable(pc) || !writable(faultSp)) continue;
    const out: SignalFrame = {
      frameAddress,
      pc,
      sp: faultSp,
      trap: Number(trap),
      error: Number(word(o + FRAME.err) & 0xffffn),
    };
    if (trap === BigInt(PAGE_FAULT)) out.faultAddress = word(o + FRAME.cr2);
    return out;
  }
  return undefined;
}
