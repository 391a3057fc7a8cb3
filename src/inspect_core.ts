/**
 * `pystack core`: the Python stacks of a core dump, through the same walker
 * as live processes (only the memory and the thread list differ).
 *
 * @module
 */

import type { CoreDetails, StackReport } from "./model.ts";
import { type CoreFile, openCore } from "./core/core_file.ts";
import { CoreMemory } from "./memory/core_memory.ts";
import { NotPythonError, PystackError, UsageError } from "./errors.ts";
import { type ElfOpener, findPythonObjects, type PythonObjects } from "./walk/object_files.ts";
import { OpenedElfFiles } from "./walk/opened_elf_files.ts";
import { DEFAULT_METHODS, type Method, METHODS } from "./walk/find_interpreter.ts";
import { locatePython, type PythonLocation } from "./walk/locate_python.ts";
import { type InterpretersWalk, logInterpreters } from "./walk/interpreters.ts";
import { readerWarnings, readPython } from "./read_python.ts";
import { combineInterpreters } from "./walk/combine_interpreters.ts";
import { readLastException } from "./analysis/exceptions/thread_exceptions.ts";
import { crashedFirst, findCrash } from "./analysis/crash/crash_triage.ts";
import { coreDetails } from "./core/core_details.ts";
import type { NativeMode } from "./native/merge.ts";
import { loadParts, part, type Parts } from "./parts/parts.ts";
import { type Deadline, timedOutOf } from "./deadline.ts";

/** Options of {@linkcode inspectCore}. */
export interface InspectCoreOptions {
  /** The Python executable, when the one the core names cannot be used. */
  executable?: string;
  /** Directories searched for libraries that moved. */
  libSearchPath?: string[];
  /** A directory searched recursively for libraries that moved. */
  libSearchRoot?: string;
  exhaustive?: boolean;
  methods?: readonly Method[];
  log?: (message: string) => void;
  /** Also read arguments, local variables and Python thread names (`--locals`). */
  locals?: boolean;
  /** Also read the asyncio tasks (`--tasks`). */
  tasks?: boolean;
  /** Also unwind native stacks (`--native`, `--native-all`, `--native-last`). */
  native?: NativeMode;
  /**
   * Source lines of every native frame (`all`, the default), or only of
   * those the text output shows (`shown`: faster).
   */
  nativeLines?: "all" | "shown";
  /**
   * The caller exits right after this call (pystack's CLI): what native frames
   * took (libdw's tables, decompressed debug files) is left for the exit to
   * free, which saves ending libdwfl's session (several milliseconds).
   */
  exitsAfter?: boolean;
  /** Also find what each thread waits for and holds, and the deadlocks (`--locks`). */
  locks?: boolean;
  /**
   * `--timeout`: once it has passed, reading stops at the next thread or step, and the
   * report says what is missing (`timedOut`).
   */
  deadline?: Deadline;
}

function isElfFile(path: string): boolean {
  try {
    using f = Deno.openSync(path, { read: true });
    const head = new Uint8Array(4);
    return f.readSync(head) === 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c &&
      head[3] === 0x46;
  } catch {
    return false;
  }
}

/**
 * Reads the Python stacks of every thread recorded in the core at `path`
 * (plain, gzip, zstd or lz4). `report.core` says what the core records about the
 * process. Throws a `CoreFileError` subclass when the core cannot be read,
 * {@linkcode NotPythonError} when no interpreter is found in it.
 *
 * @example A core made by gcore (from gdb) of a running program
 * ```ts
 * import { inspectCore, startDemoProcess } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * await using demo = await startDemoProcess();
 * const dir = await Deno.makeTempDir();
 * try {
 *   const gcore = new Deno.Command("gcore", {
 *     args: ["-o", `${dir}/core`, String(demo.pid)],
 *     stdout: "null",
 *     stderr: "null",
 *   });
 *   assert.ok((await gcore.output()).success);
 *   const report = await inspectCore(`${dir}/core.${demo.pid}`);
 *   assert.equal(report.core?.process?.pid, demo.pid);
 *   assert.equal(report.threads.length, 4);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function inspectCore(
  path: string,
  options: InspectCoreOptions = {},
): Promise<StackReport> {
  const log = options.log ?? (() => {});
  const deadline = options.deadline;
  if (options.executable !== undefined && !isElfFile(options.executable)) {
    throw new UsageError(
      `Cannot use executable ${options.executable}: it does not exist or is not an ELF file`,
      "pass the Python interpreter binary that produced the core (not a script)",
    );
  }
  using core = await openCore(path);
  const recorded = core.executable;
  const executable = options.executable ?? recorded.path;
  if (executable === undefined) {
    throw new PystackError(
      `Cannot tell which executable produced core ${path}`,
      "pass it: pystack core CORE /path/to/python",
    );
  }
  using memory = new CoreMemory(core, {
    // Only an executable given on the command line overrides the search for the recorded one.
    ...(options.executable === undefined ? {} : { executable: options.executable }),
    ...(options.libSearchPath === undefined ? {} : { libSearchPath: options.libSearchPath }),
    ...(options.libSearchRoot === undefined ? {} : { libSearchRoot: options.libSearchRoot }),
  });
  const maps = memory.maps();
  const parts = await loadParts(options, maps);
  const nativePart = options.native === undefined ? undefined : part(parts, "native");
  using files = new OpenedElfFiles();
  const exeOnDisk = options.executable ??
    (recorded.path === undefined ? undefined : memory.fileFor(recorded.path)) ?? executable;
  const objects = findPythonObjects(maps, exeOnDisk, files.open);
  // Debug information the native frames will need, decompressed from now on the cores this
  // thread leaves spare while it reads the core (on more, they would compete with it).
  using images = nativePart?.debugImagesAhead([
    objects.main?.elf,
    files.openMaybe(nativePart.libcPath(maps.map((m) => m.path))),
  ], "spare");
  const ctx: CoreContext = { path, options, core, memory, maps, parts, log };
  const { located, noInterpreter } = locateInCore(ctx, objects);
  const { walk, localsWarnings } = readCore(ctx, located);
  const more = (stage: string) => !deadline?.passed(stage);
  const analyses = located === undefined ? {} : readAnalyses(ctx, located, walk, more);
  if (located !== undefined) logInterpreters(walk.interpreters, log);
  walk.threads = combineInterpreters(walk.threads, walk.anchors);
  const greenlets = located === undefined || !more("greenlets")
    ? undefined
    : parts.greenlets?.suspendedGreenlets({
      ...located,
      mem: memory,
      maps,
      stackPointers: () => new Map(core.threads.map((t) => [t.tid, t.registers.rsp])),
      locals: options.locals === true,
      threads: walk.threads,
      interpreters: walk.interpreters,
      log,
    });
  const nativeWarnings: string[] = [];
  if (
    options.native !== undefined && nativePart !== undefined &&
    !deadline?.passed("native frames")
  ) {
    const attached = await nativePart.attachCoreNative(walk.threads, {
      mode: options.native,
      core,
      corePath: core.tempPath ?? path,
      memory,
      executable: exeOnDisk,
      rules: located?.rt.native ?? nativePart.NO_INTERPRETER_RULES,
      main: objects.main,
      ...(images === undefined ? {} : { images }),
      ...(options.nativeLines === undefined ? {} : { nativeLines: options.nativeLines }),
      ...(options.exitsAfter === true ? { exitsAfter: true } : {}),
      log,
    });
    walk.threads = attached.threads;
    nativeWarnings.push(...attached.warnings);
    if (greenlets !== undefined) {
      part(parts, "greenlets").sliceRunningGreenlets(walk.threads, options.native);
    }
  }
  const details = describeCore(ctx, {
    executable: objects.executable?.path ?? `${exeOnDisk} (not found on this machine)`,
    open: files.open,
    located,
    walk,
  });
  const { locks, tasks } = analyses;
  const warnings = coreWarnings(ctx, [
    ...(noInterpreter === undefined ? [] : [noInterpreter]),
    ...core.warnings,
    ...memory.warnings,
    ...readerWarnings({ located, walk, localsWarnings, greenlets, tasks, nativeWarnings, locks }),
  ]);
  const timedOut = timedOutOf(deadline, walk);
  return {
    pid: core.pid,
    pythonVersion: located?.versionText ?? "unknown",
    executable: exeOnDisk,
    foundBy: located?.foundBy ?? "not found",
    nonBlocking: false,
    threads: walk.threads,
    interpreters: walk.interpreters,
    warnings,
    ...(greenlets === undefined ? {} : { greenlets: greenlets.greenlets }),
    core: details,
    ...(locks === undefined
      ? {}
      : { locks: part(parts, "locks").attachLocks(walk.threads, locks.perThread) }),
    ...(tasks?.tasks === undefined ? {} : { tasks: tasks.tasks }),
    ...(timedOut === undefined ? {} : { timedOut }),
  };
}

/** What the steps of {@linkcode inspectCore} share. */
interface CoreContext {
  path: string;
  options: InspectCoreOptions;
  core: CoreFile;
  memory: CoreMemory;
  maps: ReturnType<CoreMemory["maps"]>;
  parts: Parts;
  log: (message: string) => void;
}

/**
 * The interpreter of the core; with `--native-all`, a core without one has
 * native stacks to show (the reason is then a warning).
 */
function locateInCore(
  ctx: CoreContext,
  objects: PythonObjects,
): { located?: PythonLocation; noInterpreter?: string } {
  const { path, options, core, memory, maps, log } = ctx;
  const subject = `core ${path}`;
  try {
    if (objects.main === undefined) {
      const missing = memory.missing.length > 0
        ? ` (files not found: ${missingFiles(memory, options)})`
        : "";
      throw new NotPythonError(
        `Cannot inspect ${subject}: no Python interpreter is mapped in it, or its files ` +
          `cannot be found${missing}`,
        "if the core comes from another machine or the files moved, pass " +
          "--lib-search-path or --lib-search-root, and the python executable as the second " +
          "argument",
      );
    }
    const methods = options.methods ?? (options.exhaustive ? METHODS : DEFAULT_METHODS);
    const located = withCoreContext(
      () =>
        locatePython({
          mem: memory,
          objects,
          maps,
          methods,
          log,
          subject,
          notPythonHint: "this core does not come from a CPython process",
        }),
      core,
      memory,
    );
    return { located };
  } catch (e) {
    if (options.native !== "all" || !(e instanceof NotPythonError)) throw e;
    return { noInterpreter: part(ctx.parts, "native").noInterpreterWarning(e, subject) };
  }
}

/** The Python threads of the core, their exceptions and locals (none without an interpreter). */
function readCore(
  ctx: CoreContext,
  located: PythonLocation | undefined,
): { walk: InterpretersWalk; localsWarnings: string[] } {
  const { core, memory, options, parts } = ctx;
  if (located === undefined) {
    return {
      walk: { threads: [], newest: [], anchors: [], warnings: [], interpreters: [] },
      localsWarnings: [],
    };
  }
  return readPython(located, memory, options, parts, {
    tids: new Set(core.threads.map((t) => t.tid)),
    // fs_base is each thread's pthread_t: the core's own ids, even where the process's
    // memory holds those of its container's PID namespace (a gcore from the host).
    byPthread: new Map(core.threads.map((t) => [t.registers.fsBase, t.tid])),
  });
}

/** What the options ask for besides the stacks: `--locks` and `--tasks`, while there is time. */
function readAnalyses(
  ctx: CoreContext,
  located: PythonLocation,
  walk: InterpretersWalk,
  more: (stage: string) => boolean,
): {
  locks?: ReturnType<NonNullable<Parts["locks"]>["analyzeLocks"]>;
  tasks?: ReturnType<NonNullable<Parts["tasks"]>["readTasks"]>;
} {
  const { options, core, memory, parts } = ctx;
  const over = { ...located, mem: memory, interpreters: walk.interpreters, threads: walk.threads };
  const locks = options.locks && more("locks")
    ? part(parts, "locks").analyzeLocks({
      ...over,
      registers: new Map(core.threads.map((t) => [t.tid, t.registers])),
    })
    : undefined;
  const tasks = options.tasks && more("tasks") ? part(parts, "tasks").readTasks(over) : undefined;
  return {
    ...(locks === undefined ? {} : { locks }),
    ...(tasks === undefined ? {} : { tasks }),
  };
}

/**
 * What the core records about the process, which thread crashed and where
 * (that thread then comes first in `walk`), and the last exception.
 */
function describeCore(
  ctx: CoreContext,
  found: {
    executable: string;
    open: ElfOpener;
    located: PythonLocation | undefined;
    walk: InterpretersWalk;
  },
): CoreDetails {
  const { path, options, core, memory, maps } = ctx;
  const { located, walk } = found;
  const crash = findCrash({ ...core, maps, open: found.open, mem: memory });
  if (crash !== undefined) walk.threads = crashedFirst(walk.threads, crash);
  const details = coreDetails({
    path,
    core,
    maps,
    executable: found.executable,
    executableSource: options.executable !== undefined
      ? "given on the command line"
      : `found in the core (${core.executable.source ?? "unknown"})`,
    missingFiles: memory.missing,
  });
  if (crash !== undefined) details.crash = crash;
  const last = located === undefined ? undefined : readLastException({ ...located, mem: memory });
  if (last !== undefined) {
    // A process that did not crash ran on after it: a REPL-like host (code.InteractiveInterpreter,
    // IPython) sets it for an error it reported and handled; it did not end the program.
    if (crash === undefined) last.exception.state = "reported";
    details.lastException = last.exception;
    details.lastExceptionKey = last.key;
  }
  return details;
}

/** `warnings`, after a truncated core's and before the files not found. */
function coreWarnings(ctx: CoreContext, warnings: string[]): string[] {
  const { path, core, memory, options } = ctx;
  if (core.truncated) {
    warnings.unshift(
      `core ${path} is truncated (${core.source.size} of ${core.expectedSize} bytes): ` +
        "what lies in the missing part cannot be shown",
    );
  }
  if (memory.missing.length > 0) {
    warnings.push(
      `files the core maps were not found: ${missingFiles(memory, options)}; ` +
        "pass --lib-search-path or --lib-search-root",
    );
  }
  return warnings;
}

/**
 * The files a core maps that were not found (paths as the process saw them, a
 * container's included), and where they were looked for.
 */
function missingFiles(memory: CoreMemory, options: InspectCoreOptions): string {
  const files = memory.missing.join(", ");
  if (options.libSearchRoot !== undefined) {
    return `${files} (looked for at the same paths under ${options.libSearchRoot}, ` +
      "then by file name anywhere under it)";
  }
  if (options.libSearchPath !== undefined && options.libSearchPath.length > 0) {
    return `${files} (looked for by file name in ${options.libSearchPath.join(":")})`;
  }
  return files;
}

/**
 * Runs `find`; when it cannot find a Python interpreter, says what about the core
 * may be the reason (truncation, files not found, build-id mismatches) in the one error line.
 */
function withCoreContext<T>(find: () => T, core: CoreFile, memory: CoreMemory): T {
  try {
    return find();
  } catch (e) {
    if (!(e instanceof NotPythonError)) throw e;
    const reasons: string[] = [];
    if (core.truncated) {
      reasons.push(`the core is truncated (${core.source.size} of ${core.expectedSize} bytes)`);
    }
    if (memory.missing.length > 0) reasons.push(`files not found: ${memory.missing.join(", ")}`);
    reasons.push(...memory.warnings);
    if (reasons.length === 0) throw e;
    const hint = memory.missing.length > 0 || memory.warnings.length > 0
      ? "pass --lib-search-path or --lib-search-root (and the python executable as the second " +
        "argument) so that the files the core was made with are found"
      : "make a complete core (check 'ulimit -c' and free disk space)";
    throw new NotPythonError(`${e.message}; ${reasons.join("; ")}`, hint);
  }
}
