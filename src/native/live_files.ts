/**
 * Where pystack opens the files a live process maps, for libdw: as the
 * process sees them. A process in a container maps `/opt/python/lib/...`,
 * a path the host may not have, or has with other contents.
 *
 * @module
 */

import type { MapEntry } from "../elf/maps.ts";
import { parseMaps } from "../elf/maps.ts";
import type { Relocate } from "./session.ts";
import { isFile } from "../fs_checks.ts";

/**
 * The `/proc/PID/map_files/START-END` entry of the mapping of `path` at file
 * offset 0 (its ELF header), or undefined when `path` maps none. It opens the
 * very file the process mapped, even deleted or out of pystack's reach.
 *
 * @example
 * ```ts
 * import { mapFilesPath } from "./live_files.ts";
 * import assert from "node:assert/strict";
 *
 * const maps = [{
 *   start: 0x7f0000001000n, end: 0x7f0000002000n, perms: "r--p", offset: 0n,
 *   device: "fe:00", inode: 12, path: "/opt/python/lib/libpython3.12.so.1.0",
 * }];
 * assert.equal(
 *   mapFilesPath(4242, maps, "/opt/python/lib/libpython3.12.so.1.0"),
 *   "/proc/4242/map_files/7f0000001000-7f0000002000",
 * );
 * ```
 */
export function mapFilesPath(
  pid: number,
  maps: readonly MapEntry[],
  path: string,
): string | undefined {
  const m = maps.find((entry) =>
    (entry.path === path || entry.path === `${path} (deleted)`) && entry.offset === 0n
  );
  if (m === undefined) return undefined;
  return `/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
}

/**
 * For the live process `pid`: a mapped file through the process's root
 * (`/proc/PID/root/PATH`), else through `/proc/PID/map_files/`, else
 * undefined (libdw then tries the path itself).
 */
export function liveRelocate(pid: number): Relocate {
  let maps: MapEntry[] | undefined;
  return (path) => {
    if (!path.startsWith("/")) return undefined;
    const rooted = `/proc/${pid}/root${path}`;
    if (isFile(rooted)) return rooted;
    try {
      maps ??= parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
    } catch {
      return undefined;
    }
    const mapped = mapFilesPath(pid, maps, path);
    return mapped !== undefined && isFile(mapped) ? mapped : undefined;
  };
}
