/**
 * Program counters to {@linkcode NativeFrame}s through libdw: object, ELF
 * symbol, DWARF source line, and the calls the compiler inlined at that
 * address (one extra frame each, marked `inlined`). Results are cached per
 * address: one lookup costs about 0.3 ms, and the same return addresses
 * recur across threads.
 *
 * @module
 */

import { cString, DW, type DwflHandle, openLibdw, SIZEOF } from "../../ffi/libdw.ts";
import { openLibcFiles } from "../../ffi/libc.ts";
import type { NativeFrame } from "../model.ts";
import type { RawFrame } from "./session.ts";
import { moduleInfo } from "./module_info.ts";

/** Options of {@linkcode Symbolizer}. */
export interface SymbolizerOptions {
  /** Turns a linkage name into a readable one (C++, Rust). */
  demangle: (name: string) => string;
  /** The name shown for an object, from libdwfl's module name (a path, `[vdso]`, …). */
  libraryName?: (moduleName: string) => string;
  /**
   * Whether the DWARF of a module may be read now (default: always); a
   * module whose debug image is not complete has only its ELF symbols.
   */
  dwarfReady?: (mod: Deno.PointerObject) => boolean;
  /**
   * Leave the source line of each address's innermost frame (the costliest
   * lookup: a whole line table per compilation unit) to
   * {@linkcode Symbolizer.fillLine}, for the frames that are shown.
   */
  deferLines?: boolean;
}

/** A source line left for {@linkcode Symbolizer.fillLine}. */
interface PendingLine {
  frame: NativeFrame;
  /** libdwfl's CU DIE (it lives as long as the session) and the address in DWARF terms. */
  cu: Deno.PointerObject;
  address: bigint;
}

/** What the symbol table says about one address. */
interface SymbolInfo {
  mod: Deno.PointerObject | null;
  info: ModuleInfo | undefined;
  elfSymbol: string | undefined;
}

interface ModuleInfo {
  name: string;
  /** Load bias: the object's own (ELF) address of `pc` is `pc - bias`. */
  bias: bigint | undefined;
}

/** Resolves program counters of one elfutils session. */
export class Symbolizer {
  readonly #dwfl: DwflHandle;
  readonly #options: SymbolizerOptions;
  readonly #cache = new Map<bigint, NativeFrame[]>();
  readonly #symbols = new Map<bigint, SymbolInfo>();
  readonly #pendingLines = new Map<bigint, PendingLine>();
  readonly #modules = new Map<bigint, ModuleInfo>();
  // Scratch buffers for out-parameters.
  readonly #u64 = new BigUint64Array(2);
  readonly #sym = new Uint8Array(SIZEOF.sym);
  readonly #attr = new Uint8Array(SIZEOF.attribute);
  readonly #cuDie = new Uint8Array(SIZEOF.die);
  readonly #i32 = new Int32Array(1);

  constructor(dwfl: DwflHandle, options: SymbolizerOptions) {
    this.#dwfl = dwfl;
    this.#options = options;
  }

  /** Frames for one physical frame, innermost first: inlined calls, then the function itself. */
  frames(raw: RawFrame): NativeFrame[] {
    const key = keyOf(raw);
    let frames = this.#cache.get(key);
    if (frames === undefined) {
      frames = this.#resolve(raw.pc, lookupOf(raw), this.symbol(raw), key);
      this.#cache.set(key, frames);
    }
    return frames;
  }

  /**
   * The module of one physical frame and its ELF symbol, looked up (and
   * cached) without reading DWARF; null outside any module.
   */
  symbol(raw: RawFrame): SymbolInfo {
    const key = keyOf(raw);
    let found = this.#symbols.get(key);
    if (found === undefined) {
      found = this.#lookupSymbol(lookupOf(raw));
      this.#symbols.set(key, found);
    }
    return found;
  }

  #lookupSymbol(lookup: bigint): SymbolInfo {
    const dw = openLibdw();
    const mod = dw.dwfl_addrmodule(this.#dwfl.pointer, lookup);
    if (mod === null) return { mod, info: undefined, elfSymbol: undefined };
    const info = this.#module(mod);
    const symbolPtr = dw.dwfl_module_addrinfo(
      mod,
      lookup,
      new Uint8Array(this.#u64.buffer, 0, 8),
      this.#sym,
      null,
      null,
      null,
    );
    return { mod, info, elfSymbol: cString(symbolPtr) };
  }

  /** Distinct addresses resolved so far. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** Sets the source file and line of `raw`'s innermost frame, when `deferLines` left them out. */
  fillLine(raw: RawFrame): void {
    const key = keyOf(raw);
    const pending = this.#pendingLines.get(key);
    if (pending === undefined) return;
    this.#pendingLines.delete(key);
    const { file, line } = this.#lineAt(pending.cu, pending.address);
    if (file !== undefined) pending.frame.file = file;
    if (line !== undefined) pending.frame.line = line;
  }

  #lineAt(cu: Deno.PointerObject, address: bigint): { file?: string; line?: number } {
    const dw = openLibdw();
    const found = dw.dwarf_getsrc_die(cu, address);
    if (found === null) return {};
    const file = cString(dw.dwarf_linesrc(found, null, null));
    const line = dw.dwarf_lineno(found, new Uint8Array(this.#i32.buffer)) === 0
      ? this.#i32[0]!
      : undefined;
    return { ...(file === undefined ? {} : { file }), ...(line === undefined ? {} : { line }) };
  }

  #resolve(pc: bigint, lookup: bigint, found: SymbolInfo, key: bigint): NativeFrame[] {
    const dw = openLibdw();
    const { mod, info, elfSymbol } = found;
    if (mod === null || info === undefined) return [{ address: pc, inlined: false }];
    const library = info.name;
    if (elfSymbol === undefined) {
      const frame: NativeFrame = { address: pc, library, inlined: false };
      if (info.bias !== undefined) frame.objectAddress = pc - info.bias;
      return [frame];
    }
    const symbol = this.#options.demangle(elfSymbol);
    const real: NativeFrame = { address: pc, symbol, library, inlined: false };
    if (this.#options.dwarfReady?.(mod) === false) return [real];
    const biasBuf = new Uint8Array(this.#u64.buffer, 8, 8);
    const cu = dw.dwfl_module_addrdie(mod, lookup, biasBuf);
    if (cu === null) return [real];
    const dwarfAddress = lookup - this.#u64[1]!;
    // The innermost frame is at the address's own line (now, or in fillLine).
    const defer = this.#options.deferLines === true;
    let { file, line: lineNo } = defer ? {} : this.#lineAt(cu, dwarfAddress);
    const out: NativeFrame[] = [];
    const place = (frame: NativeFrame) => {
      if (out.length === 0 && defer) {
        this.#pendingLines.set(key, { frame, cu, address: dwarfAddress });
        return;
      }
      if (file !== undefined) frame.file = file;
      if (lineNo !== undefined) frame.line = lineNo;
    };
    for (const scope of this.#inlineChain(cu, dwarfAddress)) {
      const frame: NativeFrame = {
        address: pc,
        symbol: scope.name === undefined ? "???" : this.#options.demangle(scope.name),
        library,
        inlined: true,
      };
      place(frame);
      out.push(frame);
      // The caller of an inlined call runs at the call site.
      file = scope.callFile;
      lineNo = scope.callLine;
    }
    place(real);
    out.push(real);
    return out;
  }

  #module(mod: Deno.PointerObject): ModuleInfo {
    const key = BigInt(Deno.UnsafePointer.value(mod));
    let info = this.#modules.get(key);
    if (info !== undefined) return info;
    const dw = openLibdw();
    const range = moduleInfo(mod);
    const name = range.name ?? "???";
    const bias = new BigUint64Array(1);
    const elf = dw.dwfl_module_getelf(mod, new Uint8Array(bias.buffer));
    info = {
      name: this.#options.libraryName?.(name) ?? name,
      bias: elf === null ? undefined : bias[0]!,
    };
    this.#modules.set(key, info);
    return info;
  }

  /**
   * The inlined calls at `address` in the CU `cu`, innermost first: each
   * with its name and where its caller called it.
   */
  #inlineChain(
    cu: Deno.PointerObject,
    address: bigint,
  ): { name: string | undefined; callFile: string | undefined; callLine: number | undefined }[] {
    const dw = openLibdw();
    const libc = openLibcFiles();
    const scopesOut = new BigUint64Array(1);
    const n = dw.dwarf_getscopes(cu, address, new Uint8Array(scopesOut.buffer));
    if (n <= 0) return [];
    const scopes = Deno.UnsafePointer.create(scopesOut[0]!);
    const chain: {
      name: string | undefined;
      callFile: string | undefined;
      callLine: number | undefined;
    }[] = [];
    try {
      // The full nesting of the innermost scope (dwarf_getscopes may stop at an abstract origin).
      const nestedOut = new BigUint64Array(1);
      const m = dw.dwarf_getscopes_die(scopes, new Uint8Array(nestedOut.buffer));
      if (m <= 0) return [];
      const nested = Deno.UnsafePointer.create(nestedOut[0]!);
      try {
        for (let i = 0; i < m; i++) {
          const die = Deno.UnsafePointer.offset(nested!, i * SIZEOF.die)!;
          if (dw.dwarf_tag(die) !== DW.TAG_inlined_subroutine) continue;
          chain.push({
            name: this.#linkageName(die),
            callFile: this.#callFile(die),
            callLine: this.#udata(die, DW.AT_call_line),
          });
        }
      } finally {
        libc.free(nested);
      }
    } finally {
      libc.free(scopes);
    }
    return chain;
  }

  #linkageName(die: Deno.PointerObject): string | undefined {
    const dw = openLibdw();
    for (const at of [DW.AT_linkage_name, DW.AT_MIPS_linkage_name]) {
      if (dw.dwarf_attr_integrate(die, at, this.#attr) !== null) {
        const name = cString(dw.dwarf_formstring(this.#attr));
        if (name !== undefined) return name;
      }
    }
    return cString(dw.dwarf_diename(die));
  }

  #udata(die: Deno.PointerObject, attribute: number): number | undefined {
    const dw = openLibdw();
    if (dw.dwarf_attr_integrate(die, attribute, this.#attr) === null) return undefined;
    const value = new BigUint64Array(1);
    if (dw.dwarf_formudata(this.#attr, new Uint8Array(value.buffer)) !== 0) return undefined;
    return Number(value[0]!);
  }

  #callFile(die: Deno.PointerObject): string | undefined {
    const index = this.#udata(die, DW.AT_call_file);
    if (index === undefined) return undefined;
    const dw = openLibdw();
    if (dw.dwarf_diecu(die, this.#cuDie, null, null) === null) return undefined;
    const files = new BigUint64Array(2);
    const filesView = new Uint8Array(files.buffer);
    if (
      dw.dwarf_getsrcfiles(
        Deno.UnsafePointer.of(this.#cuDie),
        filesView.subarray(0, 8),
        filesView.subarray(8, 16),
      ) !== 0
    ) {
      return undefined;
    }
    if (BigInt(index) >= files[1]!) return undefined;
    return cString(
      dw.dwarf_filesrc(Deno.UnsafePointer.create(files[0]!), BigInt(index), null, null),
    );
  }
}

/** A return address points after the call: look up the call instruction itself. */
function lookupOf(raw: RawFrame): bigint {
  return raw.activation ? raw.pc : raw.pc - 1n;
}

function keyOf(raw: RawFrame): bigint {
  return raw.pc * 2n + (raw.activation ? 1n : 0n);
}
