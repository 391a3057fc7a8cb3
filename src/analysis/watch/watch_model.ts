/**
 * `pystack watch` as plain data: the samples taken, and what they say about
 * each thread.
 *
 * @module
 */

import type { NativeFrame, PyFrame, PyThread } from "../../model.ts";
import type { TaskCounters } from "../../process/task_counters.ts";

/** What one sample keeps of a thread. */
export type SampledThread = Pick<PyThread, "tid" | "name" | "frames" | "native" | "partial">;

/** One snapshot of the process. */
export interface WatchSample {
  /** Milliseconds from the start of sampling to the start of this snapshot. */
  atMs: number;
  /** How long the target was paused for it (0 with `--no-block`). */
  pausedMs: number;
  /**
   * How many times the target was paused for it (a snapshot may take a few short pauses; 1
   * when unset, 0 with `--no-block`).
   */
  pauses?: number;
  threads: SampledThread[];
  /** Every thread's counters, read right after the snapshot (the target running again). */
  counters: ReadonlyMap<number, TaskCounters>;
  /** When `counters` were read, in milliseconds from the start of sampling. */
  countersAtMs: number;
}

/** What the sampling loop hands to {@linkcode summarizeWatch}. */
export interface WatchRecord {
  pid: number;
  pythonVersion: string;
  /** The target was paused for each sample (not `--no-block`). */
  blocking: boolean;
  /** Every thread's counters before the first sample, read at time 0. */
  baseline: ReadonlyMap<number, TaskCounters>;
  samples: WatchSample[];
  /** Milliseconds from the start of sampling to the end. */
  durationMs: number;
  /** Asked interval between samples. */
  intervalMs: number;
  /** Why sampling ended before it was due to (Ctrl-C, the process exited), if it did. */
  endedEarly?: string;
  /** Samples that failed after the first and were left out, if any. */
  failedSamples?: FailedSamples;
  clockTicksPerSecond: number;
}

/** Samples that failed (the process still running) and were left out of a watch. */
export interface FailedSamples {
  count: number;
  /** The error of the first of them. */
  firstError: string;
}

/** One distinct stack of a thread and how often it was seen. */
export interface StackShare {
  count: number;
  /** `count` over the samples the thread was seen in, 0 to 1. */
  share: number;
  frames: PyFrame[];
  native?: NativeFrame[];
}

/**
 * `stuck`: see {@linkcode STUCK_RULE}; `progressing`: not stuck;
 * `unknown`: fewer than 2 samples, or its counters could not be read.
 */
export type Verdict = "stuck" | "progressing" | "unknown";

/** What the samples say about one thread. */
export interface WatchedThread {
  tid: number;
  name?: string;
  verdict: Verdict;
  /** Why, in a few words. */
  reason: string;
  /** Samples it was seen in. */
  samples: number;
  /** CPU time used over the window it was watched, as a percentage of that window. */
  cpuPercent?: number;
  /** The scheduler state read most often after the samples (`R`, `S`, `D`, …). */
  state?: string;
  /** Voluntary context switches beyond those pystack's pauses cause: how often it woke up. */
  wakeups?: number;
  /** Every distinct stack, most frequent first. */
  stacks: StackShare[];
}

/** The result of a watch. */
export interface WatchSummary {
  pid: number;
  pythonVersion: string;
  blocking: boolean;
  samples: number;
  durationMs: number;
  intervalMs: number;
  /** Total time the target was paused. */
  pausedMs: number;
  endedEarly?: string;
  failedSamples?: FailedSamples;
  /** Newest first, as in the last sample; threads that ended last. */
  threads: WatchedThread[];
}

/** The most CPU a stuck thread may use, as a share of the window. */
export const STUCK_MAX_CPU_SHARE = 0.02;
/** The most wake-ups a stuck thread may have. */
export const STUCK_MAX_WAKEUPS = 1;
/**
 * Voluntary context switches one pause causes in a thread that waits: it is
 * woken to stop, and waits again once released (measured, every interpreter).
 */
export const SWITCHES_PER_PAUSE = 2;

/** The rule, as README and `--help` state it. */
export const STUCK_RULE = "stuck: the same Python stack (file, function and line of every frame) " +
  "in every sample (2 or more), at most 2% CPU over the window, and at most 1 wake-up " +
  "(voluntary context switches beyond the 2 each pause causes)";

/** At most this many samples, whatever the options say. */
export const MAX_SAMPLES = 100_000;
