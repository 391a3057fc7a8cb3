/**
 * Separate debug files handed to libdw already decompressed. elfutils 0.188
 * inflates every compressed `.debug_*` section with zlib when it opens a
 * file (about 150 ms for Debian's python3.11 and libc debug files, most of a
 * `--native` run); pystack instead writes an image of the file (see
 * `src/elf/debug_image.ts`) into an anonymous in-memory file (`memfd`),
 * inflating with libdeflate when it is installed (zlib otherwise), one
 * section per worker thread, and leaving out the sections pystack never
 * reads. libdw then reads the image as it would have read the file:
 * symbols, lines and inline scopes are the same.
 *
 * Nothing is written to disk. On any failure the caller hands libdw the
 * original file, which it reads as before.
 *
 * @module
 */

import { INFLATE_OK, openLibdeflate, openLibz } from "../../ffi/inflate.ts";
import { MEM, openLibcMemory } from "../../ffi/libc.ts";
import { type DebugImagePlan, planDebugImage, writeDebugImage } from "../elf/debug_image.ts";
import { bytesSource, ElfFile } from "../elf/elf_file.ts";

/** What was decompressed, for `-v`. */
export interface InflateStats {
  files: number;
  /** Compressed bytes inflated, and the bytes they became. */
  compressedBytes: number;
  inflatedBytes: number;
  /** Wall time spent making them (in parallel: the whole batch's). */
  ms: number;
  decompressor: "libdeflate" | "zlib";
  dropped: string[];
}

/** A region of this process's memory mapped with `mmap`, unmapped on dispose. */
class Mapping implements Disposable {
  readonly pointer: Deno.PointerObject;
  readonly bytes: Uint8Array;
  readonly #size: number;
  constructor(pointer: Deno.PointerObject, size: number) {
    this.pointer = pointer;
    this.#size = size;
    this.bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, size));
  }
  [Symbol.dispose](): void {
    openLibcMemory().munmap(this.pointer, BigInt(this.#size));
  }
}

const MAP_FAILED = 2n ** 64n - 1n;

function map(fd: number, size: number, writable: boolean): Mapping | undefined {
  const libc = openLibcMemory();
  const pointer = libc.mmap(
    null,
    BigInt(size),
    writable ? MEM.PROT_READ | MEM.PROT_WRITE : MEM.PROT_READ,
    writable ? MEM.MAP_SHARED : MEM.MAP_PRIVATE,
    fd,
    0n,
  );
  if (pointer === null || BigInt(Deno.UnsafePointer.value(pointer)) === MAP_FAILED) {
    return undefined;
  }
  return new Mapping(pointer, size);
}

/** Inflates `inSize` bytes at `input` into exactly `outSize` bytes at `output`. */
export interface InflateJob {
  input: Deno.PointerObject;
  inSize: number;
  output: Deno.PointerObject;
  outSize: number;
}

/** The decompressor used: libdeflate when installed, zlib otherwise. */
function decompressorName(): InflateStats["decompressor"] {
  return openLibdeflate() !== undefined ? "libdeflate" : "zlib";
}

let syncDecompressor: Deno.PointerValue | undefined;

/** Runs `job` on this thread. */
function inflateNow(job: InflateJob): boolean {
  const deflate = openLibdeflate();
  if (deflate !== undefined) {
    syncDecompressor ??= deflate.libdeflate_alloc_decompressor();
    if (syncDecompressor === null) return false;
    return deflate.libdeflate_zlib_decompress(
      syncDecompressor,
      job.input,
      BigInt(job.inSize),
      job.output,
      BigInt(job.outSize),
      null,
    ) === INFLATE_OK;
  }
  const length = new BigUint64Array([BigInt(job.outSize)]);
  return openLibz().uncompress(
        job.output,
        new Uint8Array(length.buffer),
        job.input,
        BigInt(job.inSize),
      ) === INFLATE_OK && length[0] === BigInt(job.outSize);
}

/** Runs `job` on one of Deno's worker threads (jobs run in parallel; each has its own decompressor). */
async function inflateOnWorker(job: InflateJob): Promise<boolean> {
  const deflate = openLibdeflate();
  if (deflate !== undefined) {
    const d = deflate.libdeflate_alloc_decompressor();
    if (d === null) return false;
    try {
      return await deflate.libdeflate_zlib_decompress_async(
        d,
        job.input,
        BigInt(job.inSize),
        job.output,
        BigInt(job.outSize),
        null,
      ) === INFLATE_OK;
    } finally {
      deflate.libdeflate_free_decompressor(d);
    }
  }
  const length = new BigUint64Array([BigInt(job.outSize)]);
  return await openLibz().uncompress_async(
        job.output,
        new Uint8Array(length.buffer),
        job.input,
        BigInt(job.inSize),
      ) === INFLATE_OK && length[0] === BigInt(job.outSize);
}

function fileSize(fd: number): number {
  const size = openLibcMemory().lseek(fd, 0n, MEM.SEEK_END);
  return size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(size);
}

/** Options of {@linkcode inflateDebugFile}. */
export interface InflateOptions {
  /** The build id (hex) the file must have; another file is not used. */
  buildId?: string;
  /** Counters, added to. */
  stats?: InflateStats;
}

/**
 * The decompressed image of the debug file open at `fd`, as a new file
 * descriptor (a memfd the caller owns), or undefined when the file has no
 * zlib-compressed DWARF to gain from, has another build id, or anything
 * fails. `fd` is left open. The sections are inflated on this thread, one
 * after the other.
 */
export function inflateDebugFile(fd: number, options: InflateOptions = {}): number | undefined {
  using image = DebugImage.prepare(fd, options);
  if (image === undefined) return undefined;
  const start = performance.now();
  const ok = image.jobs.every(inflateNow);
  if (options.stats !== undefined) options.stats.ms += performance.now() - start;
  return ok ? image.handOver() : undefined;
}

/**
 * An image of a debug file in a memfd, its headers and copied sections
 * written, its compressed sections inflated by {@linkcode DebugImage.inflate}
 * (on worker threads, in parallel). Disposing of it unmaps it (never while a
 * section is being inflated into it: wait for every started job first) and
 * closes the memfd unless it was handed over.
 */
export class DebugImage implements Disposable {
  /** The sections to inflate, largest first. */
  readonly jobs: readonly InflateJob[];
  readonly #fd: number;
  readonly #input: Mapping;
  readonly #output: Mapping;
  readonly #plan: DebugImagePlan;
  readonly #stats: InflateStats | undefined;
  #handedOver = false;
  #counted = false;
  #unmapped = false;

  private constructor(
    fd: number,
    input: Mapping,
    output: Mapping,
    plan: DebugImagePlan,
    stats: InflateStats | undefined,
  ) {
    this.#fd = fd;
    this.#input = input;
    this.#output = output;
    this.#plan = plan;
    this.#stats = stats;
    this.jobs = plan.sections.filter((s) => s.action === "inflate").map((s) => ({
      input: Deno.UnsafePointer.offset(input.pointer, s.from)!,
      inSize: s.fromSize,
      output: Deno.UnsafePointer.offset(output.pointer, s.to)!,
      outSize: s.size,
    })).sort((a, b) => b.outSize - a.outSize);
  }

  /**
   * Maps the debug file open at `fd` (which may be closed afterwards), checks
   * its build id, plans its image and writes all of it but the sections to
   * inflate; undefined when there is nothing to gain or anything fails.
   */
  static prepare(fd: number, options: InflateOptions): DebugImage | undefined {
    const size = fileSize(fd);
    if (size < 64) return undefined;
    const input = map(fd, size, false);
    if (input === undefined) return undefined;
    let image: DebugImage | undefined;
    try {
      if (
        options.buildId !== undefined &&
        new ElfFile(bytesSource(input.bytes)).buildId() !== options.buildId
      ) {
        return undefined;
      }
      const plan = planDebugImage(input.bytes);
      if (plan === undefined) return undefined;
      const libc = openLibcMemory();
      const memfd = libc.memfd_create(
        new TextEncoder().encode("pystack-debuginfo\0"),
        MEM.MFD_CLOEXEC,
      );
      if (memfd < 0) return undefined;
      const output = libc.ftruncate(memfd, BigInt(plan.size)) === 0
        ? map(memfd, plan.size, true)
        : undefined;
      if (output === undefined) {
        libc.close(memfd);
        return undefined;
      }
      try {
        writeDebugImage(input.bytes, plan, output.bytes);
      } catch {
        output[Symbol.dispose]();
        libc.close(memfd);
        return undefined;
      }
      image = new DebugImage(memfd, input, output, plan, options.stats);
      return image;
    } finally {
      if (image === undefined) input[Symbol.dispose]();
    }
  }

  /** Inflates `job` (one of {@linkcode jobs}) on a worker thread; resolves to whether it worked. */
  inflate(job: InflateJob): Promise<boolean> {
    return inflateOnWorker(job).catch(() => false);
  }

  /**
   * The memfd, now owned by the caller (libdwfl). Its sections may still be
   * inflating: only once every job resolved true is it complete.
   */
  handOver(): number {
    this.#count();
    this.#handedOver = true;
    return this.#fd;
  }

  #count(): void {
    const stats = this.#stats;
    if (stats === undefined || this.#counted) return;
    this.#counted = true;
    stats.files++;
    stats.decompressor = decompressorName();
    stats.compressedBytes += this.#plan.inflatedFrom;
    stats.inflatedBytes += this.jobs.reduce((n, j) => n + j.outSize, 0);
    for (const d of this.#plan.dropped) if (!stats.dropped.includes(d)) stats.dropped.push(d);
  }

  /**
   * Unmaps the file and the image (the memfd stays open): once every started
   * job is done, never while a worker thread writes into it.
   */
  unmap(): void {
    if (this.#unmapped) return;
    this.#unmapped = true;
    this.#output[Symbol.dispose]();
    this.#input[Symbol.dispose]();
  }

  [Symbol.dispose](): void {
    this.unmap();
    if (!this.#handedOver) openLibcMemory().close(this.#fd);
  }
}
