/**
 * `pystack remote`: everything about one live process, as a {@linkcode StackReport}.
 *
 * Everything that cannot change while the target runs (mappings, symbols,
 * version, the interpreter's address) is found before the target is paused.
 * The Python stacks alone are read from memory copied in a short pause
 * (`process/paused_snapshot.ts`); with native frames, locks, tasks or
 * greenlets the pause covers the walk over threads and frames.
 *
 * @module
 */

import type { PyFrame, PyThread, StackReport } from "./model.ts";
import { parseMaps } from "./elf/maps.ts";
import { ProcessMemory } from "./memory/process_memory.ts";
import { ProcessTracer } from "./process/tracer.ts";
import { MappedFiles } from "./process/mapped_files.ts";
import { NamespaceTids, parseNsPid } from "./process/namespace_tids.ts";
import {
  executablePath,
  listTids,
  liveTask,
  processOfTask,
  processState,
  readMapsText,
  threadName,
} from "./process/tasks.ts";
import {
  NativeUnavailableError,
  NoInterpreterStateError,
  NotPythonError,
  ProcessNotFoundError,
  PystackError,
  rethrowFatal,
  TargetExitedError,
  UsageError,
  ZOMBIE_REASON,
} from "./errors.ts";
import { findPythonObjects } from "./walk/object_files.ts";
import { OpenedElfFiles } from "./walk/opened_elf_files.ts";
import { DEFAULT_METHODS, type Method, METHODS } from "./walk/find_interpreter.ts";
import { type LocateContext, locatePython, type PythonLocation } from "./walk/locate_python.ts";
import { type InterpretersWalk, logInterpreters, walkInterpreters } from "./walk/interpreters.ts";
import { combineInterpreters } from "./walk/combine_interpreters.ts";
import type { ThreadWalk } from "./walk/threads.ts";
import type { NativeStacks } from "./native/native_stacks.ts";
import type { NativeMode } from "./native/merge.ts";
import type { GreenletWalk } from "./analysis/greenlets/suspended.ts";
import { liveStackPointers } from "./process/stack_pointers.ts";
import type { X86_64Registers } from "./elf/core_notes.ts";
import type { analyzeLocks } from "./analysis/locks/analyze_locks.ts";
import type { readTasks } from "./analysis/tasks/read_tasks.ts";
import { loadParts, part, type Parts } from "./parts/parts.ts";
import { type Deadline, timedOutOf } from "./deadline.ts";
import { greenletModuleMapped } from "./analysis/greenlets/greenlet_mapped.ts";
import { readInSnapshot, type Snapshot } from "./process/paused_snapshot.ts";
import { readerWarnings, readPython } from "./read_python.ts";
import { sleepSync } from "./sleep_sync.ts";
import { pathExists } from "./fs_checks.ts";

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
  /** Receives details (`-vv`): which memory reader was used. */
  debug?: (message: string) => void;
  /** Called while the target is paused (testing aid). */
  onPaused?: () => void;
  /** Receives how long each pause lasted (ms; one or a few), once the target runs again. */
  onPauses?: (pausesMs: readonly number[]) => void;
  /**
   * Carries from one call to the next on the same process (`watch`) the pages its stacks
   * were read from: given, they are copied in the pause without first walking the running
   * target (pages the walk then lacks cost another short pause); the pages needed are stored
   * back.
   */
  snapshotPages?: { pages?: ReadonlySet<bigint> };
  /** Also read arguments, local variables and Python thread names (`--locals`). */
  locals?: boolean;
  /** Also read the asyncio tasks (`--tasks`). */
  tasks?: boolean;
  /** Also unwind native stacks (`--native`, `--native-all`, `--native-last`); needs `block`. */
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
   * `--timeout`: once it has passed, reading stops at the next thread or step, the target
   * is released as always, and the report says what is missing (`timedOut`).
   */
  deadline?: Deadline;
}

/**
 * `inspectProcess` (`inspect_process_sync.ts`), faster with a native mode: the debug
 * information the native frames need is decompressed on worker threads,
 * from the moment the objects are known (one thread while the target is
 * paused, then in parallel). The CLI uses this; the report is the same.
 */
export async function inspectProcessAsync(
  pid: number,
  options: InspectProcessOptions = {},
): Promise<StackReport> {
  const steps = inspectSteps(pid, options, undefined);
  let step = steps.next();
  while (!step.done) {
    try {
      await step.value;
    } catch (e) {
      step = steps.throw(e); // the walk's own clean-up runs
      continue;
    }
    step = steps.next();
  }
  return step.value;
}

/**
 * The body of `inspectProcess` and {@linkcode inspectProcessAsync}. Given
 * `parts` (a synchronous caller), it uses them. Without (an async caller),
 * it loads the parts the options ask for and yields the promise of them;
 * debug information for native frames is then decompressed on worker
 * threads from early on, and the promise of their symbolisation is yielded
 * for the caller to await before they are attached.
 */
export function* inspectSteps(
  pid: number,
  options: InspectProcessOptions,
  given: Parts | undefined,
): Generator<Promise<void>, StackReport, void> {
  const ahead = given === undefined;
  const log = options.log ?? (() => {});
  const block = options.block ?? true;
  const deadline = options.deadline;
  const more = (stage: string) => !deadline?.passed(stage);
  if (!Number.isInteger(pid) || pid <= 0 || !pathExists(`/proc/${pid}`)) {
    throw new ProcessNotFoundError(pid);
  }
  // A thread id (from `top -H`, a log line) stands for its process.
  const ofTask = processOfTask(pid);
  if (ofTask.told !== undefined) log(ofTask.told);
  pid = ofTask.pid;
  // Mappings, files and memory through a thread still running: the main one unless it ended.
  const via = liveTask(pid);
  if (via === undefined) {
    if (processState(pid) === "Z") throw new TargetExitedError(pid, ZOMBIE_REASON);
    throw new ProcessNotFoundError(pid);
  }
  const mainExited = via === pid ? undefined : `the main thread (${pid}) has exited; the ` +
    `process runs on in its other threads (read through thread ${via})`;
  if (mainExited !== undefined) log(mainExited);
  const maps = parseMaps(readMapsText(via));
  let parts = given ?? {};
  if (given === undefined) yield loadParts(options, maps).then((loaded) => void (parts = loaded));
  const exe = executablePath(via);
  // The files as the process mapped them: its container's; a deleted one's old content.
  const mapped = new MappedFiles(via, maps, exe);
  using files = new OpenedElfFiles(mapped.pathOf);
  using mem = new ProcessMemory(via);
  try {
    const objects = findPythonObjects(maps, exe, files.open);
    // The debug files the native frames will need, prepared as soon as their objects are known.
    // They start inflating now on the cores this thread leaves spare (the interpreter's file
    // first; none on one core): no worker thread competes with the pause for this thread's core.
    const nativePart = options.native === undefined ? undefined : part(parts, "native");
    using images = nativePart === undefined || !ahead || !block
      ? undefined
      : nativePart.debugImagesAhead(
        [objects.main?.elf, files.openMaybe(nativePart.libcPath(maps.map((m) => m.path)))],
        "spare",
      );
    const comm = threadName(pid, pid) ?? exe ?? "?";
    const subject = `process ${pid} (${comm})`;
    // With --native-all a process without an interpreter still has native stacks to show.
    let located: PythonLocation | undefined;
    let noInterpreter: string | undefined;
    try {
      if (objects.main === undefined) {
        throw new NotPythonError(
          `Cannot inspect ${subject}: it is not a Python process ` +
            `(no libpython or python executable is mapped)`,
          "pass the PID of a CPython interpreter; 'pgrep -a python' lists candidates",
        );
      }
      const methods = options.methods ??
        (options.exhaustive ? METHODS : DEFAULT_METHODS);
      located = locateRunning({ mem, objects, maps, methods, log, subject });
    } catch (e) {
      if (options.native !== "all" || !(e instanceof NotPythonError)) throw e;
      noInterpreter = part(parts, "native").noInterpreterWarning(e, subject);
    }

    if (options.native !== undefined && !block) {
      throw new UsageError(
        "Native stacks are only available in blocking mode",
        "drop --no-block, or drop --native/--native-all/--native-last",
      );
    }
    // Before pausing: libdw reports the objects and loads their unwind tables.
    const nativeWarnings: string[] = [];
    using native = nativePart === undefined
      ? undefined
      : nativeOrWarning(nativePart.NativeStacks, pid, images, nativeWarnings);
    if (options.exitsAfter === true) native?.leaveToExit();
    const nested = inOtherPidNamespace(pid, log);
    const greenletPrescan = located === undefined || !block || parts.greenlets === undefined
      ? undefined
      : parts.greenlets.prescanSuspendedGreenlets({ ...located, mem, maps, log });
    // The Python stacks alone (no native frames, locks, tasks, greenlets or namespace ids to
    // take from the stopped threads): read from memory copied in a short pause.
    // Not with --timeout: a walk cut by the deadline over the running target would leave
    // nothing consistent to read from the copy; the usual pause is cut thread by thread.
    const snapshot = located !== undefined && block && options.native === undefined &&
        !options.locks && !options.tasks && !nested && !greenletModuleMapped(maps) &&
        deadline === undefined
      ? readInSnapshot(pid, mem, {
        running: () => ({ tids: listTids(pid), byPthread: undefined }),
        paused: (tracer) => {
          options.onPaused?.();
          return {
            tids: [...tracer.tids],
            byPthread: located.rt.tidFromPthread ? pthreadsOf(tracer) : undefined,
          };
        },
        walk: (reader, { tids, byPthread }) =>
          readPython(located, reader, options, parts, {
            tids: new Set(tids),
            ...(byPthread === undefined ? {} : { byPthread }),
          }),
      }, options.snapshotPages?.pages)
      : undefined;
    if (options.snapshotPages !== undefined) {
      if (snapshot?.result !== undefined) options.snapshotPages.pages = snapshot.plan;
      else delete options.snapshotPages.pages;
    }
    const tracer = block && snapshot?.result === undefined ? ProcessTracer.stopAll(pid) : undefined;
    let walk: InterpretersWalk = {
      threads: [],
      newest: [],
      anchors: [],
      warnings: [],
      interpreters: [],
    };
    let tids: number[];
    let localsWarnings: string[] = [];
    let greenlets: GreenletWalk | undefined;
    let locks: (ReturnType<typeof analyzeLocks> & { snapshots: number }) | undefined;
    let tasks: ReturnType<typeof readTasks> | undefined;
    try {
      if (snapshot?.result === undefined) options.onPaused?.();
      mem.clearCache();
      // What the snapshots learnt saves reads one by one in this pause.
      if (tracer !== undefined && snapshot !== undefined) mem.prefetch(snapshot.plan);
      tids = snapshot?.result?.context.tids ?? tracer?.tids ?? listTids(pid);
      if (snapshot?.result !== undefined) {
        ({ walk, localsWarnings } = snapshot.result.value);
      } else if (located !== undefined) {
        const threadCtx = {
          tids: new Set(tids),
          ...(nested ? { namespace: NamespaceTids.read(pid, tids) } : {}),
          ...(tracer !== undefined && located.rt.tidFromPthread
            ? { byPthread: pthreadsOf(tracer) }
            : {}),
        };
        ({ walk, localsWarnings } = readPython(located, mem, options, parts, threadCtx));
        if (!block && more("threads")) {
          mem.clearCache();
          const again = walkInterpreters({
            ...located,
            mem,
            ...threadCtx,
            ...(deadline === undefined ? {} : { deadline }),
          });
          // Cut by --timeout, the second read says nothing of the threads it did not finish.
          markChangedStacks(walk, again, deadline?.stage !== undefined);
        } else if (!block) {
          for (const t of walk.threads) t.partial ??= READ_ONCE;
        }
      }
      if (located !== undefined) {
        greenlets = !more("greenlets") ? undefined : parts.greenlets?.suspendedGreenlets({
          ...located,
          mem,
          maps,
          stackPointers: () => liveStackPointers(pid, tids),
          locals: options.locals === true,
          threads: walk.threads,
          interpreters: walk.interpreters,
          log,
        }, greenletPrescan);
        if (options.locks && more("locks")) {
          const { analyzeLocks, describeFd, procSyscallRegisters } = part(parts, "locks");
          const registers = new Map<number, X86_64Registers>();
          // --no-block: threads found outside a call are read again for at most this long.
          const retryUntil = performance.now() + NO_BLOCK_SYSCALL_RETRY_MS;
          for (const tid of tids) {
            const regs = tracer?.registers(tid) ?? procSyscallRegisters(pid, tid, retryUntil);
            if (regs !== undefined) registers.set(tid, regs);
          }
          const started = performance.now();
          locks = {
            ...analyzeLocks({
              ...located,
              mem,
              interpreters: walk.interpreters,
              threads: walk.threads,
              registers,
              describeFd: (fd) => describeFd(via, fd),
            }),
            snapshots: 1,
          };
          log(
            `--locks: ${registers.size} threads' registers read and their locks found in ` +
              `${(performance.now() - started).toFixed(2)} ms (snapshot 1)`,
          );
        }
        if (options.tasks && more("tasks")) {
          tasks = part(parts, "tasks").readTasks({
            ...located,
            mem,
            threads: walk.threads,
            interpreters: walk.interpreters,
            nonBlocking: !block,
          });
        }
      }
      native?.unwindLive(
        options.native === "all"
          ? tids
          : [...new Set(walk.threads.map((t) => t.tid).filter((t) => t !== 0))],
        new Set(tids),
        deadline,
      );
    } finally {
      tracer?.release();
    }
    const pausesMs = [
      ...(snapshot?.pausesMs ?? []),
      ...(tracer === undefined ? [] : [performance.now() - tracer.stoppedAt]),
    ];
    if (pausesMs.length > 0) {
      log(`target paused for ${pausesMs.reduce((a, b) => a + b).toFixed(2)} ms`);
      options.onPauses?.(pausesMs);
    }
    if (snapshot !== undefined) logSnapshot(snapshot, log);
    if (locks !== undefined && located !== undefined && block && !deadline?.passed("locks")) {
      locks.snapshots = secondLockSnapshot(
        part(parts, "locks"),
        pid,
        { ...located, mem },
        walk,
        locks,
        log,
      );
    }
    if (located !== undefined) logInterpreters(walk.interpreters, log);
    walk.threads = combineInterpreters(walk.threads, walk.anchors);
    if (nested) {
      const pairs = walk.threads.filter((t) => t.nsTid !== undefined);
      log(`thread ids in its namespace: ${pairs.map((t) => `${t.tid} is ${t.nsTid}`).join(", ")}`);
    }
    options.debug?.(mem.describeReader());
    for (const t of walk.threads) {
      const name = threadName(pid, t.tid);
      if (name !== undefined && t.tid !== 0) t.name = name;
    }
    const attachOptions = nativePart === undefined || options.native === undefined
      ? undefined
      : nativePart.attachOptionsFor(
        options.native,
        located?.rt.native ?? nativePart.NO_INTERPRETER_RULES,
        objects.main,
        {
          threadName: (tid) => threadName(pid, tid),
          log,
          ...(options.nativeLines === undefined ? {} : { lines: options.nativeLines }),
        },
      );
    if (native !== undefined && attachOptions !== undefined && !deadline?.passed("native frames")) {
      log(`native stacks unwound in ${native.unwindMs.toFixed(2)} ms`);
      if (ahead) yield native.resolve(attachOptions);
    }
    // `--timeout`: the symbolisation may have used up the time; the frames are not attached.
    if (
      native !== undefined && nativePart !== undefined && attachOptions !== undefined &&
      options.native !== undefined && !deadline?.passed("native frames")
    ) {
      walk.threads = native.attach(walk.threads, attachOptions, nativeWarnings);
      if (greenlets !== undefined) {
        part(parts, "greenlets").sliceRunningGreenlets(walk.threads, options.native);
      }
      nativePart.logInflated(native.inflateStats, log);
    }
    const lockSummary = locks === undefined ? undefined : {
      ...part(parts, "locks").attachLocks(walk.threads, locks.perThread),
      snapshots: locks.snapshots,
    };
    const report: StackReport = {
      pid,
      pythonVersion: located?.versionText ?? "unknown",
      foundBy: located?.foundBy ?? "not found",
      nonBlocking: !block,
      threads: walk.threads,
      interpreters: walk.interpreters,
      warnings: [
        ...(ofTask.told === undefined ? [] : [ofTask.told]),
        ...(mainExited === undefined ? [] : [mainExited]),
        ...mapped.warnings,
        ...(noInterpreter === undefined ? [] : [noInterpreter]),
        ...readerWarnings({
          located,
          walk,
          localsWarnings,
          greenlets,
          tasks,
          nativeWarnings,
          locks,
        }),
      ],
    };
    if (greenlets !== undefined) report.greenlets = greenlets.greenlets;
    if (tasks?.tasks !== undefined) report.tasks = tasks.tasks;
    if (exe !== undefined) report.executable = exe;
    if (lockSummary !== undefined) report.locks = lockSummary;
    const timedOut = timedOutOf(deadline, walk);
    if (timedOut !== undefined) report.timedOut = timedOut;
    return report;
  } catch (e) {
    // Gone after its mappings were read: it exited while being read (or the thread it was
    // read through did).
    if (e instanceof ProcessNotFoundError || (e instanceof TargetExitedError && via !== pid)) {
      throw new TargetExitedError(pid);
    }
    throw e;
  }
}

/** Searches for the interpreter of a running target at most this many times. */
const LOCATE_ATTEMPTS = 3;

/**
 * {@linkcode locatePython} on a target that runs while it is read: a check can fail because
 * the target changed between two reads (a thread state, the newest of the interpreter's,
 * freed by a thread that ended between the read of the pointer and the read of what it
 * points at), so a search that finds no interpreter is made again over fresh memory.
 */
function locateRunning(ctx: LocateContext & { mem: ProcessMemory }): PythonLocation {
  for (let attempt = 1;; attempt++) {
    try {
      return locatePython(ctx);
    } catch (e) {
      // Only a search that found a CPython but no interpreter state: a process that runs
      // no CPython does not become one by being read again.
      if (!(e instanceof NoInterpreterStateError) || attempt === LOCATE_ATTEMPTS) throw e;
      ctx.mem.clearCache();
      ctx.log(`${e.message}; searching again (the target runs while it is read)`);
    }
  }
}

/** The marker of a thread read once only with `--no-block`: no second read to compare. */
const READ_ONCE = "read once only (--no-block, --timeout): the stack may be inconsistent";

/**
 * Without pausing, a thread may run while its frames are read. The threads
 * are read a second time, and a thread is marked when it held the GIL (or,
 * free-threaded, was attached) at either read (it was running Python code: a chain read across two moments
 * can look whole, since a frame that returned keeps its contents and the
 * next call reuses its address, so no comparison can clear it), or when its
 * chain is not the same in both (frame and code addresses, lines, columns).
 * With `cut` (`--timeout` ended the second read), a thread it did not read
 * whole was read once only, and says so.
 */
function markChangedStacks(walk: ThreadWalk, again: ThreadWalk, cut: boolean): void {
  const second = new Map(again.threads.map((t, i) => [t.threadStateAddress, i]));
  walk.threads.forEach((t, i) => {
    const j = second.get(t.threadStateAddress);
    const later = j === undefined ? undefined : again.threads[j]!;
    if (cut && (later === undefined || later.partial !== undefined)) {
      t.partial ??= READ_ONCE;
    } else if (later === undefined) {
      t.partial ??= "the thread changed while it was read (--no-block)";
    } else if (running(t) || running(later)) {
      t.partial ??= "the thread was running Python code while it was read (--no-block); " +
        "its frames may come from different moments";
    } else if (walk.newest[i] !== again.newest[j!] || !sameFrames(t.frames, later.frames)) {
      t.partial ??= "the stack changed while it was read (--no-block); it may be inconsistent";
    }
  });
}

/**
 * Whether `pid` lives in a PID namespace below pystack's (a container): its
 * `NSpid:` line has more than one id. Says so with `-v`.
 */
function inOtherPidNamespace(pid: number, log: (message: string) => void): boolean {
  let ids: number[] | undefined;
  try {
    ids = parseNsPid(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
  if (ids === undefined || ids.length < 2) return false;
  log(`process ${pid} is pid ${ids.at(-1)} in its own PID namespace: thread ids are translated`);
  return true;
}

/**
 * The native session of `pid`, or undefined with a warning when libdw cannot
 * start on it: the Python frames are shown all the same. Without libdw at all
 * the run still ends (`NativeUnavailableError`, exit 9).
 */
function nativeOrWarning(
  stacks: typeof NativeStacks,
  pid: number,
  images: Parameters<typeof NativeStacks.forProcess>[1],
  warnings: string[],
): NativeStacks | undefined {
  try {
    return stacks.forProcess(pid, images);
  } catch (e) {
    if (!(e instanceof PystackError) || e instanceof NativeUnavailableError) throw e;
    warnings.push(`native frames are not shown: ${e.message}`);
    return undefined;
  }
}

/** `--locks --no-block`: how long threads caught between two system calls are read again. */
const NO_BLOCK_SYSCALL_RETRY_MS = 20;

/** Milliseconds between the two `--locks` snapshots (GIL waiters sleep 5 ms at a time). */
const LOCK_SNAPSHOT_GAP_MS = 30;

/**
 * `--locks`, live: pauses the target a second time, a few tens of milliseconds after the
 * first, reads the registers again and keeps the waits both snapshots agree on. Returns the
 * number of snapshots compared (1 when the second could not be taken).
 */
function secondLockSnapshot(
  { analyzeLocks, keepStable }: NonNullable<Parts["locks"]>,
  pid: number,
  located: PythonLocation & { mem: ProcessMemory },
  walk: InterpretersWalk,
  first: ReturnType<typeof analyzeLocks>,
  log: (message: string) => void,
): number {
  sleepSync(LOCK_SNAPSHOT_GAP_MS);
  let tracer: ProcessTracer;
  try {
    tracer = ProcessTracer.stopAll(pid);
  } catch (e) {
    rethrowFatal(e);
    log(`--locks: no second snapshot (${(e as Error).message}); waits are from one snapshot`);
    return 1;
  }
  let second: ReturnType<typeof analyzeLocks>;
  try {
    located.mem.clearCache();
    const registers = new Map<number, X86_64Registers>();
    for (const tid of tracer.tids) {
      const regs = tracer.registers(tid);
      if (regs !== undefined) registers.set(tid, regs);
    }
    second = analyzeLocks({
      ...located,
      interpreters: walk.interpreters,
      threads: walk.threads,
      registers,
    });
  } finally {
    tracer.release();
  }
  log(
    `--locks: second snapshot after ${LOCK_SNAPSHOT_GAP_MS} ms, target paused for ` +
      `${(performance.now() - tracer.stoppedAt).toFixed(2)} ms`,
  );
  const dropped = keepStable(first.perThread, second.perThread);
  if (dropped.length > 0) {
    first.warnings.push(
      `--locks: the waits of threads ${dropped.join(", ")} changed between the two snapshots ` +
        "and are not shown",
    );
  }
  return 2;
}

/** `-v`: how the stacks were read in short pauses, or why they were not. */
function logSnapshot(snapshot: Snapshot<unknown, unknown>, log: (message: string) => void): void {
  const pauses = snapshot.pausesMs.map((ms) => ms.toFixed(2)).join(", ");
  if (snapshot.result === undefined) {
    log(
      snapshot.oversizedRead
        ? "stacks read while paused: the walk made a read too large to copy"
        : snapshot.pausesMs.length === 0
        ? `stacks read while paused: the walk needs more pages than one copy takes ` +
          `(${snapshot.plan.size})`
        : `stacks read while paused once more: memory copied in pauses of ${pauses} ms ` +
          `lacked pages the walk needed`,
    );
    return;
  }
  log(
    `stacks read from ${snapshot.pages} pages copied in ${snapshot.reads} ` +
      `read${snapshot.reads === 1 ? "" : "s"} while the ` +
      `target was paused (${snapshot.pausesMs.length === 1 ? "pause" : "pauses"}: ${pauses} ms)`,
  );
}

/** `pthread_t` (= `fs_base`) → thread id of every held thread. */
function pthreadsOf(tracer: ProcessTracer): Map<bigint, number> {
  const byPthread = new Map<bigint, number>();
  for (const tid of tracer.tids) {
    const fsBase = tracer.fsBase(tid);
    if (fsBase !== undefined && fsBase !== 0n) byPthread.set(fsBase, tid);
  }
  return byPthread;
}

/** Running Python code: holds the GIL, or (free-threaded builds) its thread state is attached. */
function running(t: PyThread): boolean {
  return t.holdsGil === true || t.threadState === "attached";
}

function sameFrames(a: readonly PyFrame[], b: readonly PyFrame[]): boolean {
  return a.length === b.length && a.every((f, i) => {
    const g = b[i]!;
    return f.frameAddress === g.frameAddress && f.codeAddress === g.codeAddress &&
      f.location.line === g.location.line && f.location.column === g.location.column;
  });
}
