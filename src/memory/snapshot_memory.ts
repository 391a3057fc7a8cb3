/**
 * Memory copied page by page in one moment (while the target was stopped),
 * read later; and a reader that notes which pages a walk reads, to know what
 * to copy next time.
 *
 * @module
 */

import { type MemoryReader, MemoryReadError } from "./memory_reader.ts";

const PAGE = 4096n;
const PAGE_MASK = ~(PAGE - 1n);

/** Most pages one read is split into (a larger read is refused, not noted page by page). */
export const MAX_PAGES_PER_READ = 16 * 1024;

/**
 * The page-aligned addresses `length` bytes at `address` lie on, or undefined
 * when there are more than {@linkcode MAX_PAGES_PER_READ}.
 */
export function pagesOf(address: bigint, length: number): bigint[] | undefined {
  if (length <= 0) return [];
  const first = address & PAGE_MASK;
  const last = (address + BigInt(length - 1)) & PAGE_MASK;
  if ((last - first) / PAGE >= BigInt(MAX_PAGES_PER_READ)) return undefined;
  const pages: bigint[] = [];
  for (let p = first; p <= last; p += PAGE) pages.push(p);
  return pages;
}

/**
 * Passes reads to another reader and notes every page they touch, read or
 * not (an unreadable page read again in a snapshot is unreadable there too).
 */
export class RecordingMemory implements MemoryReader {
  readonly #inner: MemoryReader;
  /** Pages the reads touched. */
  readonly pages = new Set<bigint>();
  /** Whether a read was too large to note (the pages are then not all known). */
  overflow = false;

  constructor(inner: MemoryReader) {
    this.#inner = inner;
  }

  read(address: bigint, length: number): Uint8Array {
    const pages = address > 0n ? pagesOf(address, length) : [];
    if (pages === undefined) this.overflow = true;
    else for (const p of pages) this.pages.add(p);
    return this.#inner.read(address, length);
  }
}

/**
 * A {@linkcode MemoryReader} over pages copied earlier (`null`: the page
 * could not be read then). A read that needs a page it was not given fails
 * like an unreadable one, and the page is noted in `missing`: a walk over the
 * snapshot is only whole when nothing is missing.
 */
export class SnapshotMemory implements MemoryReader {
  readonly #pages: ReadonlyMap<bigint, Uint8Array | null>;
  /** Pages reads needed that the snapshot lacks. */
  readonly missing = new Set<bigint>();
  /** Every page reads touched (those missing included). */
  readonly touched = new Set<bigint>();

  constructor(pages: ReadonlyMap<bigint, Uint8Array | null>) {
    this.#pages = pages;
  }

  read(address: bigint, length: number): Uint8Array {
    if (length <= 0) return new Uint8Array(0);
    if (address <= 0n) throw new MemoryReadError(address, length, "null address");
    const pages = pagesOf(address, length);
    if (pages === undefined) throw new MemoryReadError(address, length, "too large");
    const out = new Uint8Array(length);
    let unreadable = false;
    for (const page of pages) {
      this.touched.add(page);
      const bytes = this.#pages.get(page);
      if (bytes === undefined) {
        this.missing.add(page);
        unreadable = true;
      } else if (bytes === null) {
        unreadable = true;
      } else if (!unreadable) {
        const from = page < address ? Number(address - page) : 0;
        const at = Number(page + BigInt(from) - address);
        const n = Math.min(bytes.length - from, length - at);
        out.set(bytes.subarray(from, from + n), at);
      }
    }
    if (unreadable) throw new MemoryReadError(address, length);
    return out;
  }
}
