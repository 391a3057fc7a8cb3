/**
 * Which executable a core was running, from the core alone: the file mapped
 * where the auxiliary vector's `AT_PHDR` (or `AT_ENTRY`) points is the ELF
 * program the kernel loaded. `AT_EXECFN` (the name it was started by) is kept
 * too: for a `#!` script it names the script, while the mapping names the
 * interpreter, which is what a stack walker needs.
 *
 * @module
 */

import { AT_ENTRY, AT_EXECFN, AT_PHDR, type FileMapping } from "../elf/core_notes.ts";

/** How {@linkcode CoreExecutable.path} was found. */
export type ExecutableSource = "AT_PHDR" | "AT_ENTRY" | "AT_EXECFN" | "first mapping";

/** The executable of a core. */
export interface CoreExecutable {
  /** Path of the ELF executable as the process saw it (it may not exist on this machine). */
  path: string | undefined;
  source: ExecutableSource | undefined;
  /** The `AT_EXECFN` string: the path the program was executed as (a script for `#!`). */
  execfn: string | undefined;
  /** Where the executable is mapped (the mapping at file offset 0), when known. */
  base: bigint | undefined;
}

/** What {@linkcode findExecutable} needs of a core. */
export interface ExecutableFacts {
  readonly auxv: ReadonlyMap<number, bigint>;
  readonly files: readonly FileMapping[];
  readDumpedString(address: bigint): string | undefined;
}

/**
 * Finds the executable of a core from its auxiliary vector and `NT_FILE` note.
 *
 * @example A python started through a `#!` script
 * ```ts
 * import assert from "node:assert/strict";
 * import { findExecutable } from "./core_executable.ts";
 * const exe = findExecutable({
 *   auxv: new Map([[3, 0x1040n], [31, 0x7000n]]),
 *   files: [{ start: 0x1000n, end: 0x2000n, fileOffset: 0, path: "/usr/bin/python3.11" }],
 *   readDumpedString: () => "./script.py",
 * });
 * assert.equal(exe.path, "/usr/bin/python3.11");
 * assert.equal(exe.source, "AT_PHDR");
 * assert.equal(exe.execfn, "./script.py");
 * assert.equal(exe.base, 0x1000n);
 * ```
 */
export function findExecutable(core: ExecutableFacts): CoreExecutable {
  const execfnAddress = core.auxv.get(AT_EXECFN);
  const execfn = execfnAddress ? core.readDumpedString(execfnAddress) : undefined;
  for (const [key, source] of [[AT_PHDR, "AT_PHDR"], [AT_ENTRY, "AT_ENTRY"]] as const) {
    const address = core.auxv.get(key);
    if (!address) continue;
    const mapping = core.files.find((f) => f.start <= address && address < f.end);
    if (mapping) return { path: mapping.path, source, execfn, base: baseOf(core, mapping.path) };
  }
  if (execfn) {
    const mapped = core.files.find((f) => f.path === execfn);
    return { path: execfn, source: "AT_EXECFN", execfn, base: mapped && baseOf(core, execfn) };
  }
  const first = core.files[0];
  if (first) {
    return { path: first.path, source: "first mapping", execfn, base: baseOf(core, first.path) };
  }
  return { path: undefined, source: undefined, execfn, base: undefined };
}

function baseOf(core: ExecutableFacts, path: string): bigint | undefined {
  return core.files.find((f) => f.path === path && f.fileOffset === 0)?.start;
}
