/**
 * Where pystack opens the files a live process maps, for libdw: as the
 * process mapped them (`src/process/mapped_files.ts`): a container's file,
 * not the host's at the same path; a deleted or replaced file's old content.
 *
 * @module
 */

import { parseMaps } from "../elf/maps.ts";
import type { Relocate } from "./session.ts";
import { MappedFiles } from "../process/mapped_files.ts";
import { executablePath } from "../process/tasks.ts";
import { mapPath } from "../walk/object_files.ts";

/**
 * For the live process `pid`: a mapped file as {@linkcode MappedFiles.locate} finds it, else
 * undefined (libdw then tries the path itself).
 */
export function liveRelocate(pid: number): Relocate {
  let files: MappedFiles | undefined;
  return (path) => {
    if (!path.startsWith("/")) return undefined;
    try {
      files ??= new MappedFiles(
        pid,
        parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`)),
        executablePath(pid),
      );
    } catch {
      return undefined;
    }
    return files.locate(mapPath(path));
  };
}
