/**
 * The address ranges of an object's functions as its unwind table
 * (`.eh_frame`) describes them: one per FDE, which stripping keeps. Each
 * part of a function that the compiler moved away (GCC's `.cold` partition)
 * has its own FDE.
 *
 * @module
 */

import { ElfFormatError } from "./elf_file.ts";

/** One FDE's code: `[start, end)`, in the object's own (ELF) addresses. */
export interface CodeRange {
  start: bigint;
  end: bigint;
}

/** `DW_EH_PE_*`: how a pointer is stored (low nibble) and what it is relative to (high). */
const PE = {
  omit: 0xff,
  absptr: 0x00,
  uleb128: 0x01,
  udata2: 0x02,
  udata4: 0x03,
  udata8: 0x04,
  sleb128: 0x09,
  sdata2: 0x0a,
  sdata4: 0x0b,
  sdata8: 0x0c,
  pcrel: 0x10,
} as const;

/** A cursor over the section's bytes; every read checks the bounds. */
class Reader {
  readonly #view: DataView;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  #take(n: number): number {
    const at = this.offset;
    if (at + n > this.#view.byteLength) {
      throw new ElfFormatError(`Cannot read .eh_frame: ${n} bytes at offset ${at} past its end`);
    }
    this.offset += n;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  u64(): bigint {
    return this.#view.getBigUint64(this.#take(8), true);
  }

  leb(signed: boolean): bigint {
    let result = 0n;
    let shift = 0n;
    let byte: number;
    do {
      byte = this.u8();
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (shift > 70n) throw new ElfFormatError("Cannot read .eh_frame: a LEB128 is too long");
    } while (byte & 0x80);
    if (signed && byte & 0x40) result -= 1n << shift;
    return result;
  }

  cString(): string {
    let s = "";
    for (let c = this.u8(); c !== 0; c = this.u8()) s += String.fromCharCode(c);
    return s;
  }

  /** A value stored as `encoding` says, before its relative base is applied. */
  encoded(encoding: number): bigint {
    const v = this.#view;
    switch (encoding & 0x0f) {
      case PE.absptr:
      case PE.udata8:
        return this.u64();
      case PE.uleb128:
        return this.leb(false);
      case PE.udata2:
        return BigInt(v.getUint16(this.#take(2), true));
      case PE.udata4:
        return BigInt(this.u32());
      case PE.sleb128:
        return this.leb(true);
      case PE.sdata2:
        return BigInt(v.getInt16(this.#take(2), true));
      case PE.sdata4:
        return BigInt(v.getInt32(this.#take(4), true));
      case PE.sdata8:
        return v.getBigInt64(this.#take(8), true);
      default:
        throw new ElfFormatError(
          `Cannot read .eh_frame: pointer encoding 0x${encoding.toString(16)} is not known`,
        );
    }
  }
}

/**
 * The FDE code ranges of an `.eh_frame` section, sorted by start.
 *
 * @param section the section's bytes
 * @param address the section's address (`sh_addr`), the base of `pcrel` pointers
 * @returns one range per FDE with a non-empty range, sorted by `start`
 * @throws {ElfFormatError} when an entry runs past the section, a CIE is
 * missing, or a pointer encoding other than absolute or PC-relative is used
 *
 * @example One CIE ("zR", pcrel|sdata4) and one FDE for 0x1000…0x1010
 * ```ts
 * import { fdeRanges } from "./eh_frame.ts";
 * import assert from "node:assert/strict";
 * const cie = [16, 0, 0, 0, 0, 0, 0, 0, 1, 0x7a, 0x52, 0, 1, 0x78, 16, 1, 0x1b, 0, 0, 0];
 * // FDE at 20: length 16, CIE pointer 24 (back to 0), pc_begin pcrel from 28, pc_range 16.
 * const pcBegin = 0x1000 - (0x400 + 28);
 * const fde = [16, 0, 0, 0, 24, 0, 0, 0, ...new Uint8Array(new Int32Array([pcBegin]).buffer),
 *   16, 0, 0, 0, 0, 0, 0, 0];
 * const bytes = new Uint8Array([...cie, ...fde, 0, 0, 0, 0]);
 * assert.deepEqual(fdeRanges(bytes, 0x400n), [{ start: 0x1000n, end: 0x1010n }]);
 * ```
 */
export function fdeRanges(section: Uint8Array, address: bigint): CodeRange[] {
  const cies = new Map<number, number>(); // CIE offset → FDE pointer encoding
  const ranges: CodeRange[] = [];
  let offset = 0;
  while (offset + 4 <= section.length) {
    const entry = entryAt(section, address, offset, cies);
    if (entry === undefined) break; // terminator
    if (entry.range !== undefined && entry.range.end > entry.range.start) ranges.push(entry.range);
    offset = entry.next;
  }
  return ranges.sort((a, b) => a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
}

/**
 * The entry at `offset`: an FDE's range (none for a CIE) and where the next entry starts;
 * undefined for the terminator. `cies` caches CIE offset → FDE pointer encoding.
 */
function entryAt(
  section: Uint8Array,
  address: bigint,
  offset: number,
  cies: Map<number, number>,
): { range?: CodeRange; next: number } | undefined {
  const r = new Reader(section, offset);
  let length = BigInt(r.u32());
  if (length === 0n) return undefined;
  if (length === 0xffffffffn) length = r.u64();
  const bodyStart = r.offset;
  if (length > BigInt(section.length - bodyStart)) {
    throw new ElfFormatError(`Cannot read .eh_frame: the entry at ${offset} runs past its end`);
  }
  const next = bodyStart + Number(length);
  const idAt = r.offset;
  const id = r.u32();
  if (id === 0) {
    cies.set(offset, cieEncoding(new Reader(section.subarray(0, next), r.offset)));
    return { next };
  }
  const cieAt = idAt - id;
  let encoding = cies.get(cieAt);
  if (encoding === undefined) {
    if (cieAt < 0 || cieAt >= section.length) {
      throw new ElfFormatError(`Cannot read .eh_frame: the FDE at ${offset} has no CIE`);
    }
    encoding = cieEncodingAt(section, cieAt);
    cies.set(cieAt, encoding);
  }
  const fieldAt = r.offset;
  const start = applied(r.encoded(encoding), encoding, address + BigInt(fieldAt));
  const size = r.encoded(encoding & 0x0f);
  return { range: { start, end: start + size }, next };
}

/** Looks up the FDE range that holds an address. */
export type FdeFinder = (address: bigint) => CodeRange | undefined;

/** `DW_EH_PE_datarel | DW_EH_PE_sdata4`: the search table's encoding that linkers write. */
const TABLE_DATAREL_SDATA4 = 0x3b;

/**
 * An {@linkcode FdeFinder} over the sorted search table of `.eh_frame_hdr`: each lookup
 * reads one FDE, instead of the whole `.eh_frame`.
 *
 * @param hdr `.eh_frame_hdr`: its bytes and address
 * @param ehFrame `.eh_frame`: its bytes and address
 * @returns the finder, or undefined when the header has no table or one encoded otherwise
 * than `datarel|sdata4` (use {@linkcode fdeRanges} and {@linkcode rangeAt} then)
 * @throws {ElfFormatError} (from the finder) when the FDE the table names cannot be read
 */
export function hdrFinder(
  hdr: { bytes: Uint8Array; address: bigint },
  ehFrame: { bytes: Uint8Array; address: bigint },
): FdeFinder | undefined {
  const h = hdr.bytes;
  if (h.length < 4 || h[0] !== 1) return undefined;
  const [framePtrEncoding, countEncoding, tableEncoding] = [h[1]!, h[2]!, h[3]!];
  if (tableEncoding !== TABLE_DATAREL_SDATA4 || countEncoding === PE.omit) return undefined;
  let count: number;
  let table: number;
  try {
    const r = new Reader(h, 4);
    if (framePtrEncoding !== PE.omit) r.encoded(framePtrEncoding);
    count = Number(r.encoded(countEncoding));
    table = r.offset;
  } catch {
    return undefined;
  }
  if (count <= 0 || table + count * 8 > h.length) return undefined;
  const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const cies = new Map<number, number>();
  const base = hdr.address;
  return (address) => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (base + BigInt(view.getInt32(table + mid * 8, true)) <= address) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    const fde = base + BigInt(view.getInt32(table + (lo - 1) * 8 + 4, true)) - ehFrame.address;
    if (fde < 0n || fde >= BigInt(ehFrame.bytes.length)) {
      throw new ElfFormatError("Cannot read .eh_frame_hdr: an FDE outside .eh_frame");
    }
    const range = entryAt(ehFrame.bytes, ehFrame.address, Number(fde), cies)?.range;
    return range !== undefined && range.start <= address && address < range.end ? range : undefined;
  };
}

function applied(value: bigint, encoding: number, fieldAddress: bigint): bigint {
  const relative = encoding & 0x70;
  if (relative === 0) return BigInt.asUintN(64, value);
  if (relative === PE.pcrel) return BigInt.asUintN(64, fieldAddress + value);
  throw new ElfFormatError(
    `Cannot read .eh_frame: FDE addresses relative by 0x${relative.toString(16)} are not supported`,
  );
}

function cieEncodingAt(section: Uint8Array, at: number): number {
  const r = new Reader(section, at);
  let length = BigInt(r.u32());
  if (length === 0xffffffffn) length = r.u64();
  const end = r.offset + Number(length);
  if (end > section.length || r.u32() !== 0) {
    throw new ElfFormatError(`Cannot read .eh_frame: no CIE at offset ${at}`);
  }
  return cieEncoding(new Reader(section.subarray(0, end), r.offset));
}

/** The FDE pointer encoding a CIE declares (its `R` augmentation), read after its id. */
function cieEncoding(r: Reader): number {
  const version = r.u8();
  const augmentation = r.cString();
  if (version >= 4) r.offset += 2; // address_size, segment_selector_size
  r.leb(false); // code alignment
  r.leb(true); // data alignment
  if (version === 1) r.u8();
  else r.leb(false); // return address register
  if (!augmentation.startsWith("z")) return PE.absptr;
  r.leb(false); // augmentation data length
  for (const c of augmentation.slice(1)) {
    if (c === "R") return r.u8();
    if (c === "L") r.u8();
    else if (c === "P") {
      const personality = r.u8();
      r.encoded(personality & 0x0f);
    } else if (c !== "S" && c !== "B" && c !== "G") {
      throw new ElfFormatError(`Cannot read .eh_frame: CIE augmentation "${augmentation}"`);
    }
  }
  return PE.absptr;
}

/**
 * The range of `ranges` (sorted, as {@linkcode fdeRanges} returns them) that holds `address`.
 *
 * @example
 * ```ts
 * import { rangeAt } from "./eh_frame.ts";
 * import assert from "node:assert/strict";
 * const ranges = [{ start: 0x10n, end: 0x20n }, { start: 0x20n, end: 0x28n }];
 * assert.deepEqual(rangeAt(ranges, 0x20n), { start: 0x20n, end: 0x28n });
 * assert.equal(rangeAt(ranges, 0x28n), undefined);
 * ```
 */
export function rangeAt(ranges: readonly CodeRange[], address: bigint): CodeRange | undefined {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= address) lo = mid + 1;
    else hi = mid;
  }
  const found = ranges[lo - 1];
  return found !== undefined && address < found.end ? found : undefined;
}
