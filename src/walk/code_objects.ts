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
import { rethrowFatal } from "../errors.ts";
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
  /**
   * Free-threaded 3.14+: `co_tlbc`, the `_PyCodeArray` of the bytecode's copies, one per thread
   * that ran it (`{Py_ssize_t size; char *entries[size]}`, entry 0 is `co_code_adaptive`).
   */
  copies?: bigint;
}

/** Most bytecode copies of one code object believed (one per thread index). */
const MAX_BYTECODE_COPIES = 1 << 20;

/** Longest line table read (a huge generated function may exceed it: lines then stop early). */
const MAX_LINE_TABLE = 4 * 1024 * 1024;
const MAX_CACHED = 10_000;
/** Most locations remembered per code object (a deep recursion asks for the same few). */
const MAX_LOCATIONS_PER_CODE = 256;

/** Reads and caches code objects of one target. */
export class CodeReader {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  #cache = new Map<bigint, CodeInfo>();
  /**
   * Locations already decoded, per code object and position: a line table is decoded from
   * its start, and the frames of a recursion or of many alike threads ask for the same ones.
   */
  #locations = new WeakMap<CodeInfo, Map<string, Location>>();

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
    if (this.#rt.bytecode === "per_thread" && co.has("tlbc")) info.copies = co.ptr("tlbc");
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

  /**
   * Where a frame of `code` is executing, from its instruction position (and, free-threaded
   * 3.14+, the index of the thread's copy of the bytecode it runs, `tlbc_index`).
   */
  locate(
    code: CodeInfo,
    position: { lasti?: number; instr?: bigint; copy?: number },
  ): Location {
    const key = `${position.lasti}:${position.instr}:${position.copy}`;
    let known = this.#locations.get(code);
    const hit = known?.get(key);
    if (hit !== undefined) return { ...hit };
    const location = this.#locate(code, position);
    if (known === undefined) this.#locations.set(code, known = new Map());
    if (known.size >= MAX_LOCATIONS_PER_CODE) known.clear();
    known.set(key, { ...location });
    return location;
  }

  #locate(
    code: CodeInfo,
    position: { lasti?: number; instr?: bigint; copy?: number },
  ): Location {
    const rt = this.#rt;
    if (rt.lineTable === "location") {
      const instr = position.instr ?? 0n;
      const start = this.#bytecodeStart(code, position.copy);
      const index = instr >= start ? Number(instr - start) / 2 : -1;
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

  /**
   * The first code unit of copy `copy` of the bytecode (`co_tlbc->entries[copy]`); the
   * shared `co_code_adaptive` for copy 0, without copies, or when the array is not plausible.
   */
  #bytecodeStart(code: CodeInfo, copy: number | undefined): bigint {
    return bytecodeStart(this.#mem, code.codeStart, code.copies, copy);
  }
}

/**
 * The first code unit of copy `copy` of a code object's bytecode: entry `copy` of `copies`
 * (free-threaded 3.14+: `co_tlbc`, `{Py_ssize_t size; char *entries[size]}`); `shared`
 * (`co_code_adaptive`) for copy 0, without copies, or when the array is not plausible.
 */
export function bytecodeStart(
  mem: MemoryReader,
  shared: bigint,
  copies: bigint | undefined,
  copy: number | undefined,
): bigint {
  if (copy === undefined || copy === 0 || copies === undefined || copies === 0n) return shared;
  try {
    const size = new DataView(mem.read(copies, 8).buffer).getBigInt64(0, true);
    if (copy < 0 || size > BigInt(MAX_BYTECODE_COPIES) || BigInt(copy) >= size) return shared;
    const entry = new DataView(mem.read(copies + 8n + 8n * BigInt(copy), 8).buffer)
      .getBigUint64(0, true);
    return entry === 0n ? shared : entry;
  } catch (e) {
    rethrowFatal(e);
    return shared;
  }
}

function lineOnly(line: number): Location {
  // The line tables say -1 for "no line"; the model says 0 (unknown), as PyStack prints it.
  const known = Math.max(line, 0);
  return { line: known, endLine: known, column: -1, endColumn: -1 };
}
