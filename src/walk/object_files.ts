/**
 * The interpreter's object files in the target: the executable and libpython,
 * where they are loaded, and their symbols and sections at run-time addresses.
 *
 * @module
 */

import type { MapEntry } from "../elf/maps.ts";
import type { ElfFile } from "../elf/elf_file.ts";

/** One object file mapped into the target. */
export interface LoadedObject {
  /** Path as the target sees it. */
  path: string;
  elf: ElfFile;
  /** Added to an ELF virtual address to get the run-time address. */
  bias: bigint;
  /** The target's mappings of this file, plus anonymous mappings right after it (.bss). */
  maps: MapEntry[];
}

/** Opens an ELF file named by the target (through `/proc/PID/root` or a core's search path). */
export type ElfOpener = (path: string) => ElfFile | undefined;

/** The executable and (when shared) libpython of a Python target. */
export interface PythonObjects {
  executable: LoadedObject | undefined;
  libpython: LoadedObject | undefined;
  /** Where the interpreter's code and data live: libpython, else the executable. */
  main: LoadedObject | undefined;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Strips the " (deleted)" suffix the kernel adds to replaced files. */
export function mapPath(path: string): string {
  return path.endsWith(" (deleted)") ? path.slice(0, -" (deleted)".length) : path;
}

/**
 * Groups mappings by file: a named mapping starts or continues its file's group and
 * an anonymous mapping directly after it belongs to the same group (its .bss).
 */
export function groupMaps(maps: readonly MapEntry[]): Map<string, MapEntry[]> {
  const groups = new Map<string, MapEntry[]>();
  let current: MapEntry[] | undefined;
  let lastEnd = -1n;
  for (const m of maps) {
    if (m.path !== "" && !m.path.startsWith("[")) {
      const key = mapPath(m.path);
      current = groups.get(key);
      if (current === undefined) groups.set(key, current = []);
      current.push(m);
    } else if (m.path === "" && current !== undefined && m.start === lastEnd) {
      current.push(m);
    } else {
      current = undefined;
    }
    lastEnd = m.end;
  }
  return groups;
}

/** Builds a {@linkcode LoadedObject} for `path` if it is mapped and opens as ELF. */
export function loadObject(
  path: string,
  groups: Map<string, MapEntry[]>,
  open: ElfOpener,
): LoadedObject | undefined {
  const maps = groups.get(path);
  if (maps === undefined) return undefined;
  const first = maps.find((m) => m.path !== "" && m.offset === 0n) ?? maps[0];
  if (first === undefined) return undefined;
  const elf = open(path);
  if (elf === undefined) return undefined;
  return { path, elf, bias: first.start - elf.loadBase(), maps };
}

/** Finds the executable and libpython among the target's mappings. */
export function findPythonObjects(
  maps: readonly MapEntry[],
  executablePath: string | undefined,
  open: ElfOpener,
): PythonObjects {
  const groups = groupMaps(maps);
  let executable: LoadedObject | undefined;
  if (executablePath !== undefined) {
    executable = loadObject(mapPath(executablePath), groups, open);
  }
  // A core's file found under another name (an image's content-addressed blob) keeps the
  // name the process mapped it by.
  const nameOf = (path: string) => {
    const recorded = (groups.get(path)?.[0] as { recordedPath?: string } | undefined)?.recordedPath;
    return basename(mapPath(recorded ?? path));
  };
  let libpython: LoadedObject | undefined;
  for (const path of groups.keys()) {
    if (/^libpython\d/.test(nameOf(path))) {
      libpython = loadObject(path, groups, open);
      if (libpython !== undefined) break;
    }
  }
  if (libpython === undefined && (executable === undefined || !holdsPython(executable))) {
    // The executable may be a loader (`ld.so python3.14 …`) or a wrapper: look for a
    // mapping named like python.
    for (const path of groups.keys()) {
      if (/^python\d(\.\d+)?$/.test(nameOf(path))) {
        const found = loadObject(path, groups, open);
        if (found !== undefined) {
          executable = found;
          break;
        }
      }
    }
  }
  return { executable, libpython, main: libpython ?? executable };
}

/** Symbols that only an object file with the interpreter linked in defines. */
const PYTHON_SYMBOLS = ["_PyRuntime", "Py_Version", "Py_Initialize", "interp_head"];

/** Whether `obj` has CPython linked in (a `.PyRuntime` section or CPython's symbols). */
function holdsPython(obj: LoadedObject): boolean {
  try {
    return obj.elf.section(".PyRuntime") !== undefined ||
      obj.elf.findSymbols(PYTHON_SYMBOLS).size > 0;
  } catch {
    return false;
  }
}

/** Run-time addresses of the named symbols of `obj` (absent names are left out). */
export function symbolAddresses(obj: LoadedObject, names: string[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, value] of obj.elf.findSymbols(names)) out.set(name, value + obj.bias);
  return out;
}

/** Run-time address of a section of `obj`, if it has one. */
export function sectionAddress(obj: LoadedObject, name: string): bigint | undefined {
  const s = obj.elf.section(name);
  return s === undefined || s.addr === 0n ? undefined : s.addr + obj.bias;
}

/** Writable mappings of `obj` (its .data and .bss), where interpreter pointers live. */
export function writableMaps(obj: LoadedObject): MapEntry[] {
  return obj.maps.filter((m) => m.perms.startsWith("rw"));
}
