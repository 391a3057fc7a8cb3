/**
 * Suspended greenlets (greenlet 1.x to 3.x, gevent), found from memory alone:
 * every greenlet object is on one of the garbage collector's lists, and each
 * one's implementation object (`pimpl`) keeps the saved state a switch
 * restores, among it the newest frame of its own chain of Python frames.
 *
 * greenlet's C++ layouts are in no header the target ships, and change
 * between releases (2.x keeps `_self` in the subclass, 3.x first in the base
 * class; the saved state's members vary with the Python version), so no
 * offset is assumed: fields are found by what they hold.
 *
 * - `_self`: a word equal to the greenlet object's own address (identity);
 * - the saved frame (`_top_frame`): the first word holding a frame object,
 *   at the index most greenlets that do not run agree on; from 3.11 the
 *   frame object leads to the `_PyInterpreterFrame` (`f_frame`), which must
 *   point back to it;
 * - a main greenlet: its `stack_stop` is `(char*)-1`, and a word points to
 *   its thread's `ThreadState`, which starts with the main greenlet itself,
 *   then the thread's running greenlet (which has no saved frames: its frames
 *   are its thread's); a user greenlet's first word naming a main greenlet
 *   is its `_main_greenlet`;
 * - the OS thread is the one whose stack mapping holds the stack addresses
 *   a greenlet saves before its frame (`StackState`): inferred, 0 when no
 *   word of any greenlet of that thread falls in a thread's stack.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
export { greenletModuleMapped } from "./greenlet_mapped.ts";
import type { GreenletInfo, GreenletStack } from "../../model.ts";
import type { MapEntry } from "../../elf/maps.ts";
import { rethrowFatal } from "../../errors.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { TypeNames } from "../../cpython/objects.ts";
import { CodeReader } from "../../walk/code_objects.ts";
import { type FrameContext, walkFrames } from "../../walk/frames.ts";
import { findSelfIndex, IMPL_WORDS, implWords } from "./greenlet_impl.ts";
import { SpawnFunctions } from "./spawn_function.ts";
import { findGcListHeads, listTails, stillTracked, walkGcList } from "./gc_lists.ts";

/** Most greenlets read. */
export const MAX_GREENLETS = 10_000;
/** Most objects visited on the collector's lists. */
export const MAX_GC_OBJECTS = 5_000_000;
/** Deepest chain of base types followed to tell a greenlet type. */
const MAX_BASES = 64;

/** The `tp_name` of greenlet's own type. */
export const GREENLET_TYPE = "greenlet.greenlet";

/** What {@linkcode readGreenlets} reads with. */
export interface GreenletContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  interp: bigint;
  runtime: bigint | undefined;
  /** The target's mappings (for the thread stacks). */
  maps: readonly MapEntry[];
  /** Each thread's stack pointer, where known. */
  stackPointers: ReadonlyMap<number, bigint>;
  log?: (message: string) => void;
}

/** Suspended greenlets, and why some may be missing. */
export interface GreenletWalk {
  greenlets: GreenletStack[];
  /** The greenlet each thread runs, by OS thread id (where its thread could be told). */
  running: Map<number, GreenletInfo>;
  warnings: string[];
}

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

function u64(mem: MemoryReader, address: bigint): bigint {
  return new DataView(mem.read(address, 8).buffer).getBigUint64(0, true);
}

/** One greenlet object and its implementation's words. */
interface Found {
  address: bigint;
  typeName: string;
  hub: boolean;
  words: bigint[];
}

/** Whether a type is a greenlet type, and gevent's hub. */
interface Kind {
  greenlet: boolean;
  hub: boolean;
}

/**
 * The greenlet objects of a live target, found before it is paused, so that
 * the pause need not cover the walk over every object the collector tracks
 * (see {@linkcode readGreenlets}).
 */
export interface GreenletPrescan {
  heads: bigint[];
  /** The newest node of each list when its walk ended. */
  tails: bigint[];
  /** Greenlet objects found, and the address of their type. */
  objects: Map<bigint, number>;
  kinds: Map<number, Kind>;
  /** Every list was walked to its end, within the budget. */
  complete: boolean;
}

/** The GC lists and what is read with them, or a reason why greenlets are not looked for. */
function gcLists(ctx: GreenletContext): { heads: bigint[] } | { warning: string } {
  if (ctx.rt.gcHeadSize === 0) {
    return { warning: "greenlets are not looked for in free-threaded builds (no GC lists)" };
  }
  const gc = gcState(ctx);
  if (gc === undefined) {
    return {
      warning: "greenlets are not looked for in this Python version (its GC lists are in a C " +
        "static)",
    };
  }
  const heads = findGcListHeads(ctx.mem, gc.start, gc.size);
  if (heads.length === 0) return { warning: "greenlets not found: no GC list in the GC state" };
  return { heads };
}

/** Walks `heads`, adding each greenlet object and its type to `objects`; returns how it went. */
function collect(
  ctx: GreenletContext,
  heads: readonly bigint[],
  state: { kinds: Map<number, Kind>; types: TypeNames; objects: Map<bigint, number> },
): { visited: number; tails: bigint[]; partial: string[] } {
  const objectLayout = ctx.rt.layout.structs.object;
  const typeOffset = objectLayout?.fields.type?.offset;
  if (typeOffset === undefined) throw new TypeError("Layout has no ob_type");
  const headSize = ctx.rt.gcHeadSize;
  let budget = MAX_GC_OBJECTS;
  const tails: bigint[] = [];
  const partial: string[] = [];
  for (const head of heads) {
    const walk = walkGcList(ctx.mem, { head, budget, typeOffset, headSize }, (objectAt, typeAt) => {
      if (state.objects.size >= MAX_GREENLETS) return;
      let kind = state.kinds.get(typeAt);
      if (kind === undefined) {
        try {
          kind = greenletKind(ctx, state.types, BigInt(typeAt));
        } catch (e) {
          rethrowFatal(e);
          kind = { greenlet: false, hub: false };
        }
        state.kinds.set(typeAt, kind);
      }
      if (kind.greenlet) state.objects.set(BigInt(objectAt), typeAt);
    });
    budget -= walk.visited;
    tails.push(BigInt(walk.last));
    if (walk.partial !== undefined) partial.push(walk.partial);
  }
  return { visited: MAX_GC_OBJECTS - budget, tails, partial };
}

/**
 * Finds the greenlet objects of a running target (its lists may change
 * meanwhile: a walk that finds one broken makes the scan incomplete).
 * Undefined when greenlets are not looked for in this version.
 */
export function prescanGreenlets(ctx: GreenletContext): GreenletPrescan | undefined {
  const lists = gcLists(ctx);
  if (!("heads" in lists)) return undefined;
  const state = {
    kinds: new Map<number, Kind>(),
    types: new TypeNames(ctx.mem, ctx.rt),
    objects: new Map<bigint, number>(),
  };
  const walk = collect(ctx, lists.heads, state);
  return {
    heads: lists.heads,
    tails: walk.tails,
    objects: state.objects,
    kinds: state.kinds,
    complete: walk.partial.length === 0 && state.objects.size < MAX_GREENLETS,
  };
}

/**
 * Reads every suspended greenlet of the interpreter `ctx.interp`.
 *
 * With a `prescan` of the running target: objects are only appended to GC
 * lists (a new one at the youngest list's end, a collection moves a whole
 * list to another's end), so when every list but the youngest (the first)
 * still ends where the scan saw it end, only the youngest is walked again and
 * the greenlets the scan found are checked to be still tracked. Otherwise
 * every list is walked again.
 */
export function readGreenlets(ctx: GreenletContext, prescan?: GreenletPrescan): GreenletWalk {
  const warnings: string[] = [];
  const log = ctx.log ?? (() => {});
  const lists = gcLists(ctx);
  if (!("heads" in lists)) return { greenlets: [], running: new Map(), warnings: [lists.warning] };
  const { heads } = lists;
  const types = new TypeNames(ctx.mem, ctx.rt);
  const state = {
    kinds: prescan?.kinds ?? new Map<number, Kind>(),
    types,
    objects: new Map<bigint, number>(),
  };
  const started = performance.now();
  const tails = listTails(ctx.mem, heads);
  const reuse = prescan !== undefined && prescan.complete &&
    prescan.heads.length === heads.length && heads.every((h, i) => h === prescan.heads[i]) &&
    tails.every((t, i) => i === 0 || t === prescan.tails[i]);
  if (reuse) {
    const typeLayout = ctx.rt.layout.structs.object!;
    for (const [object, type] of prescan.objects) {
      if (!stillTracked(ctx.mem, object, ctx.rt.gcHeadSize)) continue;
      try {
        const now = readStruct(ctx.mem, object, typeLayout).ptr("type");
        if (now === BigInt(type)) state.objects.set(object, type);
      } catch (e) {
        rethrowFatal(e);
      }
    }
  }
  const walk = collect(ctx, reuse ? heads.slice(0, 1) : heads, state);
  for (const partial of walk.partial) warnings.push(`greenlets may be missing: ${partial}`);
  if (state.objects.size >= MAX_GREENLETS) {
    warnings.push(`stopped after ${MAX_GREENLETS} greenlets`);
  }
  const found: Found[] = [];
  let unrecognized = 0;
  const objectSize = BigInt(ctx.rt.layout.structs.object!.size);
  for (const [object, typeAt] of state.objects) {
    try {
      // PyGreenlet: PyObject_HEAD, weakreflist, dict, pimpl (greenlet.h, every release).
      const pimpl = u64(ctx.mem, object + objectSize + 16n);
      const words = implWords(ctx.mem.read(pimpl, IMPL_WORDS * 8));
      // `_self` (greenlet 2.x: in the subclass; 3.x: first in the base class) points back.
      if (findSelfIndex(words, object) === undefined) {
        unrecognized++;
        continue;
      }
      const type = BigInt(typeAt);
      found.push({
        address: object,
        typeName: types.of(type).name,
        hub: state.kinds.get(typeAt)?.hub ?? false,
        words,
      });
    } catch (e) {
      rethrowFatal(e);
      unrecognized++;
    }
  }
  if (unrecognized > 0) {
    warnings.push(`${unrecognized} greenlet(s) not shown: their implementation is not readable`);
  }
  log(
    `greenlets: ${found.length} found among ${walk.visited} objects on ` +
      `${reuse ? "the youngest of " : ""}${heads.length} GC lists` +
      `${reuse ? " (the others as scanned before the pause)" : ""} in ` +
      `${(performance.now() - started).toFixed(2)} ms`,
  );
  if (found.length === 0) return { greenlets: [], running: new Map(), warnings };
  return { ...suspendedStacks(ctx, types, found, warnings), warnings };
}

/** Where `struct _gc_runtime_state` is, from the offsets of its `collecting` flag. */
function gcState(ctx: GreenletContext): { start: bigint; size: number } | undefined {
  const { rt } = ctx;
  const gc = rt.layout.structs.gc;
  const collecting = gc?.fields.collecting;
  if (gc === undefined || collecting === undefined) return undefined;
  switch (rt.gcRule) {
    case "interp": {
      const field = rt.layout.structs.interp?.fields.gc_collecting;
      if (field === undefined) return undefined;
      return { start: ctx.interp + BigInt(field.offset - collecting.offset), size: gc.size };
    }
    case "runtime": {
      const field = rt.layout.structs.runtime?.fields.gc_collecting;
      if (field === undefined || ctx.runtime === undefined) return undefined;
      return { start: ctx.runtime + BigInt(field.offset - collecting.offset), size: gc.size };
    }
    case "static_symbol":
      return undefined;
  }
}

/** Whether `type` is greenlet's type or derives from it, and whether it is gevent's hub. */
function greenletKind(
  ctx: GreenletContext,
  types: TypeNames,
  type: bigint,
): { greenlet: boolean; hub: boolean } {
  const typeLayout = ctx.rt.layout.structs.type;
  if (typeLayout === undefined) return { greenlet: false, hub: false };
  const names: string[] = [];
  let base = type;
  for (let depth = 0; base !== 0n && depth < MAX_BASES; depth++) {
    const name = types.of(base).name;
    names.push(name);
    if (name === GREENLET_TYPE) {
      // gevent.hub.Hub: a Python class named Hub over gevent's own greenlet types.
      const hub = names[0] === "Hub" && names.some((n) => n.startsWith("gevent."));
      return { greenlet: true, hub };
    }
    base = readStruct(ctx.mem, base, typeLayout).ptr("base");
  }
  return { greenlet: false, hub: false };
}

/** The most common value of `values`, undefined for none. */
function consensus(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  for (const [v, n] of counts) if (best === undefined || n > counts.get(best)!) best = v;
  return best;
}

/** `(char*)-1`: greenlet's `stack_stop` of a main greenlet (`StackState::make_main`). */
const MAIN_STACK_STOP = 0xffff_ffff_ffff_ffffn;
/** Words searched for stack addresses when no saved frame is known. */
const STACK_WORDS = 16;
/** Greenlets whose words are searched for the saved frame's index (then only that word is read). */
const SAMPLE = 16;
/** Votes taken per group of greenlets (one main greenlet's) for its thread. */
const VOTES = 24;

/**
 * The main greenlets among `found` (a word of each points to its thread's
 * `ThreadState`, whose first member is the main greenlet itself and the
 * second the thread's running greenlet), and the running greenlets.
 */
function mainGreenlets(
  mem: MemoryReader,
  found: readonly Found[],
): { mains: Set<bigint>; running: Set<bigint> } {
  const mains = new Set<bigint>();
  const running = new Set<bigint>();
  const greenlets = new Set(found.map((g) => g.address));
  for (const g of found) {
    if (!g.words.includes(MAIN_STACK_STOP)) continue;
    for (const w of g.words.slice(1)) {
      if (w === g.address || !plausiblePointer(w)) continue;
      try {
        // Not any word that points at the greenlet (a stack slot may): the next one must be
        // a greenlet too, the thread's running one.
        if (u64(mem, w) !== g.address) continue;
        const current = u64(mem, w + 8n);
        if (!greenlets.has(current)) continue;
        mains.add(g.address);
        running.add(current);
        break;
      } catch (e) {
        rethrowFatal(e);
      }
    }
  }
  return { mains, running };
}

function plausiblePointer(w: bigint): boolean {
  return w > 0x10000n && w < 1n << 47n && (w & 7n) === 0n;
}

/**
 * The index of the saved frame (`PythonState::_top_frame`) in the
 * implementation words: the first word holding a frame object, in most of
 * (a sample of) the greenlets that do not run.
 */
function savedFrameIndex(
  frameCtx: FrameContext,
  found: readonly Found[],
  running: ReadonlySet<bigint>,
): number | undefined {
  const indexes: number[] = [];
  for (const g of found) {
    if (running.has(g.address)) continue;
    const index = g.words.findIndex((w, i) =>
      i > 0 && plausiblePointer(w) && savedFrame(frameCtx, w) !== undefined
    );
    if (index > 0) indexes.push(index);
    if (indexes.length >= SAMPLE) break;
  }
  return consensus(indexes);
}

/** Stacks of the suspended greenlets among `found`. */
function suspendedStacks(
  ctx: GreenletContext,
  types: TypeNames,
  found: Found[],
  warnings: string[],
): { greenlets: GreenletStack[]; running: Map<number, GreenletInfo> } {
  const { mem, rt } = ctx;
  const frameCtx: FrameContext = { mem, rt, codes: new CodeReader(mem, rt), types };
  const { mains, running } = mainGreenlets(mem, found);
  // A user greenlet's main greenlet: the first of its words that is a main greenlet.
  const mainOf = new Map<bigint, bigint>();
  for (const g of found) {
    const main = mains.has(g.address) ? g.address : g.words.find((w) => mains.has(w));
    if (main !== undefined) mainOf.set(g.address, main);
  }
  const topIndex = savedFrameIndex(frameCtx, found, running);
  const tidOf = threadAttribution(ctx, found, mainOf, topIndex);
  const spawned = new SpawnFunctions(mem, rt, types);
  const info = (g: Found): GreenletInfo => {
    const out: GreenletInfo = { address: g.address, typeName: g.typeName };
    if (mains.has(g.address)) out.role = "main";
    else if (g.hub) out.role = "hub";
    else {
      const spawnFunction = spawned.of(g.address);
      if (spawnFunction !== undefined) out.spawnFunction = spawnFunction;
    }
    return out;
  };
  const runningByTid = new Map<number, GreenletInfo>();
  for (const g of found) {
    const tid = tidOf(g.address);
    if (running.has(g.address) && tid !== 0) runningByTid.set(tid, info(g));
  }
  if (topIndex === undefined) {
    // Not started or finished greenlets hold none: said with -v, not as a warning.
    ctx.log?.("greenlets: none holds a saved frame (not started, finished, or unreadable)");
    return { greenlets: [], running: runningByTid };
  }
  const stacks: GreenletStack[] = [];
  for (const g of found) {
    if (running.has(g.address)) continue;
    const top = g.words[topIndex]!;
    if (top === 0n) continue; // not started, finished, or switched away from C code only
    const stack: GreenletStack = { ...info(g), tid: tidOf(g.address), frames: [] };
    const newest = savedFrame(frameCtx, top);
    if (newest === undefined) {
      stack.partial = `saved frame pointer ${hex(top)} does not lead to a frame`;
    } else {
      try {
        const walk = walkFrames(frameCtx, newest);
        stack.frames = walk.frames;
        if (walk.partial !== undefined) stack.partial = walk.partial;
      } catch (e) {
        rethrowFatal(e);
        stack.partial = `frames unreadable: ${(e as Error).message}`;
      }
    }
    stacks.push(stack);
  }
  if (stacks.some((s) => s.tid === 0)) {
    warnings.push("the thread of some greenlets could not be told (shown as thread 0)");
  }
  return { greenlets: stacks, running: runningByTid };
}

/**
 * The newest frame of the chain the frame object at `object` starts (the
 * frame object itself up to 3.10; its `f_frame` from 3.11, which must point
 * back to it), or undefined when `object` is not a frame object.
 */
function savedFrame(ctx: FrameContext, object: bigint): bigint | undefined {
  if (object === 0n || (object & 7n) !== 0n) return undefined;
  try {
    if (ctx.types.ofObject(object).name !== "frame") return undefined;
    if (ctx.rt.frameChain === "frame_object") return object;
    const header = ctx.rt.layout.structs.object?.size;
    const frameLayout = ctx.rt.layout.structs.frame;
    if (header === undefined || frameLayout === undefined) return undefined;
    // PyFrameObject: PyObject_HEAD, f_back, f_frame (3.11+).
    const frame = u64(ctx.mem, object + BigInt(header) + 8n);
    if (frame === 0n) return undefined;
    const view = readStruct(ctx.mem, frame, frameLayout);
    if (view.has("frame_obj") && view.ptr("frame_obj") !== object) return undefined;
    return frame;
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/**
 * The OS thread of each greenlet: every greenlet of a thread runs on that
 * thread's stack, and saves addresses in it. A vote over the words of all
 * the greenlets that share a main greenlet; 0 when nothing matches.
 */
function threadAttribution(
  ctx: GreenletContext,
  found: Found[],
  mainOf: ReadonlyMap<bigint, bigint>,
  topIndex: number | undefined,
): (greenlet: bigint) => number {
  const stacks: { start: bigint; end: bigint; tid: number }[] = [];
  for (const [tid, sp] of ctx.stackPointers) {
    const m = ctx.maps.find((e) => e.start <= sp && sp < e.end);
    if (m !== undefined) stacks.push({ start: m.start, end: m.end, tid });
  }
  const votes = new Map<bigint, number[]>();
  for (const g of found) {
    const group = mainOf.get(g.address) ?? g.address;
    const list = votes.get(group) ?? [];
    votes.set(group, list);
    if (list.length >= VOTES) continue;
    // The words before the saved frame: the exception, switch and stack states.
    for (const w of g.words.slice(1, topIndex ?? STACK_WORDS)) {
      const s = stacks.find((s) => s.start <= w && w < s.end);
      if (s !== undefined) list.push(s.tid);
    }
  }
  const tids = new Map<bigint, number>();
  for (const [group, list] of votes) tids.set(group, consensus(list) ?? 0);
  return (greenlet) => tids.get(mainOf.get(greenlet) ?? greenlet) ?? 0;
}
