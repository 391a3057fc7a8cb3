/**
 * `pystack remote`: everything about one live process, as a {@linkcode StackReport}.
 *
 * Everything that cannot change while the target runs (mappings, symbols,
 * version, the interpreter's address) is found before the target is paused;
 * the pause covers only the walk over threads and frames.
 *
 * @module
 */

import type { StackReport } from "./model.ts";
import { parseMaps } from "./elf/maps.ts";
import { ElfFile, fileSource } from "./elf/elf_file.ts";
import { ProcessMemory } from "./memory/process_memory.ts";
import { ProcessTracer } from "./process/tracer.ts";
import { executablePath, listTids, readMapsText, targetPath, threadName } from "./process/tasks.ts";
import { NotPythonError, ProcessNotFoundError, rethrowFatal, TargetExitedError } from "./errors.ts";
import { readStruct } from "./cpython/struct_view.ts";
import { type ElfOpener, findPythonObjects } from "./walk/object_files.ts";
import { DEFAULT_METHODS, type Method, METHODS } from "./walk/find_interpreter.ts";
import { locatePython, type PythonLocation } from "./walk/locate_python.ts";
import { type ThreadWalk, walkThreads } from "./walk/threads.ts";
import { newestFrame } from "./walk/frames.ts";

/** Options of {@linkcode inspectProcess}. */
export interface InspectProcessOptions {
  /** Pause the target for a consistent snapshot (default true). */
  block?: boolean;
  /** Also scan anonymous mappings and the heap for the interpreter. */
  exhaustive?: boolean;
  /** Restrict how the interpreter is found (testing aid). */
  methods?: readonly Method[];
  /** Receives progress messages (`-v`). */
  log?: (message: string) => void;
  /** Called while the target is paused (testing aid). */
  onPaused?: () => void;
}

/** Reads the Python stacks of every thread of the live process `pid`. */
export function inspectProcess(pid: number, options: InspectProcessOptions = {}): StackReport {
  const log = options.log ?? (() => {});
  const block = options.block ?? true;
  if (!Number.isInteger(pid) || pid <= 0) throw new ProcessNotFoundError(pid);
  try {
    Deno.statSync(`/proc/${pid}`);
  } catch {
    throw new ProcessNotFoundError(pid);
  }
  const maps = parseMaps(readMapsText(pid));
  const exe = executablePath(pid);
  const opened: Disposable[] = [];
  const open: ElfOpener = (path) => {
    try {
      const source = fileSource(targetPath(pid, path));
      opened.push(source);
      return new ElfFile(source);
    } catch {
      return undefined;
    }
  };
  using mem = new ProcessMemory(pid);
  try {
    const objects = findPythonObjects(maps, exe, open);
    const comm = threadName(pid, pid) ?? exe ?? "?";
    if (objects.main === undefined) {
      throw new NotPythonError(
        `Cannot inspect process ${pid} (${comm}): it is not a Python process ` +
          `(no libpython or python executable is mapped)`,
        "pass the PID of a CPython interpreter; 'pgrep -a python' lists candidates",
      );
    }
    const methods = options.methods ??
      (options.exhaustive ? METHODS : DEFAULT_METHODS);
    const subject = `process ${pid} (${comm})`;
    const located = locatePython({ mem, objects, maps, methods, log, subject });

    const tracer = block ? ProcessTracer.stopAll(pid) : undefined;
    let walk;
    let tids: number[];
    try {
      options.onPaused?.();
      mem.clearCache();
      tids = tracer?.tids ?? listTids(pid);
      walk = walkThreads({ ...located, mem, tids: new Set(tids) });
      if (!block) markChangedStacks(walk, located, mem);
    } finally {
      tracer?.release();
    }
    if (tracer !== undefined) {
      log(`target paused for ${(performance.now() - tracer.stoppedAt).toFixed(2)} ms`);
    }
    for (const t of walk.threads) {
      const name = threadName(pid, t.tid);
      if (name !== undefined && t.tid !== 0) t.name = name;
    }
    const report: StackReport = {
      pid,
      pythonVersion: located.versionText,
      foundBy: located.foundBy,
      nonBlocking: !block,
      threads: walk.threads,
      warnings: [...located.warnings, ...walk.warnings],
    };
    if (exe !== undefined) report.executable = exe;
    return report;
  } catch (e) {
    // Gone after its mappings were read: it exited while being read.
    if (e instanceof ProcessNotFoundError) throw new TargetExitedError(pid);
    throw e;
  } finally {
    for (const d of opened) d[Symbol.dispose]();
  }
}

/**
 * Without pausing, a thread may run while its frames are read: re-read each
 * thread's newest frame afterwards and mark the threads whose stack moved.
 */
function markChangedStacks(
  walk: ThreadWalk,
  located: PythonLocation,
  mem: ProcessMemory,
): void {
  mem.clearCache();
  const layout = located.rt.layout.structs.thread;
  if (layout === undefined) return;
  const frameCtx = { mem, rt: located.rt };
  walk.threads.forEach((t, i) => {
    try {
      const now = newestFrame(frameCtx, readStruct(mem, t.threadStateAddress, layout));
      if (now !== walk.newest[i]) {
        t.partial ??= "the stack changed while it was read (--no-block); it may be inconsistent";
      }
    } catch (e) {
      rethrowFatal(e);
      t.partial ??= "the thread changed while it was read (--no-block)";
    }
  });
}
