/**
 * Compressed cores (gzip, zstd as systemd-coredump stores them): detection by
 * magic and streaming decompression to a temporary file. `node:zlib` is
 * imported only when a compressed core is met.
 *
 * @module
 */

/** A compression format pystack reads directly. */
export type Compression = "gzip" | "zstd";

/** The result of {@linkcode decompressToTemp}. */
export interface Decompressed {
  /** The temporary file holding the decompressed bytes; the caller deletes it. */
  path: string;
  /** Set when the compressed stream was cut short or corrupt: what was decoded is kept. */
  error?: string;
}

/**
 * Names the compression of a file from its first bytes, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectCompression } from "./decompress.ts";
 * assert.equal(detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0])), "gzip");
 * assert.equal(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd])), "zstd");
 * assert.equal(detectCompression(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])), undefined);
 * ```
 */
export function detectCompression(head: Uint8Array): Compression | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return undefined;
}

/**
 * Decompresses `path` into a new temporary file, streaming (memory stays flat).
 * A stream that ends early or turns corrupt keeps the bytes decoded so far and
 * reports why in `error`; nothing decoded at all throws.
 */
export async function decompressToTemp(
  path: string,
  compression: Compression,
  options: { dir?: string } = {},
): Promise<Decompressed> {
  const [zlib, fs, streams] = await Promise.all([
    import("node:zlib"),
    import("node:fs"),
    import("node:stream/promises"),
  ]);
  const out = await Deno.makeTempFile({ ...options, prefix: "pystack-core-", suffix: ".core" });
  const decoder = compression === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
  try {
    await streams.pipeline(fs.createReadStream(path), decoder, fs.createWriteStream(out));
    return { path: out };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const size = await Deno.stat(out).then((s) => s.size, () => 0);
    if (size > 0) return { path: out, error: `${compression} data ends early: ${reason}` };
    await Deno.remove(out).catch(() => {});
    throw new Error(`${compression} data is corrupt: ${reason}`);
  }
}
