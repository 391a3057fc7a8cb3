/**
 * libstdc++'s Itanium C++ demangler: a declarative table and a lazy opener. No logic.
 *
 * @module
 */

/** The libstdc++ functions we bind, with their C prototypes. */
export const LIBSTDCXX_SYMBOLS = {
  /**
   * char *abi::__cxa_demangle(const char *mangled_name, char *output_buffer, size_t *length, int *status)
   * — returns a malloc'd string (free it) and sets *status to 0 on success
   */
  __cxa_demangle: { parameters: ["buffer", "pointer", "pointer", "buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libstdc++. */
export type Libstdcxx = Deno.DynamicLibrary<typeof LIBSTDCXX_SYMBOLS>["symbols"];

let libstdcxx: Libstdcxx | undefined;

/** Opens libstdc++ (`libstdc++.so.6`) on first use; throws when it is not installed. */
export function openLibstdcxx(): Libstdcxx {
  libstdcxx ??= Deno.dlopen("libstdc++.so.6", LIBSTDCXX_SYMBOLS).symbols;
  return libstdcxx;
}
