/**
 * Crash triage for cores: which thread received the fatal signal, and where
 * it was: the faulting instruction's function and library from the ELF symbol
 * tables of the mapped file, else of its separate debug file found by build id
 * (no libdw needed), and, for an abort, which of
 * `abort`, `__assert_fail`, `Py_FatalError`… appear as return addresses on
 * that thread's stack (an inference, said as one).
 *
 * A core is of a crash when its signal came from the kernel for a fault
 * (`si_code > 0`: SIGSEGV, SIGBUS, SIGFPE, SIGILL) or from the process itself
 * (`abort()`, `raise()`: the sender is its own pid). A signal sent by another
 * process (`kill`) and a core made by gcore are not crashes of a thread. The
 * sender's pid is the process's, whichever thread sent it: the thread that
 * received it raised it only when it stands where a thread signalling itself
 * does ({@linkcode signalOrigin}).
 *
 * @module
 */

import type { CrashOrigin } from "../../model.ts";
import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { MapEntry } from "../../elf/maps.ts";
import type { ElfFile, ElfNote } from "../../elf/elf_file.ts";
import type { Siginfo } from "../../elf/core_notes.ts";
import { NT_PRSTATUS, NT_SIGINFO } from "../../elf/core_notes.ts";
import { FunctionSymbols } from "../../elf/symbol_at.ts";
import { debugFileByBuildId } from "../../native/debug_images.ts";
import { type ElfOpener, groupMaps, loadObject, mapPath } from "../../walk/object_files.ts";
import { rethrowFatal } from "../../errors.ts";

/** Functions whose return addresses on a stack say how a SIGABRT came about. */
export const ABORT_FUNCTIONS: readonly string[] = [
  "Py_FatalError",
  "_Py_FatalErrorFunc",
  "_Py_FatalErrorFormat",
  "__assert_fail",
  "abort",
];
/** Bytes of stack scanned for return addresses, from the stack pointer up. */
export const STACK_SCAN_BYTES = 64 * 1024;

/** Where an address is: its library, the offset in it, and the function, when known. */
export interface CodeLocation {
  /** Base name of the mapped file. */
  library?: string;
  /** `address` minus the library's load bias (as the file numbers it). */
  libraryOffset?: bigint;
  /** The function from the symbol tables; unset when none holds the address. */
  symbol?: string;
  symbolOffset?: bigint;
}

/**
 * Signals a crash ends with: SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS (gdb's
 * gcore records SIGSTOP, or nothing, for a process it stopped).
 */
const CRASH_SIGNALS: ReadonlySet<number> = new Set([4, 5, 6, 7, 8, 11, 31]);

/** Whether `siginfo` says the process crashed (see the module's documentation). */
export function isCrash(siginfo: Siginfo | undefined, pid: number): boolean {
  if (siginfo === undefined || !CRASH_SIGNALS.has(siginfo.signo)) return false;
  if (siginfo.code > 0) return true;
  return siginfo.senderPid !== undefined && siginfo.senderPid === pid;
}

/** x86-64 system calls that send a signal: kill, rt_sigqueueinfo, tkill, tgkill, rt_tgsigqueueinfo. */
const SENDING_CALLS: ReadonlySet<bigint> = new Set([62n, 129n, 200n, 234n, 297n]);

/**
 * Functions a thread that signals itself stands in when the signal arrives (glibc's, before and
 * since 2.34; older `raise()` unblocks signals after its `tgkill`, so its last call is not one).
 */
export const RAISING_FUNCTIONS: readonly string[] = [
  "raise",
  "gsignal",
  "abort",
  "kill",
  "tgkill",
  "tkill",
  "sigqueue",
  "pthread_kill",
  "__pthread_kill",
  "__pthread_kill_implementation",
  "__pthread_kill_internal",
];

/**
 * How a crash's signal came about: `fault` when the kernel sent it (`si_code > 0`); else `self`
 * when the thread that received it raised it (its last system call, `origRax`, sends a signal,
 * or it stands in one of {@linkcode RAISING_FUNCTIONS}: `symbol`, the function at its PC);
 * else `process`: another thread of the process sent it (`pthread_kill`), and the thread's PC
 * is only where it was when the signal arrived.
 *
 * @example
 * ```ts
 * import { signalOrigin } from "./crash_site.ts";
 * import assert from "node:assert/strict";
 *
 * const tkill = { signo: 11, errno: 0, code: -6, senderPid: 7 };
 * assert.equal(signalOrigin(tkill, 234n, "__pthread_kill_implementation"), "self");
 * assert.equal(signalOrigin(tkill, 230n, "clock_nanosleep"), "process");
 * ```
 */
export function signalOrigin(
  siginfo: Siginfo,
  origRax: bigint,
  symbol: string | undefined,
): CrashOrigin {
  if (siginfo.code > 0) return "fault";
  if (SENDING_CALLS.has(BigInt.asIntN(64, origRax))) return "self";
  return symbol !== undefined && RAISING_FUNCTIONS.includes(symbol) ? "self" : "process";
}

/**
 * The index, among the core's `NT_PRSTATUS` notes, of the thread that received the signal: the
 * one whose notes the `NT_SIGINFO` note follows (the kernel writes it once, after the dumping
 * thread's status, which comes first); 0 when the core has no `NT_SIGINFO`.
 */
export function signalledThreadIndex(notes: readonly ElfNote[]): number {
  let threads = 0;
  for (const note of notes) {
    if (note.name !== "CORE") continue;
    if (note.type === NT_PRSTATUS) threads++;
    else if (note.type === NT_SIGINFO) return Math.max(threads - 1, 0);
  }
  return 0;
}

/** A mapped ELF file, its function symbols, and those of its debug file once looked for. */
interface MappedObject {
  bias: bigint;
  elf: ElfFile;
  symbols: FunctionSymbols;
  /** null: looked for, none. */
  debug?: FunctionSymbols | null;
}

/** Finds library, offset and function of addresses among a core's mappings. */
export class AddressLocator {
  readonly #maps: readonly MapEntry[];
  readonly #open: ElfOpener;
  readonly #groups: ReturnType<typeof groupMaps>;
  readonly #objects = new Map<string, MappedObject | undefined>();

  constructor(maps: readonly MapEntry[], open: ElfOpener) {
    this.#maps = maps;
    this.#open = open;
    this.#groups = groupMaps(maps);
  }

  /** Where `address` is; empty when no file is mapped there. */
  locate(address: bigint): CodeLocation {
    const mapping = this.#maps.find((m) => m.start <= address && address < m.end && m.path !== "");
    // Shared anonymous memory (`/dev/zero (deleted)`) is no library.
    if (mapping === undefined || mapping.path.startsWith("/dev/")) return {};
    if (mapping.path.startsWith("[")) return { library: mapping.path };
    const path = mapPath(mapping.path);
    const library = path.slice(path.lastIndexOf("/") + 1);
    const object = this.#object(path);
    if (object === undefined) return { library };
    const fileAddress = address - object.bias;
    const out: CodeLocation = { library, libraryOffset: fileAddress };
    const symbol = object.symbols.at(fileAddress) ?? this.#debugSymbols(object)?.at(fileAddress);
    if (symbol !== undefined) {
      out.symbol = symbol.name;
      out.symbolOffset = symbol.offset;
    }
    return out;
  }

  /**
   * The symbols of the object's separate debug file (found by build id where elfutils looks
   * first, `/usr/lib/debug/.build-id/`): a stripped library's full `.symtab`.
   */
  #debugSymbols(object: MappedObject): FunctionSymbols | undefined {
    if (object.debug === undefined) {
      object.debug = null;
      try {
        const id = object.elf.buildId();
        const file = id === undefined ? undefined : debugFileByBuildId(id);
        const elf = file === undefined ? undefined : this.#open(file);
        if (elf !== undefined) object.debug = new FunctionSymbols(elf);
      } catch (e) {
        rethrowFatal(e);
      }
    }
    return object.debug ?? undefined;
  }

  #object(path: string): MappedObject | undefined {
    if (this.#objects.has(path)) return this.#objects.get(path);
    let object: MappedObject | undefined;
    try {
      const loaded = loadObject(path, this.#groups, this.#open);
      if (loaded !== undefined) {
        object = { bias: loaded.bias, elf: loaded.elf, symbols: new FunctionSymbols(loaded.elf) };
      }
    } catch (e) {
      rethrowFatal(e);
    }
    this.#objects.set(path, object);
    return object;
  }
}

/**
 * The stack's bytes from `sp` up: at most {@linkcode STACK_SCAN_BYTES}, within its mapping, in
 * whole words; undefined when `sp` is in no mapping or the memory cannot be read.
 */
export function stackFrom(
  mem: MemoryReader,
  sp: bigint,
  maps: readonly MapEntry[],
): Uint8Array | undefined {
  const stack = maps.find((m) => m.start <= sp && sp < m.end);
  if (stack === undefined) return undefined;
  const room = stack.end - sp;
  const length = Number(room < BigInt(STACK_SCAN_BYTES) ? room : BigInt(STACK_SCAN_BYTES));
  try {
    return mem.read(sp, length - (length % 8));
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/**
 * The {@linkcode ABORT_FUNCTIONS} that words of the stack from `sp` up point into (return
 * addresses, or stale values: an inference), innermost first, each once.
 */
export function abortFunctionsOnStack(
  mem: MemoryReader,
  sp: bigint,
  maps: readonly MapEntry[],
  locator: AddressLocator,
): string[] {
  const bytes = stackFrom(mem, sp, maps);
  if (bytes === undefined) return [];
  const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const executable = maps.filter((m) => m.perms[2] === "x" && m.path !== "");
  const found: string[] = [];
  const cache = new Map<bigint, string | undefined>();
  for (let o = 0; o + 8 <= words.byteLength; o += 8) {
    const word = words.getBigUint64(o, true);
    if (!executable.some((m) => m.start <= word && word < m.end)) continue;
    let name = cache.get(word);
    if (!cache.has(word)) {
      // A return address points just past its call: the call itself is one byte before.
      name = locator.locate(word - 1n).symbol;
      cache.set(word, name);
    }
    if (name !== undefined && ABORT_FUNCTIONS.includes(name) && !found.includes(name)) {
      found.push(name);
    }
  }
  return found;
}
