/**
 * The sampling loop of `pystack watch`: snapshots of one process (or of
 * several, in turn, for `--subprocesses`), in this process, each target
 * paused only for its own walk, with every thread's `/proc` counters read
 * after each snapshot.
 *
 * @module
 */

import { inspectProcessAsync } from "../../inspect_process.ts";
import { ProcessNotFoundError, TargetExitedError } from "../../errors.ts";
import { listTids, processState } from "../../process/tasks.ts";
import { CLOCK_TICKS_PER_SECOND, readCounters } from "../../process/task_counters.ts";
import type { NativeMode } from "../../native/merge.ts";
import {
  type FailedSamples,
  MAX_SAMPLES,
  type WatchRecord,
  type WatchSample,
} from "./watch_model.ts";

/** Options of {@linkcode watchProcess}. */
export interface WatchOptions {
  /** Stop after this long (ms), unless `samples` comes first. */
  durationMs?: number;
  /** Stop after this many samples (of each process). */
  samples?: number;
  /** Milliseconds from the end of one round of samples to the start of the next. */
  intervalMs: number;
  /** Pause the target for each sample (default true). */
  block?: boolean;
  native?: NativeMode;
  /** Polled between samples: a reason ends sampling early (Ctrl-C, `--timeout`). */
  stopRequested?: () => string | undefined;
  /** `--timeout`: the wait between samples ends no later than this many ms from now. */
  waitAtMostMs?: () => number;
  /** Called after every round. */
  onSample?: (progress: { samples: number; elapsedMs: number; threads: number }) => void;
}

/**
 * Samples `pid` until the duration or sample count is reached (5 s when
 * neither is given), or until `stopRequested` answers. The target is released
 * after every sample and never held between them. A target that exits after
 * the first sample ends sampling (noted in `endedEarly`); before, the error
 * is thrown.
 */
export async function watchProcess(pid: number, options: WatchOptions): Promise<WatchRecord> {
  const [record] = await watchProcesses([pid], options);
  if (record instanceof Error) throw record;
  return record!;
}

/** One process being sampled. */
class Watched {
  readonly samples: WatchSample[] = [];
  readonly seen = new Set<number>();
  /** The pages the last sample's stacks were read from, copied first in the next. */
  readonly snapshotPages: { pages?: ReadonlySet<bigint> } = {};
  readonly baseline;
  pythonVersion = "unknown";
  endedEarly: string | undefined;
  error: Error | undefined;
  failedSamples: FailedSamples | undefined;

  constructor(readonly pid: number) {
    let tids: number[] = [];
    try {
      tids = listTids(pid);
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
    }
    this.baseline = readCounters(pid, tids);
  }

  get active(): boolean {
    return this.endedEarly === undefined && this.error === undefined;
  }
}

/**
 * {@linkcode watchProcess} over several processes, sampled in turn (each
 * paused only for its own snapshot). The result has, per pid, its record or
 * the error that kept it from being sampled at all.
 */
export async function watchProcesses(
  pids: readonly number[],
  options: WatchOptions,
): Promise<(WatchRecord | Error)[]> {
  const block = options.block ?? true;
  const maxSamples = Math.min(options.samples ?? MAX_SAMPLES, MAX_SAMPLES);
  const durationMs = options.durationMs ?? (options.samples === undefined ? 5000 : Infinity);
  const start = performance.now();
  const now = () => performance.now() - start;
  const watched = pids.map((pid) => new Watched(pid));
  let rounds = 0;
  let stopped: string | undefined;
  while (rounds < maxSamples && now() < durationMs && watched.some((w) => w.active)) {
    for (const w of watched) {
      if (w.active) await sampleOnce(w, { block, native: options.native, now });
    }
    rounds++;
    options.onSample?.({
      samples: rounds,
      elapsedMs: now(),
      threads: watched.reduce((sum, w) => sum + w.seen.size, 0),
    });
    stopped = options.stopRequested?.();
    if (stopped !== undefined || rounds >= maxSamples) break;
    const wait = Math.min(
      options.intervalMs,
      durationMs - now(),
      options.waitAtMostMs?.() ?? Infinity,
    );
    // Always yield to the event loop, so that a Ctrl-C listener runs even at --interval 0.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    stopped = options.stopRequested?.();
    if (stopped !== undefined) break;
  }
  const durationSeen = now();
  return watched.map((w) => {
    if (w.error !== undefined) return w.error;
    const endedEarly = w.endedEarly ?? stopped;
    return {
      pid: w.pid,
      pythonVersion: w.pythonVersion,
      blocking: block,
      baseline: w.baseline,
      samples: w.samples,
      durationMs: durationSeen,
      intervalMs: options.intervalMs,
      ...(endedEarly === undefined ? {} : { endedEarly }),
      ...(w.failedSamples === undefined ? {} : { failedSamples: w.failedSamples }),
      clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
    };
  });
}

async function sampleOnce(
  w: Watched,
  options: { block: boolean; native: NativeMode | undefined; now: () => number },
): Promise<void> {
  const atMs = options.now();
  let pausedMs = 0;
  let pauses = 0;
  let report;
  try {
    report = await inspectProcessAsync(w.pid, {
      block: options.block,
      snapshotPages: w.snapshotPages,
      ...(options.native === undefined ? {} : { native: options.native, nativeLines: "shown" }),
      onPauses: (each) => {
        pausedMs = each.reduce((a, b) => a + b, 0);
        pauses = each.length;
      },
    });
  } catch (e) {
    // A process that exits while being read can fail in many ways (its maps already empty,
    // its memory gone): once it has gone, any failure after the first sample means that.
    const gone = e instanceof TargetExitedError || e instanceof ProcessNotFoundError ||
      processGone(w.pid);
    if (w.samples.length === 0) {
      w.error = e instanceof Error ? e : new Error(String(e));
    } else if (gone) {
      w.endedEarly = `the process exited after ${w.samples.length} samples`;
    } else {
      // One failed sample of a process that runs on loses none of the others: it is left
      // out, and counted.
      w.failedSamples ??= { count: 0, firstError: e instanceof Error ? e.message : String(e) };
      w.failedSamples.count++;
    }
    return;
  }
  w.pythonVersion = report.pythonVersion;
  const countersAtMs = options.now();
  const counters = readCounters(w.pid, report.threads.map((t) => t.tid).filter((t) => t !== 0));
  w.samples.push({
    atMs,
    pausedMs,
    pauses,
    threads: report.threads.map(({ tid, name, frames, native, partial }) => ({
      tid,
      frames,
      ...(name === undefined ? {} : { name }),
      ...(native === undefined ? {} : { native }),
      ...(partial === undefined ? {} : { partial }),
    })),
    counters,
    countersAtMs,
  });
  for (const t of report.threads) w.seen.add(t.tid);
}

/** Whether `pid` has exited (gone, or a zombie). */
function processGone(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === "Z" || state === "X";
}
