/**
 * Native stacks for `pystack remote` and `pystack core`: unwind (while the
 * target is paused), then symbolise (after it runs again) and attach the
 * frames to the model's threads, adding the threads without Python for
 * `--native-all`.
 *
 * @module
 */

import type { NativeRules } from "../cpython/runtime.ts";
import type { NativeFrame, PyThread } from "../model.ts";
import { classifyFrames, isCollecting, roleOf } from "./classify.ts";
import { demangle } from "./demangle.ts";
import { EvalBodyNamer, findEvalBody } from "./eval_body.ts";
import type { ElfFile } from "../elf/elf_file.ts";
import { canMerge, mergedOrder, type NativeMode } from "./merge.ts";
import {
  type CoreSessionOptions,
  MAX_NATIVE_FRAMES,
  NativeSession,
  type RawFrame,
  type RawStack,
} from "./session.ts";
import { Symbolizer } from "./symbolizer.ts";
import type { InflateStats } from "./debug_inflate.ts";
import { DebugImages, type Workers } from "./debug_images.ts";
import { moduleBuildId, ownDebugLookup } from "./find_debuginfo.ts";
import { openLibdw } from "../../ffi/libdw.ts";
import type { Deadline } from "../deadline.ts";

/** What {@linkcode NativeStacks.attach} needs to know about the target. */
export interface AttachOptions {
  mode: NativeMode;
  rules: NativeRules;
  /** Whether an address lies in the interpreter's own object (libpython, or the executable). */
  inInterpreter: (address: bigint) => boolean;
  /** The OS name of a thread without Python (`--native-all`), when known. */
  threadName?: (tid: number) => string | undefined;
  /** Library names as shown: full paths for live processes, base names for cores. */
  libraryName?: (moduleName: string) => string;
  /** Names the frames of the evaluation loop's unnamed body (stripped builds, `eval_body.ts`). */
  evalBody?: EvalBodyNamer;
  /**
   * Source lines of `all` native frames (default), or only of those the
   * text output shows (`shown`: not the evaluation-loop and call-plumbing
   * frames a merged stack leaves out), which saves reading line tables.
   */
  lines?: "all" | "shown";
}

/** Unwinding and symbolising the native stacks of one process or core. */
export class NativeStacks implements Disposable {
  readonly #session: NativeSession;
  #stacks: RawStack[] = [];
  #symbolizer: Symbolizer | undefined;
  /** Milliseconds spent unwinding (while the target is paused, for live processes). */
  unwindMs = 0;

  private constructor(session: NativeSession) {
    this.#session = session;
  }

  /**
   * For the live process `pid`, before it is paused: reports its objects and
   * loads their unwind tables. Throws `NativeUnavailableError` without libdw.
   */
  static forProcess(pid: number, images?: DebugImages): NativeStacks {
    const session = NativeSession.forProcess(pid, images);
    try {
      session.prepare();
    } catch (e) {
      session[Symbol.dispose]();
      throw e;
    }
    return new NativeStacks(session);
  }

  /** For a core file. */
  static forCore(options: CoreSessionOptions): NativeStacks {
    return new NativeStacks(NativeSession.forCore(options));
  }

  /**
   * Unwinds the live threads `tids` (raw addresses only). Only threads in
   * `held` (stopped by pystack's tracer) are handed to libdw, whose unwinder
   * asserts on a thread it cannot read the registers of; after a thread
   * whose unwinding could not start, the others are left alone, as they are
   * once `deadline` (`--timeout`) has passed.
   */
  unwindLive(tids: readonly number[], held: ReadonlySet<number>, deadline?: Deadline): void {
    const start = performance.now();
    let stopped: string | undefined;
    this.#stacks = tids.map((tid): RawStack => {
      if (stopped === undefined && deadline?.passed("native frames")) {
        stopped = "not unwound: the time was up (--timeout)";
      }
      if (!held.has(tid)) {
        return { tid, frames: [], error: `thread ${tid} is not one pystack holds stopped` };
      }
      if (stopped !== undefined) return { tid, frames: [], error: stopped };
      const stack = this.#session.unwind(tid);
      if (stack.error !== undefined) {
        stopped = `not unwound: unwinding of thread ${tid} could not start (${stack.error})`;
      }
      return stack;
    });
    this.unwindMs = performance.now() - start;
  }

  /** Unwinds the threads of a core. */
  unwindCore(): void {
    const start = performance.now();
    this.#stacks = this.#session.unwindCore();
    this.unwindMs = performance.now() - start;
  }

  /**
   * Symbolises the unwound stacks ahead of {@linkcode attach} (optional:
   * `attach` symbolises what is left, decompressing debug files one after
   * the other). The debug files of the objects with frames are decompressed
   * in parallel on worker threads (`debug_images.ts`); meanwhile the ELF
   * symbols are looked up, then each object's DWARF once its file is ready,
   * and while later files inflate, the source lines attach will read.
   * `options` must be the ones given to `attach`.
   */
  async resolve(options: AttachOptions): Promise<void> {
    const images = this.#session.images;
    const symbolizer = this.#symbolizerFor(options.libraryName);
    const framesAt = this.#framesAt(options);
    const dw = openLibdw();
    const byModule = new Map<bigint, { mod: Deno.PointerObject; raws: RawFrame[] }>();
    const seen = new Set<bigint>();
    for (const stack of this.#stacks) {
      for (const raw of stack.frames) {
        const key = raw.pc * 2n + (raw.activation ? 1n : 0n);
        if (seen.has(key)) continue;
        seen.add(key);
        const mod = dw.dwfl_addrmodule(
          this.#session.dwfl.pointer,
          raw.activation ? raw.pc : raw.pc - 1n,
        );
        if (mod === null) continue;
        const modKey = BigInt(Deno.UnsafePointer.value(mod));
        const group = byModule.get(modKey) ?? { mod, raws: [] };
        group.raws.push(raw);
        byModule.set(modKey, group);
      }
    }
    const groups = [...byModule.values()].map((g) => {
      dw.dwfl_module_getelf(g.mod, new Uint8Array(8)); // its build id, when only the core had it
      const pending = ownDebugLookup(dw, g.mod);
      if (pending !== undefined) images.request(pending);
      const buildId = moduleBuildId(dw, g.mod);
      return { ...g, buildId };
    });
    // The interpreter's file bounds the wait: it inflates first, on the spare cores while this
    // thread looks up the ELF symbols.
    images.start("spare");
    // ELF symbols while the sections inflate (libdwfl reads only the symbol tables now).
    images.partial = true;
    try {
      for (const g of groups) for (const raw of g.raws) symbolizer.symbol(raw);
    } finally {
      images.partial = false;
    }
    // Then DWARF, object by object as their files are ready: while this thread waits, the
    // sections inflate on every core; while it works, on all but one.
    const ready = groups.map((g) =>
      g.buildId !== undefined && images.has(g.buildId) ? images.ready(g.buildId) : true
    );
    let left = groups.length;
    const inOrder = inCompletionOrder(ready);
    for (;;) {
      images.setWorkers("all");
      const next = await inOrder.next();
      if (next.done) break;
      images.setWorkers("spare");
      const i = next.value;
      const raws = groups[i]!.raws;
      for (const raw of raws) symbolizer.frames(raw);
      // Waiting for other objects anyway: the source lines attach will read, now. With
      // `lines: "shown"`, of the frames a merged stack shows (not the evaluation loop's or the
      // call plumbing's: reading line tables attach does not need would slow the inflating
      // down); attach reads any other it needs (a stack it cannot merge shows every frame).
      if (--left === 0) continue;
      for (const raw of raws) {
        if (options.lines !== "shown" || !hiddenWhenMerged(framesAt(raw), options.rules)) {
          symbolizer.fillLine(raw);
        }
      }
    }
    await images.settled(); // images asked for ahead and not needed
  }

  /**
   * Reads the source lines (left out by the symboliser) of the frames that
   * will be attached: all of them, or with `lines: "shown"` those a merged
   * stack shows, found with the same classification `attach` applies.
   */
  #fillLines(
    threads: readonly PyThread[],
    options: AttachOptions,
    framesAt: (raw: RawFrame) => readonly NativeFrame[],
  ): void {
    const symbolizer = this.#symbolizer!;
    const python = new Map(threads.filter((t) => t.tid !== 0).map((t) => [t.tid, t.frames]));
    for (const stack of this.#stacks) {
      const frames = python.get(stack.tid) ?? (options.mode === "all" ? [] : undefined);
      if (frames === undefined || stack.error !== undefined) continue;
      if (options.lines !== "shown") {
        for (const raw of stack.frames) symbolizer.fillLine(raw);
        continue;
      }
      const native = classifyFrames(
        stack.frames.flatMap((raw) => framesAt(raw).map((f) => ({ ...f }))).reverse(),
        options.rules,
      );
      const merged = canMerge({ frames, native });
      for (const raw of stack.frames) {
        if (!merged || !hiddenWhenMerged(framesAt(raw), options.rules)) symbolizer.fillLine(raw);
      }
    }
  }

  /** The frames of one physical frame, innermost first, the evaluation loop's body named. */
  #framesAt(options: AttachOptions): (raw: RawFrame) => readonly NativeFrame[] {
    const symbolizer = this.#symbolizerFor(options.libraryName);
    return (raw) => {
      const frames = symbolizer.frames(raw);
      return options.evalBody?.name(frames, raw.activation ? raw.pc : raw.pc - 1n) ?? frames;
    };
  }

  /** What was decompressed for libdw, for `-v`. */
  get inflateStats(): InflateStats {
    return this.#session.images.stats;
  }

  #symbolizerFor(libraryName: ((moduleName: string) => string) | undefined): Symbolizer {
    const dw = openLibdw();
    const images = this.#session.images;
    const buildIds = new Map<bigint, string | undefined>();
    this.#symbolizer ??= new Symbolizer(this.#session.dwfl, {
      demangle: (name) => demangle(name),
      ...(libraryName ? { libraryName } : {}),
      deferLines: true,
      dwarfReady: (mod) => {
        const key = BigInt(Deno.UnsafePointer.value(mod));
        if (!buildIds.has(key)) buildIds.set(key, moduleBuildId(dw, mod));
        const buildId = buildIds.get(key);
        return buildId === undefined || images.usable(buildId);
      },
    });
    return this.#symbolizer;
  }

  /**
   * Symbolises the unwound stacks and attaches them to `threads` (in place);
   * with `--native-all`, returns `threads` followed by one thread per other
   * unwound TID, in TID order. Warnings go to `warnings`.
   */
  attach(threads: PyThread[], options: AttachOptions, warnings: string[]): PyThread[] {
    const byTid = new Map(this.#stacks.map((s) => [s.tid, s]));
    const framesAt = this.#framesAt(options);
    const frameOf = (stack: RawStack, tid: number): NativeFrame[] => {
      if (stack.error !== undefined) {
        warnings.push(`the native stack of thread ${tid} could not be unwound: ${stack.error}`);
        return [];
      }
      const innermostFirst = stack.frames.flatMap((raw) => framesAt(raw));
      // Cached frames are shared between threads: copy before classifying.
      const frames = innermostFirst.map((f) => ({ ...f })).reverse();
      return classifyFrames(frames, options.rules);
    };
    this.#fillLines(threads, options, framesAt);
    const python = new Set<number>();
    for (const thread of threads) {
      if (thread.tid === 0) continue;
      python.add(thread.tid);
      const stack = byTid.get(thread.tid);
      if (stack === undefined) {
        thread.native = [];
        continue;
      }
      thread.native = frameOf(stack, thread.tid);
      if (stack.capped) thread.nativePartial = NATIVE_CAPPED;
    }
    // The native stack says precisely which thread runs the collector when the interpreter's
    // functions have names: its evaluation loop was recognised by name, not found by its
    // unnamed body (libdw then names none of the interpreter's local functions).
    for (const thread of options.evalBody?.used ? [] : threads) {
      if (thread.native?.some((f) => f.role === "eval")) {
        thread.gcCollecting = isCollecting(
          thread.native,
          options.rules,
          (f) => options.inInterpreter(f.address),
        );
      }
    }
    for (const thread of threads) {
      if (thread.native !== undefined) thread.merged = mergedOrder(thread, options.mode);
    }
    if (options.mode !== "all") return threads;
    const others = this.#stacks.filter((s) => !python.has(s.tid)).sort((a, b) => a.tid - b.tid);
    return [
      ...threads,
      ...others.map((stack): PyThread => {
        const thread: PyThread = {
          tid: stack.tid,
          threadStateAddress: 0n,
          interpreterId: -1,
          frames: [],
          holdsGil: false,
          gcCollecting: false,
          native: frameOf(stack, stack.tid),
          ...(stack.capped ? { nativePartial: NATIVE_CAPPED } : {}),
        };
        thread.merged = mergedOrder(thread, options.mode);
        const name = options.threadName?.(stack.tid);
        if (name !== undefined) thread.name = name;
        return thread;
      }),
    ];
  }

  /** See {@linkcode NativeSession.leaveToExit}. */
  leaveToExit(): void {
    this.#session.leaveToExit();
  }

  [Symbol.dispose](): void {
    this.#session[Symbol.dispose]();
  }
}

/** A thread's `nativePartial` when its unwinding stopped at the limit. */
export const NATIVE_CAPPED =
  `stopped after ${MAX_NATIVE_FRAMES} frames (the outermost are not shown)`;

/** Where the interpreter's own object (libpython or the executable) is mapped. */
export interface InterpreterMappings {
  maps: readonly { start: bigint; end: bigint }[];
  /** The object file, and what is added to its addresses at run time (for `eval_body.ts`). */
  elf?: ElfFile;
  bias?: bigint;
}

/** {@linkcode AttachOptions} for a target whose interpreter object is `main`. */
export function attachOptionsFor(
  mode: NativeMode,
  rules: NativeRules,
  main: InterpreterMappings | undefined,
  extra: Pick<AttachOptions, "threadName" | "libraryName" | "lines"> & {
    /** Says (`-v`) whether the evaluation loop's unnamed body was found, once it is looked for. */
    log?: (message: string) => void;
  } = {},
): AttachOptions {
  const { log, ...names } = extra;
  const maps = main?.maps ?? [];
  const inInterpreter = (address: bigint) =>
    maps.some((m) => m.start <= address && address < m.end);
  const elf = main?.elf;
  const evalBody = elf === undefined ? undefined : new EvalBodyNamer(() => {
    const search = findEvalBody(elf, rules.splitEvalFunction);
    log?.(
      "body" in search
        ? `evaluation loop: frames in ${search.body.function}'s unnamed part ` +
          `0x${search.body.start.toString(16)}-0x${search.body.end.toString(16)} ` +
          `are named ${search.body.name}`
        : `evaluation loop: no unnamed part of ${rules.splitEvalFunction}: ${search.reason}`,
    );
    return search;
  }, { bias: main?.bias ?? 0n, contains: inInterpreter });
  return {
    mode,
    rules,
    inInterpreter,
    ...(evalBody === undefined ? {} : { evalBody }),
    ...names,
  };
}

/**
 * Where a core's mapped files are on this machine, by the path the core
 * recorded and by base name (libdwfl may name modules either way).
 */
export function relocations(
  recordedPaths: readonly string[],
  fileFor: (recordedPath: string) => string | undefined,
): Map<string, string> {
  const byName = new Map<string, string>();
  for (const recorded of recordedPaths) {
    const found = fileFor(recorded);
    if (found === undefined) continue;
    byName.set(recorded, found);
    const base = recorded.slice(recorded.lastIndexOf("/") + 1);
    if (!byName.has(base)) byName.set(base, found);
  }
  return byName;
}

/**
 * Whether a merged stack hides the physical frame `frames` (innermost first):
 * its innermost frame is the evaluation loop or call plumbing (`#fillLines`).
 */
function hiddenWhenMerged(frames: readonly NativeFrame[], rules: NativeRules): boolean {
  const first = frames[0];
  if (first === undefined) return false;
  const role = roleOf(first, rules);
  return role === "eval" || role === "plumbing";
}

/** The indexes of `values`, in the order they resolve. */
async function* inCompletionOrder(values: readonly (Promise<unknown> | unknown)[]) {
  const pending = new Map(values.map((value, i) => [i, Promise.resolve(value).then(() => i)]));
  while (pending.size > 0) {
    const i = await Promise.race(pending.values());
    pending.delete(i);
    yield i;
  }
}

/** Says (`-v`) which debug files were decompressed for libdw, and how long it took. */
export function logInflated(stats: InflateStats, log: (message: string) => void): void {
  if (stats.files === 0) return;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  log(
    `debug information: ${stats.files} file(s) decompressed with ${stats.decompressor} ` +
      `(${mib(stats.compressedBytes)} MiB to ${mib(stats.inflatedBytes)} MiB) in ` +
      `${stats.ms.toFixed(1)} ms` +
      (stats.dropped.length > 0 ? `; not read: ${stats.dropped.join(", ")}` : ""),
  );
}

/**
 * Prepares the debug files nearly every native stack needs, as soon as their
 * objects are known (`elfs`: the interpreter's object and libc), and starts
 * decompressing them on `workers` threads, the interpreter's first. Callers
 * pass `spare` while this thread still has work (for a live process, the
 * pause: no worker thread then competes with it for the CPU);
 * {@linkcode NativeStacks.resolve} raises the count when it waits.
 */
export function debugImagesAhead(
  elfs: readonly (ElfFile | undefined)[],
  workers: Workers,
): DebugImages {
  const images = new DebugImages();
  for (const elf of elfs) {
    let buildId: string | undefined;
    try {
      buildId = elf?.buildId();
    } catch {
      continue; // unreadable notes: libdwfl finds the file itself, later
    }
    if (buildId === undefined) continue;
    images.request(buildId);
    // Each file starts as soon as it is prepared (the first one while the next is prepared).
    images.start(workers);
  }
  return images;
}

/** The path of the C library among mappings (`libc.so.6`, or `libc-2.XX.so` before glibc 2.34). */
export function libcPath(paths: Iterable<string>): string | undefined {
  for (const path of paths) {
    if (/(^|\/)libc(\.so\.6|-\d+\.\d+\.so)$/.test(path)) return path;
  }
  return undefined;
}

/**
 * Native rules for a target without a Python interpreter (`--native-all`):
 * no frame is a call of the evaluation loop or of the collector.
 */
export const NO_INTERPRETER_RULES: NativeRules = {
  evalFunctions: [],
  evalPrefixes: [],
  gcFunctions: [],
  hideVectorcall: false,
  splitEvalFunction: "",
};

/**
 * The warning shown when `--native-all` finds no interpreter in `subject`
 * (the error that said so would otherwise have ended the run).
 */
export function noInterpreterWarning(error: Error, subject: string): string {
  const prefix = `Cannot inspect ${subject}: `;
  const reason = error.message.startsWith(prefix)
    ? error.message.slice(prefix.length)
    : error.message;
  return `no Python interpreter found in ${subject}: ${reason}; ` +
    "showing the native stacks of its threads only (--native-all)";
}
