/**
 * Parsing of `/proc/PID/maps`, the list of a process's memory mappings.
 *
 * @module
 */

/** One line of `/proc/PID/maps`. */
export interface MapEntry {
  /** First address of the mapping. */
  start: bigint;
  /** One past the last address. */
  end: bigint;
  /** Four characters, e.g. `r-xp` (`p` private, `s` shared). */
  perms: string;
  /** Offset of the mapping in its file. */
  offset: bigint;
  /** `major:minor` in hex, e.g. `fe:00`. */
  device: string;
  inode: number;
  /**
   * The file, `[heap]`, `[stack]`, `[vdso]`, … or `""` for an anonymous mapping.
   * Kept as the kernel prints it: a replaced or removed file ends in
   * `" (deleted)"`, and spaces inside the path are kept.
   */
  path: string;
}

const LINE =
  /^([0-9a-f]+)-([0-9a-f]+)\s+([r-][w-][x-][ps-])\s+([0-9a-f]+)\s+([0-9a-f]+:[0-9a-f]+)\s+(\d+)(?:\s+(.*))?$/i;

/**
 * Parses the text of `/proc/PID/maps`. Lines that do not have the kernel's
 * shape (`start-end perms offset major:minor inode [path]`) are skipped, as
 * pystack does; the path is everything after the padding that follows the
 * inode.
 *
 * @param text the whole file
 * @returns the mappings in file order
 *
 * @example
 * ```ts
 * import { parseMaps } from "./maps.ts";
 * import assert from "node:assert/strict";
 * const [heap, lib] = parseMaps(
 *   "55d193c7b000-55d193eaa000 rw-p 00000000 00:00 0                          [heap]\n" +
 *     "7f361f200000-7f361f2f5000 r--p 00000000 fe:00 26933    /opt/my lib/libpython3.11.so.1.0\n",
 * );
 * assert.equal(heap?.path, "[heap]");
 * assert.equal(lib?.start, 0x7f361f200000n);
 * assert.equal(lib?.path, "/opt/my lib/libpython3.11.so.1.0");
 * ```
 */
export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (m === null) continue;
    out.push({
      start: BigInt("0x" + m[1]),
      end: BigInt("0x" + m[2]),
      perms: m[3]!,
      offset: BigInt("0x" + m[4]),
      device: m[5]!,
      inode: Number(m[6]),
      path: m[7] ?? "",
    });
  }
  return out;
}
