/**
 * Readable names for native symbols: Rust (both schemes, in TypeScript)
 * first, then C++ through libstdc++'s `__cxa_demangle`; anything else, or a
 * name no demangler accepts, is returned unchanged.
 *
 * @module
 */

import { openLibstdcxx } from "../../ffi/libstdcxx.ts";
import { openLibcFiles } from "../../ffi/libc.ts";
import { toCString } from "../../ffi/libdw.ts";
import { demangleRust } from "./rust_demangle.ts";

/** Demangles one C++ name with `__cxa_demangle`; undefined when it fails or libstdc++ is missing. */
export type CxxDemangler = (mangled: string) => string | undefined;

let cxx: CxxDemangler | undefined | null;

/** `__cxa_demangle` from libstdc++, or undefined when libstdc++ cannot be loaded. */
export function cxxDemangler(): CxxDemangler | undefined {
  if (cxx === undefined) {
    try {
      const lib = openLibstdcxx();
      const libc = openLibcFiles();
      const status = new Int32Array(1);
      cxx = (mangled) => {
        const out = lib.__cxa_demangle(
          toCString(mangled),
          null,
          null,
          new Uint8Array(status.buffer),
        );
        if (out === null) return undefined;
        try {
          return status[0] === 0 ? Deno.UnsafePointerView.getCString(out) : undefined;
        } finally {
          libc.free(out);
        }
      };
    } catch {
      cxx = null;
    }
  }
  return cxx ?? undefined;
}

/**
 * The readable form of `symbol`. An ELF symbol version (`@GLIBC_2.2.5`,
 * `@@…`) is kept as is, after the demangled name.
 */
export function demangle(symbol: string, cxxDemangle?: CxxDemangler): string {
  if (!symbol.startsWith("_Z") && !symbol.startsWith("_R")) return symbol;
  const at = symbol.indexOf("@");
  const name = at > 0 ? symbol.slice(0, at) : symbol;
  const version = at > 0 ? symbol.slice(at) : "";
  const rust = demangleRust(name);
  if (rust !== undefined) return rust + version;
  if (name.startsWith("_Z")) {
    // libstdc++ is loaded only for the first C++ name.
    const cpp = (cxxDemangle ?? cxxDemangler())?.(name);
    if (cpp !== undefined) return cpp + version;
  }
  return symbol;
}
