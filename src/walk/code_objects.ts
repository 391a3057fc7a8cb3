/**
 * Decoding code objects (file, name, line table), cached per address: a
 * recursive stack reads each code object once.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import type { Location } from "../model.ts";
import { readStruct } from "../cpython/struct_view.ts";
import { readBytes, readUnicode } from "../cpython/objects.ts";
import { readPy2Str } from "../cpython/py2_objects.ts";
import { lineFromLinetable310, lineFromLnotab, locationFromTable } from "../cpython/line_table.ts";

/** What a stack needs from one code object. */
export interface CodeInfo {
  address: bigint;
  file: string;
  name: string;
  firstLineNo: number;
  lineTable: Uint8Array;
  /** 3.11+: address of the first code unit (`co_code_adaptive`). */
  codeStart: bigint;
}

/** Longest line table read (a huge generated function may exceed it: lines then stop early). */
const MAX_LINE_TABLE = 4 * 1024 * 1024;
const MAX_CACHED = 10_000;

/** Reads and caches code objects of one target. */
export class CodeReader {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  #cache = new Map<bigint, CodeInfo>();

  constructor(mem: MemoryReader, rt: PythonRuntime) {
    this.#mem = mem;
    this.#rt = rt;
  }

  /** Decodes the code object at `address`; throws on unreadable or corrupt memory. */
  read(address: bigint): CodeInfo {
    const hit = this.#cache.get(address);
    if (hit !== undefined) return hit;
    const layout = this.#rt.layout.structs.code;
    if (layout === undefined) throw new TypeError("Layout has no code object");
    const co = readStruct(this.#mem, address, layout);
    const info: CodeInfo = {
      address,
      file: this.#readName(co.ptr("filename")),
      name: this.#readName(co.ptr("name")),
      firstLineNo: co.int("firstlineno"),
      lineTable: readBytes(this.#mem, this.#rt, co.ptr("linetable"), MAX_LINE_TABLE),
      codeStart: co.has("code_adaptive") ? co.addressOf("code_adaptive") : 0n,
    };
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(address, info);
    return info;
  }

  /** `co_name` / `co_filename`: a `str` of this version. */
  #readName(address: bigint): string {
    return this.#rt.nameStorage === "py2_str"
      ? readPy2Str(this.#mem, this.#rt, address)
      : readUnicode(this.#mem, this.#rt, address);
  }

  /** Where a frame of `code` is executing, from its instruction position. */
  locate(code: CodeInfo, position: { lasti?: number; instr?: bigint }): Location {
    const rt = this.#rt;
    if (rt.lineTable === "location") {
      const instr = position.instr ?? 0n;
      const index = instr >= code.codeStart ? Number(instr - code.codeStart) / 2 : -1;
      if (index < 0) return lineOnly(code.firstLineNo);
      const loc = locationFromTable(code.lineTable, code.firstLineNo, Math.floor(index));
      // An instruction without a line (a closure's first, COPY_FREE_VARS/MAKE_CELL): the
      // function's first line, as for a frame that has not started.
      return loc.line < 0 ? lineOnly(code.firstLineNo) : loc;
    }
    const lasti = position.lasti ?? -1;
    if (lasti < 0) return lineOnly(code.firstLineNo);
    const line = rt.lineTable === "lnotab"
      ? lineFromLnotab(code.lineTable, code.firstLineNo, lasti, {
        signedLineDeltas: rt.lnotabSignedDeltas,
      })
      : lineFromLinetable310(code.lineTable, code.firstLineNo, lasti);
    return lineOnly(line < 0 ? code.firstLineNo : line);
  }
}

function lineOnly(line: number): Location {
  // The line tables say -1 for "no line"; the model says 0 (unknown), as PyStack prints it.
  const known = Math.max(line, 0);
  return { line: known, endLine: known, column: -1, endColumn: -1 };
}
