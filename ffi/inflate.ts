/**
 * Decompressors for zlib streams (the `ELFCOMPRESS_ZLIB` sections of
 * separate debug files): libdeflate when it is installed (Debian package
 * `libdeflate0`; about 2.7 times faster than zlib), zlib otherwise (always
 * there: libdw needs it). Declarative tables and lazy openers; no logic.
 *
 * @module
 */

/** The libdeflate functions we bind (libdeflate >= 1.0). */
export const LIBDEFLATE_SYMBOLS = {
  /** struct libdeflate_decompressor *libdeflate_alloc_decompressor(void) */
  libdeflate_alloc_decompressor: { parameters: [], result: "pointer" },
  /** void libdeflate_free_decompressor(struct libdeflate_decompressor *d) */
  libdeflate_free_decompressor: { parameters: ["pointer"], result: "void" },
  /**
   * enum libdeflate_result libdeflate_zlib_decompress(struct libdeflate_decompressor *d,
   * const void *in, size_t in_nbytes, void *out, size_t out_nbytes_avail,
   * size_t *actual_out_nbytes_ret) — with actual_out_nbytes_ret NULL the
   * output must fill out_nbytes_avail exactly; the Adler-32 checksum is verified
   */
  libdeflate_zlib_decompress: {
    parameters: ["pointer", "pointer", "usize", "pointer", "usize", "pointer"],
    result: "i32",
  },
  /** The same function, run on a worker thread (returns a promise). */
  libdeflate_zlib_decompress_async: {
    name: "libdeflate_zlib_decompress",
    parameters: ["pointer", "pointer", "usize", "pointer", "usize", "pointer"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The zlib functions we bind. */
export const LIBZ_SYMBOLS = {
  /** int uncompress(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen) */
  uncompress: { parameters: ["pointer", "buffer", "pointer", "u64"], result: "i32" },
  /** The same function, run on a worker thread (returns a promise). */
  uncompress_async: {
    name: "uncompress",
    parameters: ["pointer", "buffer", "pointer", "u64"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** `LIBDEFLATE_SUCCESS`, `Z_OK`. */
export const INFLATE_OK = 0;

/** The opened libdeflate. */
export type Libdeflate = Deno.DynamicLibrary<typeof LIBDEFLATE_SYMBOLS>["symbols"];
/** The opened zlib. */
export type Libz = Deno.DynamicLibrary<typeof LIBZ_SYMBOLS>["symbols"];

let libdeflate: Libdeflate | null | undefined;
let libz: Libz | undefined;

/**
 * Opens libdeflate (`libdeflate.so.0`) on first use; undefined when it is not
 * installed (or `_PYSTACK_NO_LIBDEFLATE` is set: a testing aid for the zlib path).
 */
export function openLibdeflate(): Libdeflate | undefined {
  if (libdeflate === undefined) {
    try {
      libdeflate = Deno.env.get("_PYSTACK_NO_LIBDEFLATE")
        ? null
        : Deno.dlopen("libdeflate.so.0", LIBDEFLATE_SYMBOLS).symbols;
    } catch {
      libdeflate = null;
    }
  }
  return libdeflate ?? undefined;
}

/** Opens zlib (`libz.so.1`) on first use; throws when it is missing. */
export function openLibz(): Libz {
  libz ??= Deno.dlopen("libz.so.1", LIBZ_SYMBOLS).symbols;
  return libz;
}
