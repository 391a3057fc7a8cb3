/**
 * The sampling loop of `pystack watch`: snapshots of one process, in this
 * process, each one paused only for its own walk, with every thread's `/proc`
 * counters read around them.
 *
 * @module
 */

import { inspectProcessAsync } from "../../inspect_process.ts";
import { ProcessNotFoundError, TargetExitedError } from "../../errors.ts";
import { listTids, processState } from "../../process/tasks.ts";
import { CLOCK_TICKS_PER_SECOND, readCounters } from "../../process/task_counters.ts";
import type { NativeMode } from "../../native/merge.ts";
import { MAX_SAMPLES, type WatchRecord, type WatchSample } from "./watch_model.ts";

/** Options of {@linkcode watchProcess}. */
export interface WatchOptions {
  /** Stop after this long (ms), unless `samples` comes first. */
  durationMs?: number;
  /** Stop after this many samples. */
  samples?: number;
  /** Milliseconds from the end of one sample to the start of the next. */
  intervalMs: number;
  /** Pause the target for each sample (default true). */
  block?: boolean;
  native?: NativeMode;
  /** Polled between samples: true ends sampling early (Ctrl-C). */
  stopRequested?: () => string | undefined;
  /** Called after every sample. */
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
  const block = options.block ?? true;
  const maxSamples = Math.min(options.samples ?? MAX_SAMPLES, MAX_SAMPLES);
  const durationMs = options.durationMs ?? (options.samples === undefined ? 5000 : Infinity);
  const start = performance.now();
  const now = () => performance.now() - start;
  const baseline = readCounters(pid, listTids(pid));
  const samples: WatchSample[] = [];
  const seen = new Set<number>();
  let pythonVersion = "unknown";
  let endedEarly: string | undefined;
  while (samples.length < maxSamples && now() < durationMs) {
    const atMs = now();
    let pausedMs = 0;
    let report;
    try {
      report = await inspectProcessAsync(pid, {
        block,
        ...(options.native === undefined ? {} : { native: options.native, nativeLines: "shown" }),
        log: (message) => {
          const paused = /^target paused for ([\d.]+) ms$/.exec(message);
          if (paused !== null) pausedMs = Number(paused[1]);
        },
      });
    } catch (e) {
      // A process that exits while being read can fail in many ways (its maps already empty,
      // its memory gone): once it has gone, any failure after the first sample means that.
      const gone = e instanceof TargetExitedError || e instanceof ProcessNotFoundError ||
        processGone(pid);
      if (!gone || samples.length === 0) throw e;
      endedEarly = `the process exited after ${samples.length} samples`;
      break;
    }
    pythonVersion = report.pythonVersion;
    const countersAtMs = now();
    const counters = readCounters(pid, report.threads.map((t) => t.tid).filter((t) => t !== 0));
    samples.push({
      atMs,
      pausedMs,
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
    for (const t of report.threads) seen.add(t.tid);
    options.onSample?.({ samples: samples.length, elapsedMs: now(), threads: seen.size });
    const stop = options.stopRequested?.();
    if (stop !== undefined) {
      endedEarly = stop;
      break;
    }
    if (samples.length >= maxSamples) break;
    const wait = Math.min(options.intervalMs, durationMs - now());
    // Always yield to the event loop, so that a Ctrl-C listener runs even at --interval 0.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    const late = options.stopRequested?.();
    if (late !== undefined) {
      endedEarly = late;
      break;
    }
  }
  return {
    pid,
    pythonVersion,
    blocking: block,
    baseline,
    samples,
    durationMs: now(),
    intervalMs: options.intervalMs,
    ...(endedEarly === undefined ? {} : { endedEarly }),
    clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
  };
}

/** Whether `pid` has exited (gone, or a zombie). */
function processGone(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === "Z" || state === "X";
}
