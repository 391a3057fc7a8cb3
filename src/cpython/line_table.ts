/**
 * Line numbers and source positions from a code object's line table, for each
 * family of CPython formats:
 *
 * - ≤ 3.9 `co_lnotab`: {@linkcode lineFromLnotab} (f_lasti in bytes);
 * - 3.10 `co_linetable`: {@linkcode lineFromLinetable310} (f_lasti in instructions);
 * - 3.11+ location table: {@linkcode locationFromTable} (index in code units).
 *
 * Each function gives the same answer as CPython's own `PyCode_Addr2Line` /
 * `PyCode_Addr2Location` for that version. "Unknown" is always `-1`
 * ({@linkcode NO_LINE}), as in CPython: `co_lines()` / `co_positions()` show it as
 * `None`. None of these functions throw: a truncated or corrupt table gives
 * `-1` values rather than an error, so one bad frame cannot stop a stack dump.
 *
 * @module
 */

/**
 * The line (or column) value that means "none": an instruction that CPython
 * marks as having no line (3.10+), a column that is not recorded (3.11+), or an
 * index past the end of the table.
 */
export const NO_LINE = -1;

/**
 * A source range, as CPython's `co_positions()` gives it. Columns are 0-based
 * offsets in the UTF-8 bytes of the line (not characters); `endColumn` is
 * exclusive. Any value may be {@linkcode NO_LINE} (`-1`) when CPython has none.
 */
export interface Location {
  line: number;
  endLine: number;
  column: number;
  endColumn: number;
}

/** Options of {@linkcode lineFromLnotab}. */
export interface LnotabOptions {
  /**
   * Whether line deltas are signed bytes: `true` (the default) for 3.6–3.9,
   * `false` for 2.7 and 3.0–3.5, where a delta byte of 128–255 means +128…+255.
   */
  signedLineDeltas?: boolean;
}

/**
 * The line being executed at byte offset `lastiBytes`, from a `co_lnotab`
 * (CPython ≤ 3.9): pairs of (bytecode delta u8, line delta) added up from
 * `(0, firstLineNo)` until the bytecode offset passes `lastiBytes`. A negative
 * `lastiBytes` (a frame that has not started) gives `firstLineNo`, as in CPython.
 * An odd trailing byte is ignored.
 *
 * @param table the bytes of `co_lnotab`
 * @param firstLineNo `co_firstlineno`
 * @param lastiBytes `f_lasti`, a byte offset into `co_code`
 * @returns the line number (never {@linkcode NO_LINE}: this format has no "no line")
 *
 * @example The `simple` function of 3.9 (lines 2, 3, 4 at offsets 0, 8, 16)
 * ```ts
 * import { lineFromLnotab } from "./line_table.ts";
 * import assert from "node:assert/strict";
 * const table = new Uint8Array([0x00, 0x01, 0x08, 0x01, 0x08, 0x01]);
 * assert.equal(lineFromLnotab(table, 1, 0), 2);
 * assert.equal(lineFromLnotab(table, 1, 10), 3);
 * // Python 2.7: deltas of 128-255 are positive.
 * const py27 = new Uint8Array([0x00, 0x01, 0x06, 0x97]);
 * assert.equal(lineFromLnotab(py27, 7, 6, { signedLineDeltas: false }), 8 + 0x97);
 * ```
 */
export function lineFromLnotab(
  table: Uint8Array,
  firstLineNo: number,
  lastiBytes: number,
  options: LnotabOptions = {},
): number {
  const signed = options.signedLineDeltas ?? true;
  let line = firstLineNo;
  let address = 0;
  for (let i = 0; i + 1 < table.length; i += 2) {
    address += table[i]!;
    if (address > lastiBytes) break;
    const delta = table[i + 1]!;
    line += signed && delta >= 0x80 ? delta - 0x100 : delta;
  }
  return line;
}

/**
 * The line being executed at instruction `lastiInstructions`, from a 3.10
 * `co_linetable`: pairs of (bytecode delta u8 in bytes, line delta i8), where a
 * line delta of -128 marks a range with no line. This follows CPython 3.10's
 * `_PyCode_CheckLineNumber`: empty ranges are skipped and the range that holds
 * byte `2 * lastiInstructions` gives the line.
 *
 * @param table the bytes of `co_linetable`
 * @param firstLineNo `co_firstlineno`
 * @param lastiInstructions `f_lasti`, which in 3.10 counts 2-byte instructions
 * @returns the line; `firstLineNo` when `lastiInstructions` < 0 (frame not
 * started); {@linkcode NO_LINE} (`-1`) for an instruction without a line or
 * past the end of the table
 *
 * @example The `gen` function of 3.10 (GEN_START has no line)
 * ```ts
 * import { lineFromLinetable310, NO_LINE } from "./line_table.ts";
 * import assert from "node:assert/strict";
 * const table = new Uint8Array([0x02, 0x80, 0x08, 0x01, 0x08, 0x01, 0x04, 0xff]);
 * assert.equal(lineFromLinetable310(table, 554, 0), NO_LINE);
 * assert.equal(lineFromLinetable310(table, 554, 1), 555);
 * assert.equal(lineFromLinetable310(table, 554, 9), 555); // after a -1 delta
 * ```
 */
export function lineFromLinetable310(
  table: Uint8Array,
  firstLineNo: number,
  lastiInstructions: number,
): number {
  if (lastiInstructions < 0) return firstLineNo;
  const target = lastiInstructions * 2;
  let line = firstLineNo;
  let end = 0;
  for (let i = 0; i + 1 < table.length; i += 2) {
    const start = end;
    end += table[i]!;
    const delta = table[i + 1]!;
    let rangeLine = NO_LINE;
    if (delta !== 0x80) {
      line += delta >= 0x80 ? delta - 0x100 : delta;
      rangeLine = line;
    }
    if (start <= target && target < end) return rangeLine;
  }
  return NO_LINE;
}

const NONE = 15;
const LONG = 14;
const NO_COLUMNS = 13;
const ONE_LINE0 = 10;

/** Reads the varints of one location entry; past the end it yields 0. */
class EntryReader {
  #table: Uint8Array;
  pos: number;
  constructor(table: Uint8Array, pos: number) {
    this.#table = table;
    this.pos = pos;
  }
  byte(): number {
    return this.pos < this.#table.length ? this.#table[this.pos++]! : 0;
  }
  varint(): number {
    let read = this.byte();
    let value = read & 63;
    let shift = 0;
    while (read & 64) {
      read = this.byte();
      shift += 6;
      if (shift < 32) value = (value | ((read & 63) << shift)) >>> 0;
      if (this.pos >= this.#table.length) break;
    }
    return value;
  }
  signedVarint(): number {
    const u = this.varint();
    return u & 1 ? -(u >>> 1) : u >>> 1;
  }
}

/**
 * The source range of code unit `codeUnitIndex`, from a 3.11+ location table
 * (`co_linetable`), exactly as `PyCode_Addr2Location` and `co_positions()`
 * compute it. Each entry starts with a byte `1ccccnnn` (code `c`, `n + 1` code
 * units) and follows the rules of CPython's `Objects/locations.md`:
 * short forms (codes 0–9) and one-line forms (10–12) keep or advance the line
 * and give columns; 13 gives a line without columns; 14 gives line, end line and
 * columns as varints; 15 means no location. Unlike pystack, `endLine` is set
 * for every form (to `line` when the form has no end line of its own).
 *
 * @param table the bytes of `co_linetable`
 * @param firstLineNo `co_firstlineno`
 * @param codeUnitIndex the instruction's index in 2-byte code units from the
 * start of `co_code_adaptive` (`(prev_instr - code) / 2`)
 * @returns the location. "No column" is `column = endColumn = -1`; "no
 * location" (code 15, or an index past the end of the table) is all four `-1`;
 * a negative index (a frame that has not started) gives
 * `{ line: firstLineNo, endLine: firstLineNo, column: 0, endColumn: 0 }`, as
 * CPython does.
 *
 * @example The `simple` function of 3.11: `x = a + b` on line 2
 * ```ts
 * import { locationFromTable } from "./line_table.ts";
 * import assert from "node:assert/strict";
 * const table = new Uint8Array([0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05]);
 * assert.deepEqual(locationFromTable(table, 1, 1), { line: 2, endLine: 2, column: 8, endColumn: 9 });
 * assert.deepEqual(locationFromTable(table, 1, 3), { line: 2, endLine: 2, column: 8, endColumn: 13 });
 * ```
 */
export function locationFromTable(
  table: Uint8Array,
  firstLineNo: number,
  codeUnitIndex: number,
): Location {
  if (codeUnitIndex < 0) {
    return { line: firstLineNo, endLine: firstLineNo, column: 0, endColumn: 0 };
  }
  let line = firstLineNo;
  let start = 0;
  const r = new EntryReader(table, 0);
  while (r.pos < table.length) {
    const first = r.byte();
    const code = (first >> 3) & 15;
    const end = start + (first & 7) + 1;
    const hit = start <= codeUnitIndex && codeUnitIndex < end;
    let loc: Location | undefined;
    if (code === NONE) {
      if (hit) loc = { line: NO_LINE, endLine: NO_LINE, column: NO_LINE, endColumn: NO_LINE };
    } else if (code === LONG) {
      line += r.signedVarint();
      const endLine = line + r.varint();
      const column = r.varint() - 1;
      const endColumn = r.varint() - 1;
      if (hit) loc = { line, endLine, column, endColumn };
    } else if (code === NO_COLUMNS) {
      line += r.signedVarint();
      if (hit) loc = { line, endLine: line, column: NO_LINE, endColumn: NO_LINE };
    } else if (code >= ONE_LINE0) {
      line += code - ONE_LINE0;
      const column = r.byte();
      const endColumn = r.byte();
      if (hit) loc = { line, endLine: line, column, endColumn };
    } else {
      const second = r.byte();
      const column = (code << 3) | (second >> 4);
      if (hit) loc = { line, endLine: line, column, endColumn: column + (second & 15) };
    }
    if (loc !== undefined) return loc;
    // Like CPython 3.12+, resynchronise on the next entry-start byte (high bit set).
    while (r.pos < table.length && (table[r.pos]! & 0x80) === 0) r.pos++;
    start = end;
  }
  return { line: NO_LINE, endLine: NO_LINE, column: NO_LINE, endColumn: NO_LINE };
}
