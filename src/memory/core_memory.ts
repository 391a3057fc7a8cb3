/**
 * A {@linkcode MemoryReader} over a core file. Bytes the core holds (the
 * `p_filesz` part of each `PT_LOAD`) come from the core; memory it does not
 * hold (read-only file-backed segments the kernel or gcore skipped) comes from
 * the file that `NT_FILE` names, at `fileOffset + (address - start)`. Files
 * that moved are found through a search path or root; build ids recorded in
 * the core are compared with the files found.
 *
 * @module
 */

import { type ByteSource, ElfFile, type ProgramHeader } from "../elf/elf_file.ts";
import { AT_EXECFN, AT_SYSINFO_EHDR, type FileMapping } from "../elf/core_notes.ts";
import type { CoreFile } from "../core/core_file.ts";
import { LibraryLocator } from "../core/library_locator.ts";
import { buildIdInMemory } from "../core/memory_build_id.ts";
import type { MapEntry } from "../elf/maps.ts";
import { type MemoryReader, MemoryReadError } from "./memory_reader.ts";
import { PageCache } from "./page_cache.ts";
import { openFileReader } from "./file_reader.ts";
import { isFile } from "../fs_checks.ts";

const PAGE = 4096;
const VSYSCALL = 0xffffffffff600000n;
const IGNORED_FILES = /^\/(dev|memfd:|SYSV)/;

/**
 * One mapping of a core, shaped like a `/proc/PID/maps` line so that code
 * written for live processes works unchanged. `perms` always ends in `p` (the
 * core does not record sharing); `device` is `00:00` and `inode` 0.
 */
export interface CoreMap extends MapEntry {
  /**
   * The file to open for this mapping on this machine (after relocation), or
   * the recorded path when it was not found; `[stack]`, `[vdso]`, `[heap]`
   * (a guess: anonymous memory right after the executable), `[vsyscall]` or
   * `""` for anonymous memory.
   */
  path: string;
  /** The path recorded in the core, when file-backed. */
  recordedPath?: string;
}

/** Options for {@linkcode CoreMemory}. */
export interface CoreMemoryOptions {
  /** The executable to use instead of the one the core names. */
  executable?: string;
  /** Directories searched in order for libraries (by file name). */
  libSearchPath?: string[];
  /** A directory searched recursively for libraries (by file name). */
  libSearchRoot?: string;
  /** Cached 64 KiB pages at most (256). */
  cachePages?: number;
}

interface MappedFile {
  recordedPath: string;
  /** Where it was found on this machine. */
  path: string | undefined;
  source?: ByteSource & Disposable;
}

interface Piece {
  /** `null`: zeros (past the end of a mapped file, inside its last page). */
  source: ByteSource | null;
  offset: number;
  length: number;
}

/** Target memory read from a core and the files it maps. */
export class CoreMemory implements MemoryReader, Disposable {
  readonly core: CoreFile;
  /** Build-id mismatches and deleted files, one sentence each. */
  readonly warnings: string[] = [];
  /** Recorded paths of files found nowhere (their undumped memory cannot be read). */
  readonly missing: string[] = [];
  readonly cache: PageCache;
  #files = new Map<string, MappedFile>();
  #maps: CoreMap[] | undefined;
  /** Each mapped file's `PT_LOAD` headers (null: not an ELF file, or not found), read once. */
  #fileLoads = new Map<string, ProgramHeader[] | null>();

  constructor(core: CoreFile, options: CoreMemoryOptions = {}) {
    this.core = core;
    this.cache = new PageCache(options.cachePages ? { maxPages: options.cachePages } : {});
    const locator = new LibraryLocator({
      ...(options.libSearchPath ? { libSearchPath: options.libSearchPath } : {}),
      ...(options.libSearchRoot ? { libSearchRoot: options.libSearchRoot } : {}),
    });
    const dumped = (address: bigint, length: number) => core.readDumped(address, length);
    for (const mapping of core.files) {
      const recordedPath = mapping.path;
      if (this.#files.has(recordedPath)) continue;
      const base = core.files.find((f) => f.path === recordedPath && f.fileOffset === 0)?.start;
      const wanted = base === undefined ? undefined : buildIdInMemory(dumped, base);
      const candidates = recordedPath === core.executable.path && options.executable
        ? [options.executable].filter(isFile)
        : locator.candidates(recordedPath);
      const { path, opened } = this.#choose(recordedPath, candidates, wanted);
      this.#files.set(recordedPath, {
        recordedPath,
        path,
        ...(opened === undefined ? {} : { source: opened.source }),
      });
      if (opened !== undefined) this.#fileLoads.set(recordedPath, opened.loads);
      if (path === undefined && !IGNORED_FILES.test(recordedPath)) {
        this.missing.push(recordedPath);
      }
    }
  }

  /** The file used for `recordedPath` (a path from `NT_FILE`) on this machine, if found. */
  fileFor(recordedPath: string): string | undefined {
    return this.#files.get(recordedPath)?.path;
  }

  read(address: bigint, length: number): Uint8Array {
    if (length <= 0) return new Uint8Array(0);
    const out = new Uint8Array(length);
    for (let pos = 0; pos < length;) {
      const piece = this.#piece(address, length, pos);
      const n = Math.min(length - pos, piece.length);
      if (piece.source) {
        out.set(this.cache.read(piece.source, piece.offset, n), pos);
      }
      pos += n;
    }
    return out;
  }

  /** The mappings of the core, sorted by address, like `/proc/PID/maps` (computed once). */
  maps(): CoreMap[] {
    this.#maps ??= this.#computeMaps();
    return [...this.#maps];
  }

  #computeMaps(): CoreMap[] {
    const out: CoreMap[] = [];
    const files = this.core.files;
    const stack = this.core.auxv.get(AT_EXECFN);
    const vdso = this.core.auxv.get(AT_SYSINFO_EHDR);
    for (const load of this.core.loads) {
      const file = fileAt(files, load.start);
      const map: CoreMap = {
        start: load.start,
        end: load.end,
        perms: `${load.perms}p`,
        offset: file ? BigInt(file.fileOffset) + (load.start - file.start) : 0n,
        device: "00:00",
        inode: 0,
        path: "",
      };
      if (file) {
        map.path = this.fileFor(file.path) ?? file.path;
        map.recordedPath = file.path;
      } else if (stack !== undefined && load.start <= stack && stack < load.end) {
        map.path = "[stack]";
      } else if (vdso === load.start) map.path = "[vdso]";
      else if (load.start === VSYSCALL) map.path = "[vsyscall]";
      out.push(map);
    }
    for (const file of files) {
      for (const [start, end] of this.#uncovered(file.start, file.end)) {
        out.push({
          start,
          end,
          perms: this.#filePerms(file, start),
          offset: BigInt(file.fileOffset) + (start - file.start),
          device: "00:00",
          inode: 0,
          path: this.fileFor(file.path) ?? file.path,
          recordedPath: file.path,
        });
      }
    }
    out.sort((a, b) => (a.start < b.start ? -1 : 1));
    this.#guessHeap(out);
    return out;
  }

  [Symbol.dispose](): void {
    for (const file of this.#files.values()) file.source?.[Symbol.dispose]();
    this.#files.clear();
    this.cache.clear();
  }

  /**
   * The file used for `recorded`: the first candidate whose build id is `wanted` (else the first,
   * with a warning). A file opened to read its build id and chosen stays open (`opened`), with
   * its `PT_LOAD` headers: memory is read from it later.
   */
  #choose(
    recorded: string,
    candidates: string[],
    wanted: string | undefined,
  ): { path: string | undefined; opened?: OpenedFile } {
    if (candidates.length === 0) return { path: undefined };
    if (recorded.endsWith(" (deleted)")) {
      this.warnings.push(`${recorded} was deleted while the process ran; using ${candidates[0]}`);
    }
    if (wanted === undefined) return { path: candidates[0] };
    const ids = new Map<string, string | undefined>();
    for (const candidate of candidates) {
      const opened = openElf(candidate);
      if (opened?.buildId === wanted) return { path: candidate, opened };
      opened?.source[Symbol.dispose]();
      ids.set(candidate, opened?.buildId);
    }
    const chosen = candidates[0]!;
    const name = recorded.slice(recorded.lastIndexOf("/") + 1);
    this.warnings.push(
      `${name} needed BUILD ID ${wanted} but found ${ids.get(chosen) ?? "<MISSING>"} at ${chosen}`,
    );
    return { path: chosen };
  }

  /** Where the byte `address + pos` comes from, and how many bytes follow it there. */
  #piece(address: bigint, length: number, pos: number): Piece {
    const at = address + BigInt(pos);
    const core = this.core;
    const load = core.loadAt(at);
    if (load) {
      const rel = at - load.start;
      if (rel < BigInt(load.filesz)) {
        const offset = load.offset + Number(rel);
        if (offset >= core.source.size) {
          throw new MemoryReadError(
            address,
            length,
            "it lies beyond the end of the truncated core",
          );
        }
        const room = Math.min(load.filesz - Number(rel), core.source.size - offset);
        return { source: core.source, offset, length: room };
      }
    }
    const mapping = fileAt(core.files, at);
    if (!mapping) {
      const why = load ? "the core does not hold it and no file backs it" : "it is not mapped";
      throw new MemoryReadError(address, length, why);
    }
    const source = this.#source(mapping.path);
    if (!source) {
      throw new MemoryReadError(
        address,
        length,
        `the core does not hold it and ${mapping.path} was not found ` +
          "(pass --lib-search-path or --lib-search-root)",
      );
    }
    const next = core.loads[firstAfter(core.loads, at)];
    let end = mapping.end;
    if (next && next.start < end) end = next.start;
    const offset = mapping.fileOffset + Number(at - mapping.start);
    const room = Number(end - at);
    if (offset < source.size) {
      return { source, offset, length: Math.min(room, source.size - offset) };
    }
    const pageEnd = Math.ceil(source.size / PAGE) * PAGE;
    if (offset < pageEnd) return { source: null, offset, length: Math.min(room, pageEnd - offset) };
    throw new MemoryReadError(address, length, `it lies past the end of ${mapping.path}`);
  }

  #source(recordedPath: string): ByteSource | undefined {
    const file = this.#files.get(recordedPath);
    if (!file?.path) return undefined;
    if (!file.source) {
      try {
        file.source = openFileReader(file.path);
      } catch {
        file.path = undefined;
        this.missing.push(recordedPath);
        return undefined;
      }
    }
    return file.source;
  }

  /** Parts of `[start, end)` no `PT_LOAD` covers. */
  #uncovered(start: bigint, end: bigint): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    const loads = this.core.loads;
    let at = start;
    // The loads are sorted and apart: begin at the last one that starts at or before `start`.
    for (let i = Math.max(0, firstAfter(loads, start) - 1); i < loads.length; i++) {
      const load = loads[i]!;
      if (load.start >= end) break;
      if (load.end <= at) continue;
      if (load.start > at) out.push([at, load.start]);
      at = load.end;
      if (at >= end) break;
    }
    if (at < end) out.push([at, end]);
    return out;
  }

  /** Permissions of an undumped file mapping, from the file's own `PT_LOAD` flags. */
  #filePerms(file: FileMapping, start: bigint): string {
    const offset = file.fileOffset + Number(start - file.start);
    const load = this.#loadsOf(file.path)?.find((h) =>
      h.offset <= offset && offset < h.offset + Math.max(h.filesz, 1)
    );
    if (load) {
      return (load.flags & 4 ? "r" : "-") + (load.flags & 2 ? "w" : "-") +
        (load.flags & 1 ? "x" : "-") + "p";
    }
    return "r--p";
  }

  #loadsOf(recordedPath: string): ProgramHeader[] | null {
    let loads = this.#fileLoads.get(recordedPath);
    if (loads === undefined) {
      const source = this.#source(recordedPath);
      try {
        loads = source ? new ElfFile(source).programHeaders().filter((h) => h.type === 1) : null;
      } catch {
        loads = null; // not an ELF file
      }
      this.#fileLoads.set(recordedPath, loads);
    }
    return loads;
  }

  /** Names `[heap]`: the anonymous read-write mapping after the executable's own. */
  #guessHeap(maps: CoreMap[]): void {
    const exe = this.core.executable.path;
    if (!exe) return;
    const last = maps.findLastIndex((m) => m.recordedPath === exe);
    if (last < 0) return;
    let end = maps[last]!.end;
    for (let i = last + 1; i < maps.length; i++) {
      const map = maps[i]!;
      if (map.path !== "" || !map.perms.startsWith("rw")) return;
      if (map.start !== end) {
        map.path = "[heap]";
        return;
      }
      end = map.end;
    }
  }
}

function fileAt(files: readonly FileMapping[], address: bigint): FileMapping | undefined {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (files[mid]!.end <= address) lo = mid + 1;
    else hi = mid;
  }
  const file = files[lo];
  return file && file.start <= address ? file : undefined;
}

/** Index of the first of `ranges` (sorted) that starts after `address`. */
function firstAfter(ranges: readonly { start: bigint }[], address: bigint): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= address) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A mapped file opened to check its build id: its source, build id and `PT_LOAD` headers. */
interface OpenedFile {
  source: ByteSource & Disposable;
  buildId: string | undefined;
  loads: ProgramHeader[] | null;
}

/** `path` opened as an ELF file; its build id undefined when it has none or is no ELF file. */
function openElf(path: string): OpenedFile | undefined {
  let source: (ByteSource & Disposable) | undefined;
  try {
    source = openFileReader(path);
    const elf = new ElfFile(source);
    return {
      source,
      buildId: elf.buildId(),
      loads: elf.programHeaders().filter((h) => h.type === 1),
    };
  } catch {
    if (source === undefined) return undefined;
    return { source, buildId: undefined, loads: null };
  }
}
