/**
 * Reading many scattered pages of a target in few system calls: one
 * `process_vm_readv` takes up to `IOV_MAX` remote ranges, and stops at the
 * first range it cannot read (it never splits a range).
 *
 * @module
 */

/**
 * Copies the pages at `pages` (in that order, each `pageSize` bytes) into
 * `into`, back to back, as `process_vm_readv` does with one remote iovec per
 * page: returns how many bytes were copied, which stops short at the first
 * page that cannot be read (0 when the first cannot). Throws for a target that
 * cannot be read at all (gone, forbidden).
 */
export type VectorRead = (pages: readonly bigint[], pageSize: number, into: Uint8Array) => number;

/** Options of {@linkcode readPagesBatched}. */
export interface BatchOptions {
  /** Bytes per page (4096). */
  pageSize?: number;
  /** Most pages per call (1024, Linux's `IOV_MAX`). */
  maxPerCall?: number;
}

/**
 * Reads every page of `pages` (page-aligned addresses; repeats are read once)
 * with as few calls of `readv` as it allows. A page that stops a call short is
 * read again alone, so that it is only called unreadable when it is; the next
 * call starts after it.
 *
 * @returns each page's bytes, or `null` for a page that cannot be read
 *
 * @example Three pages, the middle one unmapped: two batched calls and one retry
 * ```ts
 * import { readPagesBatched } from "./batched_pages.ts";
 * import assert from "node:assert/strict";
 *
 * const mapped = new Set([0x1000n, 0x3000n]);
 * let calls = 0;
 * const pages = readPagesBatched([0x1000n, 0x2000n, 0x3000n], (want, size, into) => {
 *   calls++;
 *   let n = 0;
 *   for (const page of want) {
 *     if (!mapped.has(page)) break;
 *     into.fill(Number(page >> 12n), n, n + size);
 *     n += size;
 *   }
 *   return n;
 * });
 * assert.equal(pages.get(0x2000n), null);
 * assert.equal(pages.get(0x3000n)![0], 3);
 * assert.equal(calls, 3);
 * ```
 */
export function readPagesBatched(
  pages: Iterable<bigint>,
  readv: VectorRead,
  options: BatchOptions = {},
): Map<bigint, Uint8Array | null> {
  const pageSize = options.pageSize ?? 4096;
  const maxPerCall = Math.max(1, options.maxPerCall ?? 1024);
  const wanted = [...new Set(pages)];
  const out = new Map<bigint, Uint8Array | null>();
  if (wanted.length === 0) return out;
  const buffer = new Uint8Array(Math.min(wanted.length, maxPerCall) * pageSize);
  // Every call reads at least one page or settles one as unreadable: at most 2 calls a page.
  for (let next = 0; next < wanted.length;) {
    const batch = wanted.slice(next, next + maxPerCall);
    const got = readv(batch, pageSize, buffer);
    const whole = Math.min(batch.length, Math.max(0, Math.floor(got / pageSize)));
    for (let i = 0; i < whole; i++) {
      out.set(batch[i]!, buffer.slice(i * pageSize, (i + 1) * pageSize));
    }
    next += whole;
    if (whole === batch.length) continue;
    // The call stopped at this page: unreadable, unless it reads alone.
    const page = batch[whole]!;
    const alone = whole === 0 && batch.length === 1 ? 0 : readv([page], pageSize, buffer);
    out.set(page, alone >= pageSize ? buffer.slice(0, pageSize) : null);
    next++;
  }
  return out;
}
