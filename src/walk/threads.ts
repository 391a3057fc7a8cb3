/**
 * Walking an interpreter's thread states into the model: ids, frames, GIL and
 * GC status. Bounded and cycle-safe.
 *
 * @module
 */

import { rethrowFatal } from "../errors.ts";
import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import type { PyThread } from "../model.ts";
import { readStruct, type StructView } from "../cpython/struct_view.ts";
import { TypeNames } from "../cpython/objects.ts";
import { CodeReader } from "./code_objects.ts";
import { type FrameContext, type FrameWalk, newestFrame, walkFrames } from "./frames.ts";
import { resolveThreadIds, type TidSources } from "./thread_ids.ts";
import type { Deadline } from "../deadline.ts";

/** Most thread states read from one interpreter. */
export const MAX_THREADS = 100_000;

/** What {@linkcode walkThreads} needs to know about the target. */
export interface ThreadContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  interp: bigint;
  runtime: bigint | undefined;
  symbols: Map<string, bigint>;
  /** The process's OS thread ids (for pthread-based id lookup before 3.11). */
  tids: ReadonlySet<number>;
  /** Host and in-namespace ids of a live target in a container (`thread_ids.ts`). */
  namespace?: TidSources["namespace"];
  /** `pthread_t` (`fs_base`) → thread id, from registers (`thread_ids.ts`). */
  byPthread?: TidSources["byPthread"];
  /** `--timeout`: threads are read while it has not passed; the others are counted unread. */
  deadline?: Deadline;
}

/** Threads of one interpreter (newest first, as CPython links them) plus warnings. */
export interface ThreadWalk {
  threads: PyThread[];
  /** Each thread's newest frame address as read (0n for none), parallel to `threads`. */
  newest: bigint[];
  /**
   * Each thread's stack anchor (see `PythonRuntime.stackAnchor`; 0n for none), parallel to
   * `threads`: orders the parts of a thread that runs several interpreters.
   */
  anchors: bigint[];
  warnings: string[];
  /** `--timeout`: thread states found but not read, the time being up (absent: none). */
  unread?: number;
}

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** Reads every thread state of the interpreter at `ctx.interp`. */
export function walkThreads(ctx: ThreadContext): ThreadWalk {
  const { mem, rt } = ctx;
  const warnings: string[] = [];
  const { interp: interpLayout, thread: threadLayout } = rt.layout.structs;
  if (interpLayout === undefined || threadLayout === undefined) {
    throw new TypeError("Layout has no interpreter or thread state");
  }
  const interp = readStruct(mem, ctx.interp, interpLayout);
  const interpreterId = interp.has("id") ? interp.int("id") : 0;
  const states: StructView[] = [];
  const seen = new Set<bigint>();
  for (let t = interp.ptr("tstate_head"); t !== 0n;) {
    if (seen.has(t)) {
      warnings.push(`thread list loops back to ${hex(t)}`);
      break;
    }
    if (seen.size >= MAX_THREADS) {
      warnings.push(`stopped after ${MAX_THREADS} threads`);
      break;
    }
    seen.add(t);
    let ts: StructView;
    try {
      ts = readStruct(mem, t, threadLayout);
    } catch (e) {
      rethrowFatal(e);
      warnings.push(`thread state at ${hex(t)} is unreadable; later threads are missing`);
      break;
    }
    states.push(ts);
    t = ts.ptr("next");
  }

  const ids = threadIds(ctx, states, warnings);
  const gilHolder = readGilHolder(ctx, interp, warnings);
  const collecting = readGcCollecting(ctx, interp);
  const frameCtx: FrameContext = {
    mem,
    rt,
    codes: new CodeReader(mem, rt),
    types: new TypeNames(mem, rt),
    ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }),
  };
  const newest: bigint[] = [];
  const anchors: bigint[] = [];
  const threads: PyThread[] = [];
  for (const [index, ts] of states.entries()) {
    if (ctx.deadline?.passed("threads")) {
      return { threads, newest, anchors, warnings, unread: states.length - index };
    }
    let walk: FrameWalk;
    let top = 0n;
    try {
      top = newestFrame(frameCtx, ts);
      walk = walkFrames(frameCtx, top);
    } catch (e) {
      rethrowFatal(e);
      walk = { frames: [], partial: `frames unreadable: ${(e as Error).message}` };
    }
    newest.push(top);
    anchors.push(stackAnchor(rt, ts, walk));
    const holdsGil = gilHolder === undefined ? undefined : gilHolder === ts.address;
    const threadState = readThreadState(rt, ts);
    // The collector runs on the thread that holds the GIL, or, free-threaded, that is attached.
    const runs = threadState === undefined ? holdsGil : threadState === "attached";
    const thread: PyThread = {
      ...ids[index]!,
      threadStateAddress: ts.address,
      interpreterId,
      frames: walk.frames,
      holdsGil,
      gcCollecting: collecting === undefined || runs === undefined ? undefined : collecting && runs,
    };
    if (threadState !== undefined) thread.threadState = threadState;
    if (walk.partial !== undefined) thread.partial = walk.partial;
    threads.push(thread);
  }
  markStarting(states, threads);
  return { threads, newest, anchors, warnings };
}

/**
 * Marks the thread states of threads being started (see `PyThread.starting`; `states` and
 * `threads` in the same order, newest first), which have no frames: 3.12+, those `_status` says
 * are neither bound to an OS thread nor unbound from one; before, a state newer than one of
 * the same `thread_id` that runs Python (CPython gives a new state its creator's `thread_id`
 * until the new thread runs; a stale state left by an ended C thread whose `pthread_t` was
 * reused is older, and has no frames).
 */
function markStarting(states: StructView[], threads: PyThread[]): void {
  const status = states.length > 0 && states[0]!.has("status");
  const idents = states.map((ts) => ts.has("thread_id") ? ts.ptr("thread_id") : 0n);
  threads.forEach((t, i) => {
    if (t.frames.length > 0) return;
    const starting = status ? (states[i]!.int("status") & 0b110) === 0 : idents[i] !== 0n &&
      threads.some((o, j) => j > i && idents[j] === idents[i] && o.frames.length > 0);
    if (!starting) return;
    t.tid = 0;
    delete t.nsTid;
    t.starting = true;
  });
}

/** See {@linkcode ThreadWalk.anchors}. */
function stackAnchor(rt: PythonRuntime, ts: StructView, walk: FrameWalk): bigint {
  switch (rt.stackAnchor) {
    case "shim_frame":
      return walk.anchor ?? 0n;
    case "cframe": {
      // An idle thread state points at its own root `_PyCFrame`, not into the C stack.
      const cframe = ts.ptr("cframe");
      const size = BigInt(rt.layout.structs.thread?.size ?? 0);
      return cframe >= ts.address && cframe < ts.address + size ? 0n : cframe;
    }
    case "none":
      return 0n;
  }
}

function threadIds(ctx: ThreadContext, states: StructView[], warnings: string[]) {
  const fromNative = !ctx.rt.tidFromPthread;
  const sources: TidSources = { tids: ctx.tids };
  if (ctx.namespace !== undefined) sources.namespace = ctx.namespace;
  if (ctx.byPthread !== undefined) sources.byPthread = ctx.byPthread;
  return resolveThreadIds(
    ctx.mem,
    sources,
    states.map((ts) => ({
      pthread: ts.has("thread_id") ? ts.ptr("thread_id") : 0n,
      ...(fromNative ? { nativeThreadId: ts.int("native_thread_id") } : {}),
    })),
    warnings,
  );
}

function u64At(mem: MemoryReader, address: bigint): bigint {
  return new DataView(mem.read(address, 8).buffer).getBigUint64(0, true);
}

/** The thread state holding the GIL, 0n for none, undefined when unknown. */
function readGilHolder(
  ctx: ThreadContext,
  interp: StructView,
  warnings: string[],
): bigint | undefined {
  const { mem, rt } = ctx;
  try {
    switch (rt.gilRule) {
      case "tstate_current_symbol": {
        const sym = ctx.symbols.get("_PyThreadState_Current");
        return sym === undefined ? undefined : u64At(mem, sym);
      }
      case "runtime_tstate_current": {
        const layout = rt.layout.structs.runtime;
        if (ctx.runtime === undefined || layout === undefined) return undefined;
        return readStruct(mem, ctx.runtime, layout).ptr("gilstate_tstate_current");
      }
      case "gil_struct": {
        const layout = rt.layout.structs.gil;
        const gil = interp.ptr("ceval_gil");
        if (gil === 0n || layout === undefined) return undefined;
        const g = readStruct(mem, gil, layout);
        // Free-threaded builds: no thread holds a GIL that is not enabled.
        if (g.has("enabled") && g.int("enabled") === 0) return 0n;
        return g.int("locked") !== 0 ? g.ptr("last_holder") : 0n;
      }
    }
  } catch (e) {
    warnings.push(`GIL state unreadable: ${(e as Error).message}`);
    return undefined;
  }
}

/** `tstate->state` values (`_Py_THREAD_DETACHED`, `_ATTACHED`, `_SUSPENDED`, 3.13+). */
const THREAD_STATES = ["detached", "attached", "suspended"] as const;

/** Free-threaded builds: whether the thread state is attached; undefined for GIL builds. */
function readThreadState(rt: PythonRuntime, ts: StructView): PyThread["threadState"] {
  if (rt.threadStatus !== "attachment") return undefined;
  return ts.has("state") ? THREAD_STATES[ts.int("state")] ?? "unknown" : "unknown";
}

/** Whether the garbage collector is running, undefined when unknown. */
function readGcCollecting(ctx: ThreadContext, interp: StructView): boolean | undefined {
  const { mem, rt } = ctx;
  try {
    switch (rt.gcRule) {
      case "static_symbol": {
        const sym = ctx.symbols.get("collecting");
        if (sym === undefined) return undefined;
        return new DataView(mem.read(sym, 4).buffer).getInt32(0, true) !== 0;
      }
      case "runtime": {
        const layout = rt.layout.structs.runtime;
        if (ctx.runtime === undefined || layout === undefined) return undefined;
        return readStruct(mem, ctx.runtime, layout).int("gc_collecting") !== 0;
      }
      case "interp":
        return interp.int("gc_collecting") !== 0;
    }
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}
