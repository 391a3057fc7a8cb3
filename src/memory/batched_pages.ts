/**
 * Reading many scattered pages of a target in few system calls: one
 * `process_vm_readv` takes up to `IOV_MAX` remote ranges, and stops at the
 * first range it cannot read (it never splits a range).
 *
 * @module
 */

/**
 * Copies pages `start` to `start + count - 1` of a fixed list into their
 * slots, as `process_vm_readv` does with one remote iovec per page: returns
 * how many bytes were copied, which stops short at the first page that cannot
 * be read (0 when the first cannot). Throws for a target that cannot be read
 * at all (gone, forbidden).
 */
export type VectorRead = (start: number, count: number) => number;

/** Options of {@linkcode readBatched}. */
export interface BatchOptions {
  /** Bytes per page (4096). */
  pageSize?: number;
  /** Most pages per call (1024, Linux's `IOV_MAX`). */
  maxPerCall?: number;
}

/**
 * Reads the `total` pages of a list with as few calls of `readv` as it
 * allows. A page that stops a call short is read again alone, so that it is
 * only called unreadable when it is; the next call starts after it. Every
 * call reads at least one page or settles one: at most two calls a page.
 *
 * @returns whether each page was read
 *
 * @example Three pages, the middle one unmapped: two batched calls and one retry
 * ```ts
 * import { readBatched } from "./batched_pages.ts";
 * import assert from "node:assert/strict";
 *
 * const mapped = [true, false, true];
 * const calls: number[][] = [];
 * const read = readBatched(3, (start, count) => {
 *   calls.push([start, count]);
 *   let n = 0;
 *   while (n < count && mapped[start + n]) n++;
 *   return n * 4096;
 * });
 * assert.deepEqual(read, [true, false, true]);
 * assert.deepEqual(calls, [[0, 3], [1, 1], [2, 1]]);
 * ```
 */
export function readBatched(
  total: number,
  readv: VectorRead,
  options: BatchOptions = {},
): boolean[] {
  const pageSize = options.pageSize ?? 4096;
  const maxPerCall = Math.max(1, options.maxPerCall ?? 1024);
  const read = new Array<boolean>(total).fill(false);
  for (let next = 0; next < total;) {
    const count = Math.min(maxPerCall, total - next);
    const got = readv(next, count);
    const whole = Math.min(count, Math.max(0, Math.floor(got / pageSize)));
    read.fill(true, next, next + whole);
    next += whole;
    if (whole === count) continue;
    // The call stopped at this page: unreadable, unless it reads alone.
    read[next] = count > 1 && readv(next, 1) >= pageSize;
    next++;
  }
  return read;
}
