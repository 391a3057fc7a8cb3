/**
 * Reading a live process's memory: `process_vm_readv`, falling back to
 * `/proc/PID/mem`, with a page cache that lives for one snapshot.
 *
 * @module
 */

import { errno, openLibc } from "../../ffi/libc.ts";
import { Errno } from "../../ffi/errno.ts";
import { type MemoryReader, MemoryReadError } from "./memory_reader.ts";
import { PermissionDeniedError, TargetExitedError } from "../errors.ts";
import { readBatched } from "./batched_pages.ts";
import { pathExists } from "../fs_checks.ts";

const PAGE = 4096;
/** Reads at least this large bypass the page cache (scans, big blobs). */
const DIRECT_READ = 64 * 1024;
/** Reads above this address (never seen on x86-64 without 5-level paging) are not cached. */
const MAX_CACHED_ADDRESS = BigInt(Number.MAX_SAFE_INTEGER - DIRECT_READ);
/** At most this many cached pages (16 MiB). */
const MAX_PAGES = 4096;

/** Pages made ready to read (see {@linkcode ProcessMemory.preparePages}). */
export interface PreparedPages {
  /** Reads them (the system calls alone). */
  read(): void;
  /** After {@linkcode read}: each page's bytes, or `null` for a page that cannot be read. */
  pages(): Map<bigint, Uint8Array | null>;
}

/** Options for {@linkcode ProcessMemory}. */
export interface ProcessMemoryOptions {
  /** Read through `/proc/PID/mem` instead of `process_vm_readv`. */
  useProcMem?: boolean;
}

/** A {@linkcode MemoryReader} over a live process. */
export class ProcessMemory implements MemoryReader, Disposable {
  readonly pid: number;
  #useProcMem: boolean;
  #memFile: Deno.FsFile | undefined;
  /** Cached pages by address (a number: exact up to {@linkcode MAX_CACHED_ADDRESS}). */
  #pages = new Map<number, Uint8Array | null>();
  #iov = new BigUint64Array(2);
  #remoteIov = new BigUint64Array(2);
  #procMemWhy: string | undefined;
  /** Number of reads that reached the kernel (for benchmarks and tests). */
  syscalls = 0;

  constructor(pid: number, options: ProcessMemoryOptions = {}) {
    this.pid = pid;
    const fromEnv = Deno.env.get("_PYSTACK_NO_PROCESS_VM_READV") !== undefined;
    this.#useProcMem = options.useProcMem ?? fromEnv;
    if (this.#useProcMem) {
      this.#procMemWhy = options.useProcMem ? "as asked" : "_PYSTACK_NO_PROCESS_VM_READV is set";
    }
  }

  /** Which reader the reads went through, and why: for `-vv`. */
  describeReader(): string {
    const reads = `${this.syscalls} reads`;
    if (!this.#useProcMem) return `memory read with process_vm_readv (${reads})`;
    return `memory read through /proc/${this.pid}/mem: ${this.#procMemWhy} (${reads})`;
  }

  /** Forgets cached pages: call when the target may have run since they were read. */
  clearCache(): void {
    this.#pages.clear();
  }

  read(address: bigint, length: number): Uint8Array {
    if (length <= 0) return new Uint8Array(0);
    if (address <= 0n) throw new MemoryReadError(address, length, "null address");
    if (length >= DIRECT_READ || address > MAX_CACHED_ADDRESS) {
      const out = new Uint8Array(length);
      const got = this.#readRaw(address, out);
      if (got < length) throw new MemoryReadError(address, length);
      return out;
    }
    // Page arithmetic in numbers (exact below 2^53): bigint keys and sums cost far more.
    const at = Number(address);
    const first = at - (at % PAGE);
    const start = at - first;
    if (start + length <= PAGE) {
      return this.#page(first, address, length).slice(start, start + length);
    }
    const out = new Uint8Array(length);
    let filled = 0;
    for (let p = first; filled < length; p += PAGE) {
      const page = this.#page(p, address, length);
      const from = p < at ? at - p : 0;
      const to = Math.min(PAGE, from + (length - filled));
      out.set(page.subarray(from, to), filled);
      filled += to - from;
    }
    return out;
  }

  #page(page: number, address: bigint, length: number): Uint8Array {
    let data = this.#pages.get(page);
    if (data === undefined) {
      const buf = new Uint8Array(PAGE);
      data = this.#readRaw(BigInt(page), buf) === PAGE ? buf : null;
      if (this.#pages.size >= MAX_PAGES) this.#pages.clear();
      this.#pages.set(page, data);
    }
    if (data === null) throw new MemoryReadError(address, length);
    return data;
  }

  /**
   * Reads many pages (page-aligned addresses) in as few calls as it can: one
   * `process_vm_readv` takes up to 1024 pages. Each call counts as one read.
   *
   * @returns each page's bytes, or `null` for a page that cannot be read
   */
  readPages(pages: Iterable<bigint>): Map<bigint, Uint8Array | null> {
    const prepared = this.preparePages(pages);
    prepared.read();
    return prepared.pages();
  }

  /**
   * Makes ready to read `pages` (see {@linkcode readPages}): the buffer and the
   * iovecs are made and the buffer's memory touched now, so that reading
   * costs only the system calls (prepared before a pause, read in it).
   */
  preparePages(pages: Iterable<bigint>): PreparedPages {
    const list = [...new Set(pages)];
    const buffer = new Uint8Array(list.length * PAGE);
    for (let i = 0; i < buffer.length; i += PAGE) buffer[i] = 0xff; // fault it in now
    const remote = new BigUint64Array(list.length * 2);
    list.forEach((page, i) => {
      remote[2 * i] = page;
      remote[2 * i + 1] = BigInt(PAGE);
    });
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
    const local = new BigUint64Array(2);
    const readv = (start: number, count: number): number => {
      if (this.#useProcMem || count === 1) {
        let total = 0;
        for (let i = start; i < start + count; i++) {
          const got = this.#readRaw(list[i]!, buffer.subarray(i * PAGE, (i + 1) * PAGE));
          total += got;
          if (got < PAGE) break;
        }
        return total;
      }
      this.syscalls++;
      local[0] = base + BigInt(start * PAGE);
      local[1] = BigInt(count * PAGE);
      const n = openLibc().process_vm_readv(
        this.pid,
        local,
        1n,
        remote.subarray(2 * start),
        BigInt(count),
        0n,
      );
      if (n >= 0n) return Number(n);
      if (this.#vmReadvFailed() === 0) return 0;
      // Anything else: the first page alone, where #readRaw decides about /proc/PID/mem.
      return this.#readRaw(list[start]!, buffer.subarray(start * PAGE, (start + 1) * PAGE));
    };
    let read: boolean[] | undefined;
    return {
      read: () => {
        read = readBatched(list.length, readv, { pageSize: PAGE });
      },
      pages: () => {
        if (read === undefined) throw new TypeError("Pages read before read()");
        return new Map(list.map((page, i) => [
          page,
          read![i] ? buffer.subarray(i * PAGE, (i + 1) * PAGE) : null,
        ]));
      },
    };
  }

  /**
   * Reads many pages and keeps them in the page cache, for reads that follow
   * before the next {@linkcode clearCache}.
   */
  prefetch(pages: Iterable<bigint>): void {
    const fresh = [...pages].filter((p) => p <= MAX_CACHED_ADDRESS && !this.#pages.has(Number(p)));
    if (this.#pages.size + fresh.length > MAX_PAGES) return;
    for (const [page, bytes] of this.readPages(fresh)) this.#pages.set(Number(page), bytes);
  }

  /** Reads into `out`; returns how many bytes were read. Throws for gone/forbidden targets. */
  #readRaw(address: bigint, out: Uint8Array): number {
    this.syscalls++;
    if (!this.#useProcMem) {
      const libc = openLibc();
      this.#iov[0] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)));
      this.#iov[1] = BigInt(out.length);
      this.#remoteIov[0] = address;
      this.#remoteIov[1] = BigInt(out.length);
      const n = libc.process_vm_readv(this.pid, this.#iov, 1n, this.#remoteIov, 1n, 0n);
      if (n >= 0n) return Number(n);
      const code = this.#vmReadvFailed();
      if (code === 0) return 0;
      // ENOSYS and anything else: use /proc/PID/mem from now on.
      this.#useProcMem = true;
      this.#procMemWhy = `process_vm_readv failed with errno ${code}`;
    }
    return this.#readProcMem(address, out);
  }

  /**
   * After a failed `process_vm_readv`: throws when the target is gone or
   * forbidden; 0 when the memory is not readable there (nothing read), else
   * the errno, for the caller to decide.
   */
  #vmReadvFailed(): number {
    const code = errno();
    if (code === Errno.EFAULT || code === Errno.EIO) return 0;
    if (code === Errno.ESRCH) throw new TargetExitedError(this.pid);
    if (code === Errno.EPERM) throw new PermissionDeniedError(this.pid, "process_vm_readv");
    return code;
  }

  #readProcMem(address: bigint, out: Uint8Array): number {
    if (this.#memFile === undefined) {
      try {
        this.#memFile = Deno.openSync(`/proc/${this.pid}/mem`, { read: true });
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) throw new TargetExitedError(this.pid);
        if (e instanceof Deno.errors.PermissionDenied) {
          throw new PermissionDeniedError(this.pid, `open /proc/${this.pid}/mem`);
        }
        throw e;
      }
    }
    try {
      this.#memFile.seekSync(address, Deno.SeekMode.Start);
      let total = 0;
      while (total < out.length) {
        const n = this.#memFile.readSync(out.subarray(total));
        if (n === null || n === 0) break;
        total += n;
      }
      return total;
    } catch {
      if (!existsProcess(this.pid)) throw new TargetExitedError(this.pid);
      return 0;
    }
  }

  [Symbol.dispose](): void {
    this.#memFile?.close();
    this.#memFile = undefined;
    this.#pages.clear();
  }
}

function existsProcess(pid: number): boolean {
  return pathExists(`/proc/${pid}`);
}
