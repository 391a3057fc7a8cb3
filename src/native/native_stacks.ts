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
import { classifyFrames, isCollecting } from "./classify.ts";
import { demangle } from "./demangle.ts";
import type { NativeMode } from "./merge.ts";
import { type CoreSessionOptions, NativeSession, type RawStack } from "./session.ts";
import { Symbolizer } from "./symbolizer.ts";

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
}

/** Unwinding and symbolising the native stacks of one process or core. */
export class NativeStacks implements Disposable {
  readonly #session: NativeSession;
  #stacks: RawStack[] = [];
  /** Milliseconds spent unwinding (while the target is paused, for live processes). */
  unwindMs = 0;

  private constructor(session: NativeSession) {
    this.#session = session;
  }

  /**
   * For the live process `pid`, before it is paused: reports its objects and
   * loads their unwind tables. Throws `NativeUnavailableError` without libdw.
   */
  static forProcess(pid: number): NativeStacks {
    const session = NativeSession.forProcess(pid);
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

  /** Unwinds the live threads `tids`, which must be held stopped (raw addresses only). */
  unwindLive(tids: readonly number[]): void {
    const start = performance.now();
    this.#stacks = tids.map((tid) => this.#session.unwind(tid));
    this.unwindMs = performance.now() - start;
  }

  /** Unwinds the threads of a core. */
  unwindCore(): void {
    const start = performance.now();
    this.#stacks = this.#session.unwindCore();
    this.unwindMs = performance.now() - start;
  }

  /**
   * Symbolises the unwound stacks and attaches them to `threads` (in place);
   * with `--native-all`, returns `threads` followed by one thread per other
   * unwound TID, in TID order. Warnings go to `warnings`.
   */
  attach(threads: PyThread[], options: AttachOptions, warnings: string[]): PyThread[] {
    const symbolizer = new Symbolizer(this.#session.dwfl, {
      demangle: (name) => demangle(name),
      ...(options.libraryName ? { libraryName: options.libraryName } : {}),
    });
    const byTid = new Map(this.#stacks.map((s) => [s.tid, s]));
    const frameOf = (stack: RawStack, tid: number): NativeFrame[] => {
      if (stack.error !== undefined) {
        warnings.push(`the native stack of thread ${tid} could not be unwound: ${stack.error}`);
        return [];
      }
      const innermostFirst = stack.frames.flatMap((raw) => symbolizer.frames(raw));
      // Cached frames are shared between threads: copy before classifying.
      const frames = innermostFirst.map((f) => ({ ...f })).reverse();
      return classifyFrames(frames, options.rules);
    };
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
      if (thread.native.some((f) => f.role === "eval")) {
        // The native stack says precisely which thread runs the collector (when the
        // interpreter's functions have names: its evaluation loop was recognised).
        thread.gcCollecting = isCollecting(
          thread.native,
          options.rules,
          (f) => options.inInterpreter(f.address),
        );
      }
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
        };
        const name = options.threadName?.(stack.tid);
        if (name !== undefined) thread.name = name;
        return thread;
      }),
    ];
  }

  [Symbol.dispose](): void {
    this.#session[Symbol.dispose]();
  }
}

/** Where the interpreter's own object (libpython or the executable) is mapped. */
export interface InterpreterMappings {
  maps: readonly { start: bigint; end: bigint }[];
}

/** {@linkcode AttachOptions} for a target whose interpreter object is `main`. */
export function attachOptionsFor(
  mode: NativeMode,
  rules: NativeRules,
  main: InterpreterMappings | undefined,
  extra: Pick<AttachOptions, "threadName" | "libraryName"> = {},
): AttachOptions {
  const maps = main?.maps ?? [];
  return {
    mode,
    rules,
    inInterpreter: (address) => maps.some((m) => m.start <= address && address < m.end),
    ...extra,
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
