/**
 * Walking one thread's Python frames, newest to oldest, bounded and
 * cycle-safe; corrupt memory ends the walk with a marker instead of failing.
 *
 * @module
 */

import type { Deadline } from "../deadline.ts";
import { rethrowFatal } from "../errors.ts";
import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import type { PyFrame } from "../model.ts";
import { readStruct, type StructView } from "../cpython/struct_view.ts";
import type { TypeNames } from "../cpython/objects.ts";
import type { CodeReader } from "./code_objects.ts";

/** Most frames read from one thread. */
export const MAX_FRAMES = 100_000;

/** Frames of one thread, oldest first, and why the list may be incomplete. */
export interface FrameWalk {
  frames: PyFrame[];
  partial?: string;
  /**
   * 3.12+: the address of the newest C-stack shim frame (a local of the newest call of the
   * evaluation loop, so on the thread's C stack): orders the parts of a thread that runs
   * several interpreters, outermost (highest address) first.
   */
  anchor?: bigint;
}

/** What {@linkcode walkFrames} reads with. */
export interface FrameContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  codes: CodeReader;
  types: TypeNames;
  /** `--timeout`: checked every {@linkcode FRAME_BATCH} frames; once passed, the walk stops. */
  deadline?: Deadline;
}

/** Frames read between two checks of the deadline. */
export const FRAME_BATCH = 256;

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** The newest frame of a thread state, or 0n. */
export function newestFrame(
  ctx: Pick<FrameContext, "mem" | "rt">,
  tstate: StructView,
): bigint {
  switch (ctx.rt.frameChain) {
    case "frame_object":
      return tstate.ptr("frame");
    case "current_frame":
      return tstate.ptr("current_frame");
    case "cframe": {
      const cframe = tstate.ptr("cframe");
      const layout = ctx.rt.layout.structs.cframe;
      if (cframe === 0n || layout === undefined) return 0n;
      return readStruct(ctx.mem, cframe, layout).ptr("current_frame");
    }
  }
}

/** Walks the frame chain starting at `newest`. */
export function walkFrames(ctx: FrameContext, newest: bigint): FrameWalk {
  const { rt } = ctx;
  const layout = rt.layout.structs.frame;
  if (layout === undefined) throw new TypeError("Layout has no frame");
  const newestFirst: PyFrame[] = [];
  const seen = new Set<bigint>();
  let partial: string | undefined;
  let address = newest;
  let newerIsEntryCandidate: PyFrame | undefined;
  let anchor: bigint | undefined;
  /** Frames whose code object could not be read (shown as `???`). */
  let unread = 0;
  while (address !== 0n) {
    if (seen.has(address)) {
      partial = `frame chain loops back to ${hex(address)}`;
      break;
    }
    if (seen.size >= MAX_FRAMES) {
      partial = `stopped after ${MAX_FRAMES} frames`;
      break;
    }
    if (seen.size > 0 && seen.size % FRAME_BATCH === 0 && ctx.deadline?.passed("frames")) {
      partial = `stopped after ${newestFirst.length} frames: the time was up (--timeout); ` +
        "the oldest frames are missing";
      break;
    }
    seen.add(address);
    let f: StructView;
    try {
      f = readStruct(ctx.mem, address, layout);
    } catch (e) {
      rethrowFatal(e);
      partial = `frame at ${hex(address)} is unreadable`;
      break;
    }
    const back = f.ptr("back");
    if (rt.shimOwners.length > 0 && rt.shimOwners.includes(f.int("owner"))) {
      // A C-stack shim: the frame just newer than it was entered from C.
      anchor ??= address;
      if (newerIsEntryCandidate !== undefined) newerIsEntryCandidate.isEntry = true;
      newerIsEntryCandidate = undefined;
      address = back;
      continue;
    }
    const codeAddress = f.ptr("code") & rt.stackRefMask;
    if (rt.checkExecutable && codeAddress === 0n) {
      // Every 3.13+ frame, entry frames too, points at an object (None at least): an empty
      // one is memory a core lacks (gdb 13's gcore writes some thread stacks as zeros).
      partial = `frame at ${hex(address)} is empty (its memory may be missing)`;
      break;
    }
    if (rt.checkExecutable && !isCode(ctx, codeAddress)) {
      newerIsEntryCandidate = undefined;
      address = back;
      continue;
    }
    let frame = frameFrom(ctx, f, address, codeAddress);
    if (frame === undefined) {
      unread++;
      frame = unreadFrame(rt, f, address, codeAddress);
    }
    newestFirst.push(frame);
    newerIsEntryCandidate = newestFirst[newestFirst.length - 1];
    address = back;
  }
  const walk: FrameWalk = { frames: newestFirst.reverse() };
  // Frames whose code object could not be read show as `???`: said, not left to be guessed.
  if (unread > 0) {
    const what = `${unread} of ${walk.frames.length} frames' code objects are unreadable ` +
      "(shown as ???)";
    partial = partial === undefined ? what : `${partial}; ${what}`;
  }
  if (partial !== undefined) walk.partial = partial;
  if (anchor !== undefined) walk.anchor = anchor;
  return walk;
}

function isCode(ctx: FrameContext, address: bigint): boolean {
  try {
    return ctx.types.ofObject(address).name === "code";
  } catch (e) {
    rethrowFatal(e);
    return false;
  }
}

/** Whether the frame was entered from C (by the rule of the runtime). */
function isEntryFrame(rt: FrameContext["rt"], f: StructView): boolean {
  return rt.entryRule === "every" || (rt.entryRule === "is_entry" && f.int("is_entry") !== 0);
}

/** The frame, or undefined when its code object (or its location in it) cannot be read. */
function frameFrom(
  ctx: FrameContext,
  f: StructView,
  address: bigint,
  codeAddress: bigint,
): PyFrame | undefined {
  try {
    const code = ctx.codes.read(codeAddress);
    const location = ctx.codes.locate(
      code,
      f.has("lasti")
        ? { lasti: f.int("lasti") }
        : f.has("tlbc_index")
        ? { instr: f.ptr("instr"), copy: f.int("tlbc_index") }
        : { instr: f.ptr("instr") },
    );
    return {
      file: code.file,
      function: code.name,
      location,
      isEntry: isEntryFrame(ctx.rt, f),
      frameAddress: address,
      codeAddress,
    };
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/** A frame whose code object cannot be read: `???`, line 0. */
function unreadFrame(
  rt: FrameContext["rt"],
  f: StructView,
  address: bigint,
  codeAddress: bigint,
): PyFrame {
  return {
    file: "???",
    function: "???",
    location: { line: 0, endLine: 0, column: -1, endColumn: -1 },
    isEntry: isEntryFrame(rt, f),
    frameAddress: address,
    codeAddress,
  };
}
