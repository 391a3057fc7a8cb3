/**
 * Cuts the `.symtab` of an ELF image (a debug image pystack hands to libdw,
 * `src/elf/debug_image.ts`) down to the symbols that can name a given set of
 * addresses, so that libdwfl's symbol lookup, a scan of the whole table per
 * address (40,000 symbols in Debian's python3.11), scans a few hundred.
 *
 * What libdwfl (`dwfl_module_addrinfo`, elfutils 0.188) picks for an address
 * `a` stays the same. It looks only at "eligible" symbols (named, defined, not
 * a section, file or TLS symbol) at or below `a`, in table order. When a
 * sized symbol contains `a`, the answer is the closest such symbol (the
 * globals are searched first, the locals only when no global contains `a`
 * and no global label sits right at `a`), whatever else the table holds:
 * those symbols are kept, in the same order. Otherwise (no sized symbol
 * contains `a`, or a global label sits at `a`) libdwfl may fall back on a
 * label (a symbol without a size) above the end of every symbol below `a`,
 * which depends on all of them: then every eligible symbol at or below `a` is
 * kept. Locals stay before globals.
 *
 * Pure: works on the image's bytes, in place.
 *
 * @module
 */

import { parseElfHeader } from "./elf_file.ts";

const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const SHT_SYMTAB = 2;
const SHT_SYMTAB_SHNDX = 18;
const STT_SECTION = 3;
const STT_FILE = 4;
const STT_TLS = 6;
const SHN_UNDEF = 0;
const STB_LOCAL = 0;
/** High words above this make a 64-bit value unsafe as a JS number. */
const MAX_HIGH = 2 ** 21;

/** What {@linkcode narrowSymbolTable} did. */
export interface NarrowedSymbols {
  /** Symbols in the table before and after (the null symbol included). */
  before: number;
  after: number;
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Keeps in the `.symtab` of the ELF image `image` only the symbols libdwfl
 * may look at to name `addresses` (the object's own addresses, bias taken
 * off; see the module doc), rewriting the table, its size and its first
 * global index in place.
 *
 * @param image a whole 64-bit little-endian ELF file (or debug image), writable
 * @param addresses the addresses that will be looked up, in the file's terms
 * @returns the counts, or undefined when the image is left as it was: no
 * `.symtab`, extended section indexes (`SHT_SYMTAB_SHNDX`), a malformed table,
 * or values too large for this
 *
 * @example An image without a symbol table is left alone
 * ```ts
 * import { narrowSymbolTable } from "./symbol_subset.ts";
 * import assert from "node:assert/strict";
 * assert.equal(narrowSymbolTable(new Uint8Array(64), [0x1000n]), undefined);
 * ```
 */
export function narrowSymbolTable(
  image: Uint8Array,
  addresses: readonly bigint[],
): NarrowedSymbols | undefined {
  let header;
  try {
    header = parseElfHeader(image);
  } catch {
    return undefined;
  }
  const { shoff, shnum } = header;
  if (
    header.shentsize !== SHDR_SIZE || shnum === 0 || shoff + shnum * SHDR_SIZE > image.length
  ) {
    return undefined;
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let symtab = -1;
  for (let i = 0; i < shnum; i++) {
    const type = view.getUint32(shoff + i * SHDR_SIZE + 4, true);
    if (type === SHT_SYMTAB_SHNDX) return undefined;
    if (type === SHT_SYMTAB) {
      if (symtab >= 0) return undefined;
      symtab = i;
    }
  }
  if (symtab < 0) return undefined;
  const sh = shoff + symtab * SHDR_SIZE;
  const offset = Number(view.getBigUint64(sh + 24, true));
  const size = Number(view.getBigUint64(sh + 32, true));
  const link = view.getUint32(sh + 40, true);
  const firstGlobal = view.getUint32(sh + 44, true);
  const entsize = Number(view.getBigUint64(sh + 56, true));
  if (entsize !== SYM_SIZE || size % SYM_SIZE !== 0 || offset + size > image.length) {
    return undefined;
  }
  if (link >= shnum) return undefined;
  const strOffset = Number(view.getBigUint64(shoff + link * SHDR_SIZE + 24, true));
  const strSize = Number(view.getBigUint64(shoff + link * SHDR_SIZE + 32, true));
  if (strOffset + strSize > image.length) return undefined;
  const count = size / SYM_SIZE;
  if (count < 2 || firstGlobal > count) return undefined;

  const wanted: number[] = [];
  for (const a of addresses) {
    if (a < 0n || a > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    wanted.push(Number(a));
  }
  const sorted = Float64Array.from(new Set(wanted)).sort();
  const m = sorted.length;
  if (m === 0) return undefined;

  // Pass 1: the sized symbols that contain an address (kept), and which addresses have one.
  // The table as 32-bit words (6 per symbol): cheap reads, since this runs once, not yet compiled.
  const words = (image.byteOffset + offset) % 4 === 0
    ? new Uint32Array(image.buffer, image.byteOffset + offset, size / 4)
    : new Uint32Array(image.slice(offset, offset + size).buffer);
  const last = sorted[m - 1]!;
  const keep = new Uint8Array(count);
  const covered = new Uint8Array(m);
  const exactLabel = new Uint8Array(m);
  const eligible = new Uint8Array(count);
  const values = new Float64Array(count);
  for (let i = 1; i < count; i++) {
    const w = i * 6;
    const info = words[w + 1]! & 0xff;
    const type = info & 0xf;
    if (type === STT_SECTION || type === STT_FILE || type === STT_TLS) continue;
    if (words[w + 1]! >>> 16 === SHN_UNDEF) continue;
    const name = words[w]!;
    if (name >= strSize || image[strOffset + name] === 0) continue;
    const valueHigh = words[w + 3]!;
    const sizeHigh = words[w + 5]!;
    if (valueHigh >= MAX_HIGH || sizeHigh >= MAX_HIGH) return undefined;
    const value = words[w + 2]! + valueHigh * 2 ** 32;
    if (value > last) continue; // above every address: libdwfl never looks at it
    const length = words[w + 4]! + sizeHigh * 2 ** 32;
    eligible[i] = 1;
    values[i] = value;
    const k0 = lowerBound(sorted, value);
    if (length === 0) {
      // A global label right at an address stops libdwfl before it looks at the locals.
      if (info >> 4 !== STB_LOCAL && sorted[k0] === value) exactLabel[k0] = 1;
      continue;
    }
    for (let k = k0; k < m && sorted[k]! < value + length; k++) {
      covered[k] = 1;
      keep[i] = 1;
    }
  }
  // Pass 2: below the highest address no sized symbol contains, every eligible symbol.
  let uncovered = -1;
  for (let k = 0; k < m; k++) {
    if (covered[k] === 0 || exactLabel[k] === 1) uncovered = sorted[k]!;
  }
  if (uncovered >= 0) {
    for (let i = 1; i < count; i++) if (eligible[i] === 1 && values[i]! <= uncovered) keep[i] = 1;
  }

  let next = 1;
  let newFirstGlobal = firstGlobal === 0 ? 0 : 1;
  for (let i = 1; i < count; i++) {
    if (keep[i] === 0) continue;
    if (next !== i) {
      image.copyWithin(
        offset + next * SYM_SIZE,
        offset + i * SYM_SIZE,
        offset + (i + 1) * SYM_SIZE,
      );
    }
    next++;
    if (i < firstGlobal) newFirstGlobal = next;
  }
  view.setBigUint64(sh + 32, BigInt(next * SYM_SIZE), true);
  view.setUint32(sh + 44, newFirstGlobal, true);
  return { before: count, after: next };
}
