/**
 * Compressed cores (gzip; zstd as systemd-coredump stores them, and lz4 as it
 * did before, on Ubuntu 20.04 and RHEL 8): detection by magic and streaming
 * decompression to a temporary file. `node:zlib` is imported only when a
 * gzip or zstd core is met; lz4 is decoded here (`lz4_frame.ts`).
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { type ByteReader, decodeLz4Frames, LZ4_MAGIC, Lz4FormatError } from "./lz4_frame.ts";

/** A compression format pystack reads directly. */
export type Compression = "gzip" | "zstd" | "lz4";

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
 * assert.equal(detectCompression(new Uint8Array([0x04, 0x22, 0x4d, 0x18])), "lz4");
 * assert.equal(detectCompression(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])), undefined);
 * ```
 */
export function detectCompression(head: Uint8Array): Compression | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  if (LZ4_MAGIC.every((byte, i) => head[i] === byte)) return "lz4";
  return undefined;
}

/**
 * The name of a compression pystack does not read (xz, bzip2), from a file's first bytes, to
 * say so instead of "not an ELF file".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unreadCompression } from "./decompress.ts";
 * assert.equal(unreadCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])), "xz");
 * assert.equal(unreadCompression(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])), undefined);
 * ```
 */
export function unreadCompression(head: Uint8Array): "xz" | "bzip2" | undefined {
  if ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00].every((byte, i) => head[i] === byte)) return "xz";
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
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
  if (compression === "lz4") {
    const out = await Deno.makeTempFile({ ...options, prefix: "pystack-core-", suffix: ".core" });
    return decompressLz4(path, out);
  }
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

/** {@linkcode decompressToTemp} for lz4: decoded block by block into `out`. */
function decompressLz4(path: string, out: string): Decompressed {
  using input = Deno.openSync(path);
  using output = Deno.openSync(out, { write: true, truncate: true });
  let written = 0;
  try {
    decodeLz4Frames(fileReader(input), (bytes) => {
      for (let at = 0; at < bytes.length;) at += output.writeSync(bytes.subarray(at));
      written += bytes.length;
    });
    return { path: out };
  } catch (e) {
    if (!(e instanceof Lz4FormatError)) {
      Deno.removeSync(out);
      throw e;
    }
    if (written > 0) return { path: out, error: `lz4 data ends early: ${e.message}` };
    Deno.removeSync(out);
    throw new Error(`lz4 data is corrupt: ${e.message}`);
  }
}

/** Reads `file` in 1 MiB pieces for {@linkcode decodeLz4Frames}. */
function fileReader(file: Deno.FsFile): ByteReader {
  const chunk = new Uint8Array(1 << 20);
  let buffered: Uint8Array = new Uint8Array(0);
  let ended = false;
  return {
    read(n: number): Uint8Array {
      while (buffered.length < n && !ended) {
        const got = file.readSync(chunk);
        if (got === null || got === 0) {
          ended = true;
          break;
        }
        buffered = concatBytes([buffered, chunk.subarray(0, got)]);
      }
      const taken = buffered.subarray(0, Math.min(n, buffered.length));
      buffered = buffered.subarray(taken.length);
      return taken;
    },
  };
}
