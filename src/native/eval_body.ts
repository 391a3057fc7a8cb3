/**
 * The evaluation loop of a stripped interpreter whose loop has no name.
 *
 * Debian's CPython 3.13+ builds (GCC, PGO, stripped, `.eh_frame` kept) export
 * `_PyEval_EvalFrameDefault`, but the symbol covers only 0.8 to 2.4 KB: the
 * loop itself is a part GCC split off (`.cold`, 77 to 84 KB) that has no
 * symbol, so native frames in it have no name and the stacks cannot be merged.
 *
 * The part is found from the object file alone: decode the exported
 * function's code, follow its direct jumps (not calls) that leave it, take
 * the `.eh_frame` FDE that holds each target, drop FDEs where a symbol
 * starts (named functions: tail calls), and keep the FDEs whose own code
 * jumps back into the inside of the exported function. Two pieces of code
 * that jump into each other's middle are parts of one function. Exactly one
 * such part must remain; otherwise nothing is named, and pystack says that
 * it cannot merge, as before.
 *
 * @module
 */

import { type CodeRange, type FdeFinder, fdeRanges, hdrFinder, rangeAt } from "../elf/eh_frame.ts";
import type { ElfFile, SectionHeader } from "../elf/elf_file.ts";
import type { NativeFrame } from "../model.ts";
import { directBranches } from "./x86_branches.ts";

/** The unnamed part of an exported evaluation-loop function, in the object's own addresses. */
export interface EvalBody extends CodeRange {
  /** The exported function it belongs to. */
  function: string;
  /** The name its frames get: GCC's name for such a part, `<function>.cold`. */
  name: string;
}

/** What {@linkcode findEvalBody} found: the part, or why there is none. */
export type EvalBodySearch = { body: EvalBody } | { reason: string };

const STT_FUNC = 2;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SYM_SIZE = 24;
const PT_LOAD = 1;
const PF_X = 1;
/** Largest function part decoded (the loops measured are below 100 KB). */
const MAX_DECODED = 4 << 20;

interface FunctionSymbol {
  name: string;
  value: bigint;
  size: bigint;
}

/**
 * Finds the unnamed part of `exported` in `elf` (see the module doc).
 *
 * @param elf the object that defines `exported` (an x86-64 executable or libpython)
 * @param exported the evaluation-loop function, e.g. `_PyEval_EvalFrameDefault`
 * @returns the part, or the reason none is named
 */
export function findEvalBody(elf: ElfFile, exported: string): EvalBodySearch {
  if (elf.header.machine !== 62) return { reason: "not an x86-64 object" };
  try {
    return search(elf, exported);
  } catch (e) {
    return { reason: `the object cannot be read: ${e instanceof Error ? e.message : e}` };
  }
}

function search(elf: ElfFile, exported: string): EvalBodySearch {
  const symbols = functionSymbols(elf, exported);
  const fdeAt = fdeFinder(elf);
  if (fdeAt === undefined) return { reason: "the object has no .eh_frame" };
  const fn = symbols.find((s) => s.name === exported && s.size > 0n);
  if (fn === undefined) return { reason: `${exported} is not a function of the object` };
  const fnRange = { start: fn.value, end: fn.value + fn.size };
  const fnBranches = decode(elf, fnRange);
  if (fnBranches === undefined) return { reason: `the code of ${exported} cannot be decoded` };
  const starts = symbols.map((s) => s.value).sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  const candidates = new Map<bigint, CodeRange>();
  for (const b of fnBranches) {
    if (b.kind === "call" || inside(fnRange, b.target)) continue;
    const fde = fdeAt(b.target);
    if (fde === undefined || symbolIn(starts, fde)) continue;
    candidates.set(fde.start, fde);
  }
  const parts = [...candidates.values()].filter((part) => {
    const branches = decode(elf, part);
    return branches?.some((b) =>
      b.kind !== "call" && b.target > fnRange.start && b.target < fnRange.end
    );
  });
  if (parts.length !== 1) {
    return {
      reason: `${parts.length} unnamed parts of ${exported} found ` +
        `(${candidates.size} unnamed functions it jumps to), not 1`,
    };
  }
  const part = parts[0]!;
  return {
    body: { start: part.start, end: part.end, function: exported, name: `${exported}.cold` },
  };
}

/** The object's FDE lookup: through `.eh_frame_hdr`'s table, else the whole `.eh_frame`. */
function fdeFinder(elf: ElfFile): FdeFinder | undefined {
  const ehFrame = elf.section(".eh_frame");
  if (ehFrame === undefined) return undefined;
  const frames = { bytes: elf.readSection(ehFrame), address: ehFrame.addr };
  const hdr = elf.section(".eh_frame_hdr");
  const fast = hdr === undefined
    ? undefined
    : hdrFinder({ bytes: elf.readSection(hdr), address: hdr.addr }, frames);
  if (fast !== undefined) return fast;
  const all = fdeRanges(frames.bytes, frames.address);
  return (address) => rangeAt(all, address);
}

function inside(range: CodeRange, address: bigint): boolean {
  return range.start <= address && address < range.end;
}

/** Whether a symbol starts inside `range` (`starts` sorted). */
function symbolIn(starts: readonly bigint[], range: CodeRange): boolean {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! < range.start) lo = mid + 1;
    else hi = mid;
  }
  const first = starts[lo];
  return first !== undefined && first < range.end;
}

/** The direct branches of the code in `range`, read from the file; undefined when not decodable. */
function decode(elf: ElfFile, range: CodeRange) {
  const size = range.end - range.start;
  if (size <= 0n || size > BigInt(MAX_DECODED)) return undefined;
  const segment = elf.programHeaders().find((p) =>
    p.type === PT_LOAD && (p.flags & PF_X) !== 0 && p.vaddr <= range.start &&
    range.end <= p.vaddr + BigInt(p.filesz)
  );
  if (segment === undefined) return undefined;
  const piece: SectionHeader = {
    name: "",
    type: 1, // SHT_PROGBITS
    flags: 0n,
    addr: range.start,
    offset: segment.offset + Number(range.start - segment.vaddr),
    size: Number(size),
    link: 0,
    info: 0,
    entsize: 0,
  };
  try {
    return directBranches(elf.readSection(piece), range.start);
  } catch {
    return undefined;
  }
}

/** Every defined `STT_FUNC` symbol of `.symtab` and `.dynsym`; only `named` keeps its name. */
function functionSymbols(elf: ElfFile, named: string): FunctionSymbol[] {
  const sections = elf.sectionHeaders();
  const out: FunctionSymbol[] = [];
  const wanted = new TextEncoder().encode(named);
  for (const table of sections) {
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) continue;
    const strings = sections[table.link];
    if (strings === undefined || table.entsize !== SYM_SIZE) continue;
    const syms = elf.readSection(table);
    const strtab = elf.readSection(strings);
    const view = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
    for (let o = 0; o + SYM_SIZE <= syms.length; o += SYM_SIZE) {
      if ((syms[o + 4]! & 0xf) !== STT_FUNC || view.getUint16(o + 6, true) === 0) continue;
      const nameAt = view.getUint32(o, true);
      const isWanted = strtab[nameAt + wanted.length] === 0 &&
        wanted.every((byte, i) => strtab[nameAt + i] === byte);
      out.push({
        name: isWanted ? named : "",
        value: view.getBigUint64(o + 8, true),
        size: view.getBigUint64(o + 16, true),
      });
    }
  }
  return out;
}

/**
 * Names the frames of one physical frame that libdw left unnamed in the body
 * (run-time addresses: `bias` added to the body's).
 */
export class EvalBodyNamer {
  readonly #find: () => EvalBodySearch;
  readonly #bias: bigint;
  readonly #inObject: (address: bigint) => boolean;
  #search: EvalBodySearch | undefined;
  /** Whether a frame was named so: libdw has no names for the interpreter's local functions. */
  used = false;

  /**
   * @param find finds the body (called once, when an unnamed frame of the object first needs it)
   * @param object where the object is loaded: `bias` is added to its addresses at run time,
   * `contains` says whether a run-time address is in one of its mappings
   */
  constructor(
    find: () => EvalBodySearch,
    object: { bias: bigint; contains: (address: bigint) => boolean },
  ) {
    this.#find = find;
    this.#bias = object.bias;
    this.#inObject = object.contains;
  }

  /** The search result, once it was needed. */
  get search(): EvalBodySearch | undefined {
    return this.#search;
  }

  /**
   * `frames` (the symbolizer's, for one physical frame whose instruction is at `lookup`),
   * with the one unnamed frame named when `lookup` is in the body; else `frames` itself.
   */
  name(frames: readonly NativeFrame[], lookup: bigint): readonly NativeFrame[] {
    if (frames.length !== 1 || frames[0]!.symbol !== undefined) return frames;
    if (!this.#inObject(lookup)) return frames;
    this.#search ??= this.#find();
    if (!("body" in this.#search)) return frames;
    const { body } = this.#search;
    const elfAddress = lookup - this.#bias;
    if (elfAddress < body.start || elfAddress >= body.end) return frames;
    this.used = true;
    return [{ ...frames[0]!, symbol: body.name }];
  }
}
