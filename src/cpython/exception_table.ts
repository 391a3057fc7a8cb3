/**
 * A code object's exception table (3.11+, `co_exceptiontable`): the ranges of
 * instructions a handler protects (a `with` or `try` body), each with the
 * value-stack depth the handler unwinds to. Within a range the value stack
 * never holds fewer items than that depth, so those items are live; above
 * it, a frame's stack slots may hold stale pointers left by earlier pushes.
 * The format is CPython's `Objects/exception_handling_notes.txt`. Pure.
 *
 * @module
 */

/** One protected range, in code units (2-byte instruction units, caches included). */
export interface ExceptionTableEntry {
  start: number;
  /** Exclusive. */
  end: number;
  target: number;
  depth: number;
  lasti: boolean;
}

/** Most entries read from one table (a corrupt one ends the parse). */
const MAX_ENTRIES = 4096;

/**
 * The entries of `table`, in order. A truncated or malformed table gives the
 * entries before the damage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exceptionTable } from "./exception_table.ts";
 * // `with L:` around 8 code units at 8, handled at 83 with L.__exit__ kept (depth 1).
 * const table = new Uint8Array([0x88, 0x08, 0x41, 0x13, 0x03]);
 * assert.deepEqual(exceptionTable(table), [
 *   { start: 8, end: 16, target: 83, depth: 1, lasti: true },
 * ]);
 * ```
 */
export function exceptionTable(table: Uint8Array): ExceptionTableEntry[] {
  const out: ExceptionTableEntry[] = [];
  let at = 0;
  const varint = (): number | undefined => {
    if (at >= table.length) return undefined;
    let byte = table[at++]!;
    let value = byte & 63;
    for (let n = 0; byte & 64; n++) {
      if (at >= table.length || n > 5) return undefined;
      byte = table[at++]!;
      value = value * 64 + (byte & 63);
    }
    return value;
  };
  while (at < table.length && out.length < MAX_ENTRIES) {
    if ((table[at]! & 0x80) === 0) break; // every entry's first byte carries the start bit
    const start = varint();
    const size = varint();
    const target = varint();
    const depthLasti = varint();
    if (start === undefined || size === undefined || target === undefined) break;
    if (depthLasti === undefined) break;
    out.push({
      start,
      end: start + size,
      target,
      depth: Math.floor(depthLasti / 2),
      lasti: depthLasti % 2 === 1,
    });
  }
  return out;
}

/**
 * The value-stack depth the instruction at `index` (code units) is protected
 * at: that of the range that holds it, 0 when none does (no `with` or `try`
 * body is running in the frame).
 */
export function protectedDepth(entries: readonly ExceptionTableEntry[], index: number): number {
  for (const e of entries) {
    if (e.start > index) break;
    if (index < e.end) return e.depth;
  }
  return 0;
}
