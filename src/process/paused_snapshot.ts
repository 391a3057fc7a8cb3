/**
 * Reading a live target from memory copied in one short pause.
 *
 * A walk over the running target learns which pages a walk reads. Every
 * thread is then stopped only for as long as it takes to copy those pages in
 * a few batched reads (and to take what else the walk needs from the stopped
 * threads), and the walk runs again over the copy once the target runs on.
 * Everything it shows was read while the target was stopped: a walk that
 * needs a page the copy lacks (a thread went deeper meanwhile) is not used;
 * the target is paused again for a fresh copy of every page it touched, at
 * most {@linkcode MAX_SNAPSHOTS} times. A caller that reads the same process
 * again (`watch`) passes the pages of the last copy, and the first walk is
 * skipped.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { ProcessMemory } from "../memory/process_memory.ts";
import { RecordingMemory, SnapshotMemory } from "../memory/snapshot_memory.ts";
import { ProcessTracer } from "./tracer.ts";
import { rethrowFatal } from "../errors.ts";

/** Most pauses for one snapshot before the caller reads the usual way. */
export const MAX_SNAPSHOTS = 3;
/** Most pages copied in one pause (16 MiB); a walk that needs more reads the usual way. */
const MAX_SNAPSHOT_PAGES = 4096;

/** What {@linkcode readInSnapshot} runs. */
export interface SnapshotSteps<C, T> {
  /** What the walk needs besides memory, taken from the running target (first walk). */
  running(): C;
  /** The same taken from the stopped target (thread ids, registers); runs while it is paused. */
  paused(tracer: ProcessTracer): C;
  /** The walk: reads the target's memory only through `mem`. */
  walk(mem: MemoryReader, context: C): T;
}

/** What {@linkcode readInSnapshot} did. */
export interface Snapshot<C, T> {
  /**
   * The walk over one whole copy, and what {@linkcode SnapshotSteps.paused} took in the pause
   * it comes from; undefined when no copy was whole (see `plan`).
   */
  result?: { value: T; context: C };
  /** How long each pause lasted (ms), in order. */
  pausesMs: number[];
  /**
   * The pages to copy next time: those the walk over the copy touched when it was whole (pass
   * them to the next call on the same process), else every page the walks touched (for a
   * pause of the caller's own).
   */
  plan: Set<bigint>;
  /** Pages copied in the last pause, and the reads that copied them. */
  pages: number;
  reads: number;
  /** Set when the walk made a read too large (or too high) to note page by page: no copy. */
  oversizedRead?: true;
}

/**
 * Walks the target over memory copied in short pauses (see the module
 * comment). Without a `result` the walk needs too many pages, or still lacked
 * some after {@linkcode MAX_SNAPSHOTS} pauses. With `pages` (the `plan` of an
 * earlier call on the same process), those are copied first, without a walk
 * over the running target.
 */
export function readInSnapshot<C, T>(
  pid: number,
  mem: ProcessMemory,
  steps: SnapshotSteps<C, T>,
  pages?: ReadonlySet<bigint>,
): Snapshot<C, T> {
  const out: Snapshot<C, T> = { pausesMs: [], plan: new Set(pages), pages: 0, reads: 0 };
  if (out.plan.size === 0) {
    const recorder = new RecordingMemory(mem);
    try {
      steps.walk(recorder, steps.running());
    } catch (e) {
      rethrowFatal(e); // a running target may be caught mid-change: the pages read so far do
    }
    mem.clearCache();
    out.plan = recorder.pages;
    if (recorder.overflow) {
      out.oversizedRead = true;
      return out;
    }
  }
  for (let round = 0; round < MAX_SNAPSHOTS && out.plan.size <= MAX_SNAPSHOT_PAGES; round++) {
    const prepared = mem.preparePages(out.plan);
    const before = mem.syscalls;
    const tracer = ProcessTracer.stopAll(pid);
    let context: C;
    try {
      context = steps.paused(tracer);
      prepared.read();
    } finally {
      tracer.release();
    }
    out.pausesMs.push(performance.now() - tracer.stoppedAt);
    const pages = prepared.pages();
    out.pages = pages.size;
    out.reads = mem.syscalls - before;
    const copy = new SnapshotMemory(pages);
    let value: T | undefined;
    try {
      value = steps.walk(copy, context);
    } catch (e) {
      if (copy.missing.size === 0) throw e; // as a walk of the stopped target would have
    }
    if (copy.missing.size === 0) {
      out.result = { value: value!, context };
      out.plan = copy.touched;
      return out;
    }
    for (const page of copy.missing) out.plan.add(page);
  }
  return out;
}
