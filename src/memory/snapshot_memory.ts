/**
 * Memory copied page by page in one moment (while the target was stopped),
 * read later; and a reader that notes which pages a walk reads, to know what
 * to copy next time.
 *
 * @module
 */

import { type MemoryReader, MemoryReadError } from "./memory_reader.ts";

/** Most pages one read may span (a larger read is refused, or not noted page by page). */
const MAX_PAGES_PER_READ = 16 * 1024;

/** Page arithmetic is done in numbers (exact up to here): bigint keys and sums cost far more. */
const MAX_ADDRESS = Number.MAX_SAFE_INTEGER - MAX_PAGES_PER_READ * 4096;
const PAGE_SIZE = 4096;

/**
 * Passes reads to another reader and notes every page they touch, read or
 * not (an unreadable page read again in a snapshot is unreadable there too).
 */
export class RecordingMemory implements MemoryReader {
  readonly #inner: MemoryReader;
  readonly #pages = new Set<number>();
  /** Whether a read could not be noted (too large, or too high an address). */
  overflow = false;

  constructor(inner: MemoryReader) {
    this.#inner = inner;
  }

  /** Pages the reads touched. */
  get pages(): Set<bigint> {
    return new Set([...this.#pages].map(BigInt));
  }

  read(address: bigint, length: number): Uint8Array {
    if (address > 0n && length > 0) {
      const at = Number(address);
      if (at > MAX_ADDRESS || length > MAX_PAGES_PER_READ * PAGE_SIZE) this.overflow = true;
      else {
        for (let p = at - (at % PAGE_SIZE); p < at + length; p += PAGE_SIZE) this.#pages.add(p);
      }
    }
    return this.#inner.read(address, length);
  }
}

/**
 * A {@linkcode MemoryReader} over pages copied earlier (`null`: the page
 * could not be read then). A read that needs a page it was not given fails
 * like an unreadable one, and the page is noted in `missing`: a walk over the
 * snapshot is only whole when nothing is missing. (A walk cannot touch a page
 * beyond one it lacks, so the pages it touched are those copied and those
 * missing.)
 */
export class SnapshotMemory implements MemoryReader {
  readonly #pages = new Map<number, Uint8Array | null>();
  /** Pages reads needed that the snapshot lacks. */
  readonly missing = new Set<bigint>();
  readonly #touched = new Set<number>();

  constructor(pages: ReadonlyMap<bigint, Uint8Array | null>) {
    for (const [page, bytes] of pages) this.#pages.set(Number(page), bytes);
  }

  /** Every page reads touched, those missing included. */
  get touched(): Set<bigint> {
    return new Set([...this.#touched].map(BigInt));
  }

  read(address: bigint, length: number): Uint8Array {
    if (length <= 0) return new Uint8Array(0);
    if (address <= 0n) throw new MemoryReadError(address, length, "null address");
    if (length > MAX_PAGES_PER_READ * PAGE_SIZE) {
      throw new MemoryReadError(address, length, "too large");
    }
    const at = Number(address);
    if (at > MAX_ADDRESS) {
      // Never copied (see RecordingMemory): missing, so that the walk is not used.
      this.missing.add(address & ~BigInt(PAGE_SIZE - 1));
      throw new MemoryReadError(address, length);
    }
    const first = at - (at % PAGE_SIZE);
    const start = at - first;
    if (start + length <= PAGE_SIZE) {
      this.#touched.add(first);
      const bytes = this.#pages.get(first);
      if (bytes) return bytes.slice(start, start + length);
      if (bytes === undefined) this.missing.add(BigInt(first));
      throw new MemoryReadError(address, length);
    }
    const out = new Uint8Array(length);
    let unreadable = false;
    for (let p = first; p < at + length; p += PAGE_SIZE) {
      this.#touched.add(p);
      const bytes = this.#pages.get(p);
      if (bytes === undefined) this.missing.add(BigInt(p));
      if (!bytes) {
        unreadable = true;
        continue;
      }
      const from = p < at ? at - p : 0;
      const n = Math.min(PAGE_SIZE - from, at + length - (p + from));
      out.set(bytes.subarray(from, from + n), p + from - at);
    }
    if (unreadable) throw new MemoryReadError(address, length);
    return out;
  }
}
