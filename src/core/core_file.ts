/**
 * Opening an x86-64 Linux core file: header checks, `PT_LOAD` segments and
 * notes (threads, process info, signal, file mappings, auxiliary vector). The
 * file is read lazily by offset, never loaded whole; gzip, zstd and lz4 cores are
 * first decompressed (streaming) into a temporary file that
 * `[Symbol.dispose]` deletes.
 *
 * @module
 */

import { type ByteSource, ElfFile, type ElfNote, parseNotes } from "../elf/elf_file.ts";
import { openFileReader } from "../memory/file_reader.ts";
import {
  type FileMapping,
  NT_AUXV,
  NT_FILE,
  NT_PRPSINFO,
  NT_PRSTATUS,
  NT_SIGINFO,
  parseAuxv,
  parseFileNote,
  parsePrpsinfo,
  parsePrstatus,
  parseSiginfo,
  type Prpsinfo,
  type Prstatus,
  type Siginfo,
  type X86_64Registers,
} from "../elf/core_notes.ts";
import {
  CORE_PERMISSION_HINT,
  CoreEmptyError,
  CoreIsDirectoryError,
  CoreNotesError,
  CoreNotFoundError,
  CoreNotRegularFileError,
  CoreUnreadableError,
  NotCoreError,
  NotElfError,
  WrongArchitectureError,
} from "./core_errors.ts";
import {
  type Compression,
  decompressToTemp,
  detectCompression,
  unreadCompression,
} from "./decompress.ts";
import { type CoreExecutable, findExecutable } from "./core_executable.ts";

const ET_CORE = 4;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PT_NOTE = 4;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;

/** One `PT_LOAD` segment: `[start, end)` in memory, the first `filesz` bytes at `offset` in the core. */
export interface LoadSegment {
  start: bigint;
  end: bigint;
  offset: number;
  filesz: number;
  /** `p_flags` as letters: `r`/`w`/`x` or `-`, e.g. `r-x`. */
  perms: string;
}

/** One thread of the core (one `NT_PRSTATUS`), the first being the one that crashed. */
export interface CoreThread {
  tid: number;
  /** The signal the thread was stopped by (`pr_cursig`). */
  signal: number;
  registers: X86_64Registers;
}

/** Options for {@linkcode openCore}. */
export interface OpenCoreOptions {
  /** Directory for the decompressed copy of a compressed core (default: the system's). */
  tempDir?: string;
}

/** An opened core file. Dispose it to close the file and delete any temporary copy. */
export class CoreFile implements Disposable {
  /** The path given to {@linkcode openCore}. */
  readonly path: string;
  /** The compression the core was stored with, if any. */
  readonly compression: Compression | undefined;
  /** The decompressed copy of a compressed core (deleted on dispose). */
  readonly tempPath: string | undefined;
  /** Bytes of the (decompressed) core. */
  readonly source: ByteSource;
  /** The file is shorter than its segments claim: reads of the missing part fail. */
  readonly truncated: boolean;
  /** Size the core should have: the furthest `p_offset + p_filesz`. */
  readonly expectedSize: number;
  readonly loads: readonly LoadSegment[];
  readonly notes: readonly ElfNote[];
  readonly threads: readonly CoreThread[];
  readonly psinfo: Prpsinfo | undefined;
  /** From `NT_SIGINFO`, else the first thread's `pr_cursig`, else `undefined`. */
  readonly siginfo: Siginfo | undefined;
  /** The `NT_FILE` entries, sorted by start address. */
  readonly files: readonly FileMapping[];
  readonly auxv: ReadonlyMap<number, bigint>;
  /** The process id: from `NT_PRPSINFO`, else the first thread's. */
  readonly pid: number;
  /** The executable the core says was running (see {@linkcode CoreExecutable}). */
  readonly executable: CoreExecutable;
  /** Things that went wrong but left the core usable (e.g. a compressed stream cut short). */
  readonly warnings: string[] = [];
  #dispose: () => void;

  constructor(path: string, source: ByteSource & Disposable, extra: {
    compression?: Compression;
    tempPath?: string;
  } = {}) {
    this.path = path;
    this.source = source;
    this.compression = extra.compression;
    this.tempPath = extra.tempPath;
    this.#dispose = () => {
      source[Symbol.dispose]();
      if (extra.tempPath) {
        try {
          Deno.removeSync(extra.tempPath);
        } catch { /* already gone */ }
      }
    };
    try {
      checkHeader(path, source);
      const headers = programHeaders(path, source);
      this.loads = headers.filter((h) => h.type === PT_LOAD).map((h) => ({
        start: h.vaddr,
        end: h.vaddr + BigInt(h.memsz),
        offset: h.offset,
        filesz: h.filesz,
        perms: (h.flags & PF_R ? "r" : "-") + (h.flags & PF_W ? "w" : "-") +
          (h.flags & PF_X ? "x" : "-"),
      })).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      this.expectedSize = headers.reduce((max, h) => Math.max(max, h.offset + h.filesz), 0);
      this.truncated = source.size < this.expectedSize;
      this.notes = readNotes(path, source, headers.filter((h) => h.type === PT_NOTE));
      const core = this.notes.filter((n) => n.name === "CORE");
      const one = (type: number) => core.find((n) => n.type === type)?.desc;
      this.threads = core.filter((n) => n.type === NT_PRSTATUS).map((n) =>
        thread(parsePrstatus(n.desc))
      );
      const psinfo = one(NT_PRPSINFO);
      this.psinfo = psinfo ? parsePrpsinfo(psinfo) : undefined;
      const siginfo = one(NT_SIGINFO);
      const first = this.threads[0];
      this.siginfo = siginfo
        ? parseSiginfo(siginfo)
        : first
        ? { signo: first.signal, errno: 0, code: 0 }
        : undefined;
      const files = one(NT_FILE);
      this.files = files ? parseFileNote(files).sort((a, b) => (a.start < b.start ? -1 : 1)) : [];
      const auxv = one(NT_AUXV);
      this.auxv = auxv ? parseAuxv(auxv) : new Map();
      this.pid = this.psinfo?.pid ?? first?.tid ?? 0;
      if (this.threads.length === 0) {
        throw new CoreNotesError(path, "it has no NT_PRSTATUS note (no thread)");
      }
      this.executable = findExecutable(this);
    } catch (e) {
      this.#dispose();
      if (e instanceof SyntaxError && !(e instanceof CoreNotesError)) {
        throw new CoreNotesError(path, e.message);
      }
      throw e;
    }
  }

  /** The `PT_LOAD` segment whose `[start, end)` holds `address`. */
  loadAt(address: bigint): LoadSegment | undefined {
    let lo = 0;
    let hi = this.loads.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.loads[mid]!.end <= address) lo = mid + 1;
      else hi = mid;
    }
    const load = this.loads[lo];
    return load && load.start <= address ? load : undefined;
  }

  /**
   * Reads `length` bytes at `address` from the memory dumped in the core only
   * (no file fallback), or returns `undefined` when any byte is not there.
   */
  readDumped(address: bigint, length: number): Uint8Array | undefined {
    const load = this.loadAt(address);
    if (!load) return undefined;
    const at = address - load.start;
    if (at + BigInt(length) > BigInt(load.filesz)) return undefined;
    const offset = load.offset + Number(at);
    if (offset + length > this.source.size) return undefined;
    return this.source.read(offset, length);
  }

  /** Reads the NUL-terminated string at `address` from dumped memory (at most `max` bytes). */
  readDumpedString(address: bigint, max = 4096): string | undefined {
    const load = this.loadAt(address);
    if (!load) return undefined;
    const room = Number(BigInt(load.filesz) - (address - load.start));
    const bytes = this.readDumped(address, Math.max(0, Math.min(max, room)));
    if (!bytes) return undefined;
    const end = bytes.indexOf(0);
    if (end < 0) return undefined;
    return new TextDecoder().decode(bytes.subarray(0, end));
  }

  [Symbol.dispose](): void {
    this.#dispose();
  }
}

function thread(status: Prstatus): CoreThread {
  return { tid: status.pid, signal: status.signal, registers: status.registers };
}

function checkHeader(path: string, source: ByteSource): void {
  const head = source.read(0, Math.min(64, source.size));
  if (
    head.length < 4 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c ||
    head[3] !== 0x46
  ) {
    throw new NotElfError(path);
  }
  if (head.length < 64) {
    throw new CoreNotesError(path, "the core is truncated: it ends inside the ELF header");
  }
  if (head[4] !== 2 || head[5] !== 1) {
    const bits = head[4] === 1 ? "32-bit" : `class ${head[4]}`;
    const order = head[5] === 2 ? "big-endian" : head[5] === 1 ? "little-endian" : "";
    throw new WrongArchitectureError(path, `it is a ${bits} ${order} ELF file`.replace("  ", " "));
  }
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== ET_CORE) throw new NotCoreError(path, type);
  if (machine !== EM_X86_64) {
    throw new WrongArchitectureError(path, `it is a core of ELF machine ${machine}`);
  }
}

function programHeaders(path: string, source: ByteSource) {
  try {
    return new ElfFile(source).programHeaders();
  } catch (e) {
    throw new CoreNotesError(
      path,
      `its program headers cannot be read: ${e instanceof Error ? e.message : e}`,
    );
  }
}

function readNotes(
  path: string,
  source: ByteSource,
  headers: { offset: number; filesz: number }[],
): ElfNote[] {
  if (headers.length === 0) throw new CoreNotesError(path, "it has no PT_NOTE segment");
  const notes: ElfNote[] = [];
  for (const h of headers) {
    if (h.offset + h.filesz > source.size) {
      throw new CoreNotesError(
        path,
        `the core is truncated: its notes end at byte ${h.offset + h.filesz} ` +
          `but the file has ${source.size} bytes`,
      );
    }
    notes.push(...parseNotes(source.read(h.offset, h.filesz)));
  }
  return notes;
}

/**
 * Opens a core file (gzip, zstd and lz4 cores are decompressed to a temporary file
 * first). Throws a {@linkcode CoreFileError} subclass saying what is wrong.
 */
export async function openCore(path: string, options: OpenCoreOptions = {}): Promise<CoreFile> {
  const head = probe(path);
  const compression = detectCompression(head);
  if (!compression) {
    const other = unreadCompression(head);
    if (other !== undefined) {
      throw new CoreUnreadableError(
        path,
        `it is compressed with ${other}, which pystack does not read`,
        `decompress it first ('${other} -dk ${path}'); ` +
          "gzip, zstd and lz4 cores are read directly",
      );
    }
    return new CoreFile(path, openSource(path));
  }
  let decompressed;
  try {
    decompressed = await decompressToTemp(
      path,
      compression,
      options.tempDir ? { dir: options.tempDir } : {},
    );
  } catch (e) {
    throw new CoreUnreadableError(
      path,
      e instanceof Error ? e.message : String(e),
      `the compressed file is damaged ('${compression} -t' checks it)`,
    );
  }
  let source;
  try {
    source = openSource(decompressed.path);
    if (source.size === 0) throw new CoreEmptyError(path);
  } catch (e) {
    source?.[Symbol.dispose]();
    Deno.removeSync(decompressed.path);
    throw e;
  }
  const core = new CoreFile(path, source, { compression, tempPath: decompressed.path });
  if (decompressed.error) core.warnings.push(decompressed.error);
  return core;
}

/** Checks that `path` is a readable, non-empty file and returns its first bytes. */
function probe(path: string): Uint8Array {
  let info;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CoreNotFoundError(path);
    throw unreadable(path, e);
  }
  if (info.isDirectory) throw new CoreIsDirectoryError(path);
  if (!info.isFile) throw new CoreNotRegularFileError(path, fileKind(info));
  if (info.size === 0) throw new CoreEmptyError(path);
  try {
    using file = Deno.openSync(path);
    const head = new Uint8Array(8);
    const n = file.readSync(head) ?? 0;
    return head.subarray(0, n);
  } catch (e) {
    throw unreadable(path, e);
  }
}

/** What a file that is neither regular nor a directory is. */
function fileKind(info: Deno.FileInfo): string {
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isFifo) return "a pipe";
  if (info.isSocket) return "a socket";
  return "not a file";
}

/** {@linkcode CoreUnreadableError} for `e`, with the permissions hint only when one was refused. */
function unreadable(path: string, e: unknown): CoreUnreadableError {
  const reason = e instanceof Error ? e.message : String(e);
  const refused = e instanceof Deno.errors.PermissionDenied;
  return new CoreUnreadableError(path, reason, refused ? CORE_PERMISSION_HINT : undefined);
}

function openSource(path: string): ByteSource & Disposable {
  try {
    return openFileReader(path);
  } catch (e) {
    throw unreadable(path, e);
  }
}
