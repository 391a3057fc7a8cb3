/**
 * `pystack core` with a native mode: the core's native stacks unwound through
 * libdw, symbolised, and attached to its threads.
 *
 * @module
 */

import type { PyThread } from "../model.ts";
import type { CoreFile } from "./core_file.ts";
import type { CoreMemory } from "../memory/core_memory.ts";
import type { NativeRules } from "../cpython/runtime.ts";
import type { NativeMode } from "../native/merge.ts";
import type { DebugImages } from "../native/debug_images.ts";
import {
  attachOptionsFor,
  type InterpreterMappings,
  logInflated,
  NativeStacks,
  relocations,
} from "../native/native_stacks.ts";

/** What {@linkcode attachCoreNative} needs. */
export interface CoreNativeInput {
  mode: NativeMode;
  core: CoreFile;
  /** The core file as libdw reads it (uncompressed). */
  corePath: string;
  memory: CoreMemory;
  /** The executable on this machine. */
  executable: string;
  rules: NativeRules;
  /** The interpreter's own object (libpython or the executable), when there is one. */
  main: InterpreterMappings | undefined;
  images?: DebugImages;
  nativeLines?: "all" | "shown";
  /** Leave the native session for the process's exit to free (`NativeStacks.leaveToExit`). */
  exitsAfter?: boolean;
  log: (message: string) => void;
}

/**
 * Unwinds the core's threads and attaches their native frames to `threads`
 * (with `--native-all`, adds the threads without Python). Libraries found
 * under another name (an image's file) are named as the core names them.
 * Returns the threads and the warnings.
 */
export async function attachCoreNative(
  threads: PyThread[],
  input: CoreNativeInput,
): Promise<{ threads: PyThread[]; warnings: string[] }> {
  const { core, memory, log } = input;
  const moved = relocations(core.files.map((f) => f.path), (p) => memory.fileFor(p));
  using native = NativeStacks.forCore({
    core: input.corePath,
    executable: input.executable,
    relocate: (name) => moved.get(name),
    ...(input.images === undefined ? {} : { images: input.images }),
  });
  if (input.exitsAfter === true) native.leaveToExit();
  native.unwindCore();
  log(`native stacks unwound in ${native.unwindMs.toFixed(2)} ms`);
  const baseName = (p: string) => p.slice(p.lastIndexOf("/") + 1);
  const recordedOf = new Map<string, string>();
  for (const f of core.files) {
    const onDisk = memory.fileFor(f.path);
    if (onDisk === undefined || onDisk === f.path) continue;
    recordedOf.set(onDisk, f.path);
    if (!recordedOf.has(baseName(onDisk))) recordedOf.set(baseName(onDisk), f.path);
  }
  const libraryName = (name: string) => baseName(recordedOf.get(name) ?? name);
  const options = attachOptionsFor(input.mode, input.rules, input.main, {
    libraryName,
    log,
    ...(input.nativeLines === undefined ? {} : { lines: input.nativeLines }),
  });
  await native.resolve(options);
  const warnings: string[] = [];
  const attached = native.attach(threads, options, warnings);
  logInflated(native.inflateStats, log);
  return { threads: attached, warnings };
}
