/**
 * Where pystack opens the files a live process maps: the very files it
 * mapped. A process in a container maps `/opt/python/lib/...`, a path the
 * host may not have, or has with other contents: it is opened through the
 * process's root (`/proc/PID/root/PATH`). A file deleted or replaced since
 * the process mapped it (a package upgraded under a running service: the
 * kernel then names the mapping `PATH (deleted)`) is opened through
 * `/proc/PID/map_files/START-END` (root only), else, for the executable,
 * `/proc/PID/exe`: the file now at its path would be another build, whose
 * symbols and offsets do not fit the process's memory.
 *
 * @module
 */

import type { MapEntry } from "../elf/maps.ts";
import { isFile } from "../fs_checks.ts";

const DELETED = " (deleted)";

/**
 * The `/proc/PID/map_files/START-END` entry of the mapping of `path` at file
 * offset 0 (its ELF header), or undefined when `path` maps none. It opens the
 * very file the process mapped, even deleted or out of pystack's reach.
 *
 * @example
 * ```ts
 * import { mapFilesPath } from "./mapped_files.ts";
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
    (entry.path === path || entry.path === `${path}${DELETED}`) && entry.offset === 0n
  );
  if (m === undefined) return undefined;
  return `/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
}

/** Opens a live process's mapped files as it mapped them (see the module's documentation). */
export class MappedFiles {
  readonly #pid: number;
  readonly #maps: readonly MapEntry[];
  readonly #exe: string | undefined;
  readonly #warned = new Set<string>();
  /** Deleted files that could only be opened at their path (another file now), one sentence each. */
  readonly warnings: string[] = [];

  /**
   * @param pid the process (any of its threads: `/proc/TID/...` serves the whole process)
   * @param maps its mappings
   * @param exe its executable as `/proc/PID/exe` names it (`PATH (deleted)` once deleted)
   */
  constructor(pid: number, maps: readonly MapEntry[], exe?: string) {
    this.#pid = pid;
    this.#maps = maps;
    this.#exe = exe;
  }

  /** Whether the process maps `path` (clean of the suffix) from a file since deleted. */
  deleted(path: string): boolean {
    const marked = `${path}${DELETED}`;
    return this.#maps.some((m) => m.path === marked) && !this.#maps.some((m) => m.path === path);
  }

  /**
   * The path to open for `path` (absolute, as the process maps it, without ` (deleted)`), or
   * undefined when there is none to open.
   */
  locate(path: string): string | undefined {
    if (!path.startsWith("/")) return undefined;
    const rooted = `/proc/${this.#pid}/root${path}`;
    if (!this.deleted(path)) {
      if (isFile(rooted)) return rooted;
      const mapped = mapFilesPath(this.#pid, this.#maps, path);
      return mapped !== undefined && isFile(mapped) ? mapped : undefined;
    }
    const mapped = mapFilesPath(this.#pid, this.#maps, path);
    if (mapped !== undefined && isFile(mapped)) return mapped;
    if (this.#exe === `${path}${DELETED}`) {
      const exe = `/proc/${this.#pid}/exe`;
      if (isFile(exe)) return exe;
    }
    if (!isFile(rooted)) return undefined;
    if (!this.#warned.has(path)) {
      this.#warned.add(path);
      this.warnings.push(
        `${path} was deleted or replaced after the process mapped it, and the file it mapped ` +
          `cannot be opened (/proc/${this.#pid}/map_files needs root): the file now at that ` +
          "path is used, and may not match",
      );
    }
    return rooted;
  }

  /** {@linkcode locate}, for openers that need a path: the path itself when there is none. */
  readonly pathOf = (path: string): string => this.locate(path) ?? path;
}
