/**
 * Learning the target's CPython version from its memory and files, never by
 * running anything.
 *
 * @module
 */

import { rethrowFatal } from "../errors.ts";
import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonObjects } from "./object_files.ts";
import { writableMaps } from "./object_files.ts";
import {
  findVersionString,
  parseVersionHex,
  type PythonVersion,
  versionFromFileName,
} from "../cpython/version.ts";

/** A version and where it came from. */
export interface DetectedVersion {
  version: PythonVersion;
  source: string;
  /** Address of `_Py_DebugOffsets` (the start of `_PyRuntime`) when the version came from it. */
  debugOffsets?: bigint;
  /** `_Py_DebugOffsets.free_threaded` is set (a free-threaded build). */
  freeThreaded?: boolean;
  /** 2.7: bytes per `Py_UNICODE` of the build, from the symbols it exports (`py2UnicodeWidth`). */
  py2UnicodeWidth?: 2 | 4;
}

const COOKIE = new TextEncoder().encode("xdebugpy");
/** Most bytes of writable data searched for the version string. */
const MAX_SCAN = 64 * 1024 * 1024;

function u64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);
}

/**
 * Cookie, version and `free_threaded` of the `_Py_DebugOffsets` at `address` (the
 * start of `_PyRuntime`), when a 3.13+ version is declared there.
 */
export function declaredByDebugOffsets(
  mem: MemoryReader,
  address: bigint,
): { version: PythonVersion; freeThreaded: boolean } | undefined {
  try {
    const head = mem.read(address, 24);
    if (!COOKIE.every((b, i) => head[i] === b)) return undefined;
    const v = parseVersionHex(u64(head, 8));
    return v !== undefined && v.major === 3 && v.minor >= 13
      ? { version: v, freeThreaded: u64(head, 16) !== 0n }
      : undefined;
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/** Tries every source in order: debug offsets, `Py_Version`, the version string, file names. */
export function detectVersion(
  mem: MemoryReader,
  objects: PythonObjects,
  symbols: Map<string, bigint>,
  runtimeCandidate: bigint | undefined,
): DetectedVersion | undefined {
  if (runtimeCandidate !== undefined) {
    const d = declaredByDebugOffsets(mem, runtimeCandidate);
    if (d !== undefined) {
      return {
        version: d.version,
        source: "_Py_DebugOffsets",
        debugOffsets: runtimeCandidate,
        freeThreaded: d.freeThreaded,
      };
    }
  }
  const pyVersion = symbols.get("Py_Version");
  if (pyVersion !== undefined) {
    try {
      const v = parseVersionHex(u64(mem.read(pyVersion, 8), 0));
      if (v !== undefined) return { version: v, source: "Py_Version" };
    } catch (e) {
      rethrowFatal(e);
    }
  }
  if (objects.main !== undefined) {
    let budget = MAX_SCAN;
    for (const m of writableMaps(objects.main)) {
      const size = Number(m.end - m.start);
      if (size > budget) break;
      budget -= size;
      try {
        const v = findVersionString(mem.read(m.start, size));
        if (v !== undefined) return { version: v, source: "version string in memory" };
      } catch (e) {
        rethrowFatal(e);
      }
    }
  }
  for (const obj of [objects.libpython, objects.executable]) {
    if (obj === undefined) continue;
    const v = versionFromFileName(obj.path.slice(obj.path.lastIndexOf("/") + 1));
    if (v !== undefined) {
      // The file name tells no micro version: -1 marks it unknown.
      const version: PythonVersion = { ...v, micro: -1, releaseLevel: "final", serial: 0 };
      return { version, source: `file name ${obj.path}` };
    }
  }
  return undefined;
}
