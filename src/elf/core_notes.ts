/**
 * Pure parsers for the notes of an x86-64 Linux core file: each takes the
 * `desc` bytes of one note and returns plain values. Every count read from the
 * bytes is bounded by the length of `desc`.
 *
 * @module
 */

/** Note types of a core (owner `CORE`, except `NT_GNU_BUILD_ID` with owner `GNU`). */
export const NT_PRSTATUS = 1;
/** `struct elf_prpsinfo`. */
export const NT_PRPSINFO = 3;
/** The auxiliary vector. */
export const NT_AUXV = 6;
/** `siginfo_t` of the signal that ended the process. */
export const NT_SIGINFO = 0x53494749;
/** The file-backed mappings. */
export const NT_FILE = 0x46494c45;
/** The build id of an ELF file (owner `GNU`). */
export const NT_GNU_BUILD_ID = 3;

/** Auxiliary vector keys used by the core reader. */
export const AT_PHDR = 3;
/** Address of the program interpreter (ld.so). */
export const AT_BASE = 7;
/** Entry point of the program. */
export const AT_ENTRY = 9;
/** Address of the vDSO's ELF header. */
export const AT_SYSINFO_EHDR = 33;
/** Address of the file name the program was executed as (a C string on the initial stack). */
export const AT_EXECFN = 31;

/** A malformed note payload. */
export class CoreNoteError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "CoreNoteError";
  }
}

/** x86-64 `user_regs_struct`, in kernel order. */
export const X86_64_REGISTER_NAMES = [
  "r15",
  "r14",
  "r13",
  "r12",
  "rbp",
  "rbx",
  "r11",
  "r10",
  "r9",
  "r8",
  "rax",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "origRax",
  "rip",
  "cs",
  "eflags",
  "rsp",
  "ss",
  "fsBase",
  "gsBase",
  "ds",
  "es",
  "fs",
  "gs",
] as const;

/** One register name of {@linkcode X86_64_REGISTER_NAMES}. */
export type X86_64RegisterName = typeof X86_64_REGISTER_NAMES[number];
/** The general registers of one thread. */
export type X86_64Registers = Record<X86_64RegisterName, bigint>;

/** `struct elf_prstatus`: one per thread. `pid` is the thread's id (TID). */
export interface Prstatus {
  /** `pr_cursig`: the signal the thread was stopped by. */
  signal: number;
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  registers: X86_64Registers;
}

/** `struct elf_prpsinfo`: the process. */
export interface Prpsinfo {
  /** `pr_sname`, the state letter as in `ps` (`R`, `S`, `D`, …). */
  state: string;
  zombie: boolean;
  nice: number;
  flags: bigint;
  uid: number;
  gid: number;
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  /** Executable name, at most 15 characters. */
  fname: string;
  /** Command line, arguments separated by spaces, at most 79 characters. */
  psargs: string;
}

/** The parts of `siginfo_t` that say why the process ended. */
export interface Siginfo {
  signo: number;
  errno: number;
  code: number;
  /** For signals sent by a process (`kill`, `tkill`, `sigqueue`, …). */
  senderPid?: number;
  senderUid?: number;
  /** For SIGSEGV/SIGBUS/SIGILL/SIGFPE raised by the kernel. */
  faultAddress?: bigint;
}

/** One `NT_FILE` entry: `[start, end)` maps `path` from byte `fileOffset`. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  fileOffset: number;
  path: string;
}

const PRSTATUS_SIZE = 336;
const PRSTATUS_REGS = 112;
const PRPSINFO_SIZE = 136;
const SIGINFO_MIN_SIZE = 24;
const FAULT_SIGNALS = new Set([4, 7, 8, 11]); // SIGILL, SIGBUS, SIGFPE, SIGSEGV
/** SI_USER, SI_QUEUE, SI_MESGQ, SI_TKILL: these carry the sender's pid and uid. */
const SENDER_CODES = new Set([0, -1, -3, -6]);

function view(desc: Uint8Array): DataView {
  return new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
}

function need(desc: Uint8Array, size: number, what: string): void {
  if (desc.length < size) {
    throw new CoreNoteError(
      `Cannot parse ${what} note: it holds ${desc.length} bytes, at least ${size} expected`,
    );
  }
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/**
 * Parses an `NT_PRSTATUS` payload (x86-64 `struct elf_prstatus`, 336 bytes).
 *
 * @example Registers and ids
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePrstatus } from "./core_notes.ts";
 * const desc = new Uint8Array(336);
 * const dv = new DataView(desc.buffer);
 * dv.setInt16(12, 6, true); // pr_cursig
 * dv.setInt32(32, 42, true); // pr_pid
 * dv.setBigUint64(112 + 16 * 8, 0x401000n, true); // rip
 * const status = parsePrstatus(desc);
 * assert.equal(status.signal, 6);
 * assert.equal(status.pid, 42);
 * assert.equal(status.registers.rip, 0x401000n);
 * ```
 */
export function parsePrstatus(desc: Uint8Array): Prstatus {
  need(desc, PRSTATUS_SIZE - 8, "NT_PRSTATUS");
  const dv = view(desc);
  const registers = {} as X86_64Registers;
  X86_64_REGISTER_NAMES.forEach((name, i) => {
    registers[name] = dv.getBigUint64(PRSTATUS_REGS + i * 8, true);
  });
  return {
    signal: dv.getInt16(12, true),
    pid: dv.getInt32(32, true),
    ppid: dv.getInt32(36, true),
    pgrp: dv.getInt32(40, true),
    sid: dv.getInt32(44, true),
    registers,
  };
}

/**
 * Parses an `NT_PRPSINFO` payload (x86-64 `struct elf_prpsinfo`, 136 bytes).
 *
 * @example Name and arguments
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePrpsinfo } from "./core_notes.ts";
 * const desc = new Uint8Array(136);
 * desc[1] = "S".charCodeAt(0);
 * desc.set(new TextEncoder().encode("sleep"), 40);
 * desc.set(new TextEncoder().encode("sleep 100 "), 56);
 * const info = parsePrpsinfo(desc);
 * assert.equal(info.state, "S");
 * assert.equal(info.fname, "sleep");
 * assert.equal(info.psargs, "sleep 100 ");
 * ```
 */
export function parsePrpsinfo(desc: Uint8Array): Prpsinfo {
  need(desc, PRPSINFO_SIZE, "NT_PRPSINFO");
  const dv = view(desc);
  return {
    state: String.fromCharCode(dv.getUint8(1)),
    zombie: dv.getUint8(2) !== 0,
    nice: dv.getInt8(3),
    flags: dv.getBigUint64(8, true),
    uid: dv.getUint32(16, true),
    gid: dv.getUint32(20, true),
    pid: dv.getInt32(24, true),
    ppid: dv.getInt32(28, true),
    pgrp: dv.getInt32(32, true),
    sid: dv.getInt32(36, true),
    fname: cString(desc.subarray(40, 56)),
    psargs: cString(desc.subarray(56, 136)),
  };
}

/**
 * Parses an `NT_SIGINFO` payload (x86-64 `siginfo_t`, 128 bytes).
 *
 * @example A SIGSEGV at address 0x10
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSiginfo } from "./core_notes.ts";
 * const desc = new Uint8Array(128);
 * const dv = new DataView(desc.buffer);
 * dv.setInt32(0, 11, true);
 * dv.setInt32(8, 1, true); // SEGV_MAPERR
 * dv.setBigUint64(16, 0x10n, true);
 * assert.deepEqual(parseSiginfo(desc), { signo: 11, errno: 0, code: 1, faultAddress: 0x10n });
 * ```
 */
export function parseSiginfo(desc: Uint8Array): Siginfo {
  need(desc, SIGINFO_MIN_SIZE, "NT_SIGINFO");
  const dv = view(desc);
  const info: Siginfo = {
    signo: dv.getInt32(0, true),
    errno: dv.getInt32(4, true),
    code: dv.getInt32(8, true),
  };
  if (info.code > 0 && FAULT_SIGNALS.has(info.signo)) {
    info.faultAddress = dv.getBigUint64(16, true);
  } else if (SENDER_CODES.has(info.code)) {
    info.senderPid = dv.getInt32(16, true);
    info.senderUid = dv.getUint32(20, true);
  }
  return info;
}

/**
 * Parses an `NT_FILE` payload: `count`, `page_size`, `count` triples
 * `(start, end, page_offset)`, then `count` NUL-terminated paths.
 *
 * @example One mapping
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFileNote } from "./core_notes.ts";
 * const path = new TextEncoder().encode("/bin/sleep\0");
 * const desc = new Uint8Array(40 + path.length);
 * const dv = new DataView(desc.buffer);
 * dv.setBigUint64(0, 1n, true);
 * dv.setBigUint64(8, 4096n, true);
 * dv.setBigUint64(16, 0x1000n, true);
 * dv.setBigUint64(24, 0x3000n, true);
 * dv.setBigUint64(32, 2n, true);
 * desc.set(path, 40);
 * assert.deepEqual(parseFileNote(desc), [
 *   { start: 0x1000n, end: 0x3000n, fileOffset: 8192, path: "/bin/sleep" },
 * ]);
 * ```
 */
export function parseFileNote(desc: Uint8Array): FileMapping[] {
  need(desc, 16, "NT_FILE");
  const dv = view(desc);
  const count = dv.getBigUint64(0, true);
  const pageSize = dv.getBigUint64(8, true);
  // Each entry takes 24 bytes of triple plus at least one byte of name.
  if (count > BigInt(Math.floor((desc.length - 16) / 25))) {
    throw new CoreNoteError(
      `Cannot parse NT_FILE note: it claims ${count} mappings but holds ${desc.length} bytes`,
    );
  }
  const n = Number(count);
  const out: FileMapping[] = [];
  let name = 16 + n * 24;
  for (let i = 0; i < n; i++) {
    const at = 16 + i * 24;
    const end = desc.indexOf(0, name);
    const stop = end < 0 ? desc.length : end;
    out.push({
      start: dv.getBigUint64(at, true),
      end: dv.getBigUint64(at + 8, true),
      fileOffset: Number(dv.getBigUint64(at + 16, true) * pageSize),
      path: new TextDecoder().decode(desc.subarray(name, stop)),
    });
    name = stop + 1;
  }
  return out;
}

/**
 * Parses an `NT_AUXV` payload: `(type, value)` word pairs up to `AT_NULL`.
 *
 * @example Two entries
 * ```ts
 * import assert from "node:assert/strict";
 * import { AT_ENTRY, parseAuxv } from "./core_notes.ts";
 * const desc = new Uint8Array(32);
 * const dv = new DataView(desc.buffer);
 * dv.setBigUint64(0, 9n, true);
 * dv.setBigUint64(8, 0x401000n, true);
 * assert.equal(parseAuxv(desc).get(AT_ENTRY), 0x401000n);
 * ```
 */
export function parseAuxv(desc: Uint8Array): Map<number, bigint> {
  const dv = view(desc);
  const out = new Map<number, bigint>();
  for (let at = 0; at + 16 <= desc.length; at += 16) {
    const type = dv.getBigUint64(at, true);
    if (type === 0n) break;
    if (type > 0xffffffffn) continue;
    if (!out.has(Number(type))) out.set(Number(type), dv.getBigUint64(at + 8, true));
  }
  return out;
}
