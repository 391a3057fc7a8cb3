/**
 * The function symbol that contains an address of an ELF file, from its
 * symbol tables (`.symtab`, else `.dynsym`): no debug information needed.
 *
 * @module
 */

import { u32, u64 } from "../bytes.ts";
import type { ElfFile } from "./elf_file.ts";

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SYM_SIZE = 24;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
/** Longest symbol name read. */
const MAX_NAME = 1024;

/** A function symbol and how far into it an address lies. */
export interface SymbolOffset {
  name: string;
  offset: bigint;
}

interface FunctionSymbol {
  value: bigint;
  size: bigint;
  name: string;
}

/** The function symbols of one ELF file, read once, for many look-ups. */
export class FunctionSymbols {
  /** Per table kind (`.symtab` first), sorted by address. */
  readonly #tables: FunctionSymbol[][] = [];

  constructor(elf: ElfFile) {
    const sections = elf.sectionHeaders();
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const symbols: FunctionSymbol[] = [];
      for (const table of sections) {
        if (table.type !== type || table.entsize !== SYM_SIZE) continue;
        const strings = sections[table.link];
        if (strings === undefined) continue;
        const syms = elf.readSection(table);
        const strtab = elf.readSection(strings);
        const view = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
        for (let o = 0; o + SYM_SIZE <= syms.length; o += SYM_SIZE) {
          const kind = syms[o + 4]! & 0xf;
          if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
          if ((syms[o + 6]! | (syms[o + 7]! << 8)) === 0) continue;
          const size = u64(view, o + 16);
          if (size === 0n) continue;
          const start = u32(view, o);
          const end = strtab.indexOf(0, start);
          const stop = end < 0 ? Math.min(strtab.length, start + MAX_NAME) : end;
          const name = new TextDecoder().decode(strtab.subarray(start, stop));
          symbols.push({ value: u64(view, o + 8), size, name });
        }
      }
      symbols.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      this.#tables.push(symbols);
    }
  }

  /**
   * The smallest function whose `[st_value, st_value + st_size)` holds `address` (as the file
   * numbers it), from `.symtab`, else `.dynsym`; undefined when none does (no guess from the
   * nearest symbol before it).
   */
  at(address: bigint): SymbolOffset | undefined {
    for (const symbols of this.#tables) {
      // The last symbol starting at or before `address`, then back over the ones that may
      // still contain it (nested or aliased functions), bounded.
      let lo = 0;
      let hi = symbols.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (symbols[mid]!.value <= address) lo = mid + 1;
        else hi = mid;
      }
      let best: FunctionSymbol | undefined;
      for (let i = lo - 1; i >= 0 && i >= lo - 64; i--) {
        const s = symbols[i]!;
        if (address < s.value + s.size && (best === undefined || s.size < best.size)) best = s;
      }
      if (best !== undefined) return { name: best.name, offset: address - best.value };
    }
    return undefined;
  }
}

/**
 * The function of `elf` that holds `address` (see {@linkcode FunctionSymbols.at}).
 *
 * @example
 * ```ts
 * import { ElfFile, fileSource } from "./elf_file.ts";
 * import { symbolAt } from "./symbol_at.ts";
 * import assert from "node:assert/strict";
 * using source = fileSource("/lib/x86_64-linux-gnu/libc.so.6");
 * const elf = new ElfFile(source);
 * const abort = elf.findSymbols(["abort"]).get("abort")!;
 * assert.deepEqual(symbolAt(elf, abort + 4n), { name: "abort", offset: 4n });
 * ```
 */
export function symbolAt(elf: ElfFile, address: bigint): SymbolOffset | undefined {
  return new FunctionSymbols(elf).at(address);
}
