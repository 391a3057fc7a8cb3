/**
 * What a series of samples says about each thread: stuck or progressing,
 * CPU share, state, distinct stacks. Pure: it takes the samples as data.
 *
 * @module
 */

import type { TaskCounters } from "../../process/task_counters.ts";
import { pythonStackKey, stackKey } from "../stack_key.ts";
import {
  type SampledThread,
  type StackShare,
  STUCK_MAX_CPU_SHARE,
  STUCK_MAX_WAKEUPS,
  SWITCHES_PER_PAUSE,
  type Verdict,
  type WatchedThread,
  type WatchRecord,
  type WatchSummary,
} from "./watch_model.ts";

/** A reading of a thread's counters, with when it was taken and how many pauses came before. */
interface Reading {
  counters: TaskCounters;
  atMs: number;
  pausesBefore: number;
}

/**
 * Summarises `record` thread by thread (see `STUCK_RULE` for the rule).
 *
 * @example A thread that never moved
 * ```ts
 * import { summarizeWatch } from "./summarize_watch.ts";
 * import assert from "node:assert/strict";
 *
 * const frames = [{
 *   file: "/app.py", function: "wait", isEntry: true, frameAddress: 1n, codeAddress: 2n,
 *   location: { line: 9, endLine: 9, column: -1, endColumn: -1 },
 * }];
 * const idle = { state: "S", cpuTicks: 5, voluntarySwitches: 3 };
 * const sample = (atMs: number) => ({
 *   atMs, pausedMs: 1, countersAtMs: atMs + 2,
 *   threads: [{ tid: 7, frames }],
 *   counters: new Map([[7, { ...idle, voluntarySwitches: 3 + 2 * (atMs / 100 + 1) }]]),
 * });
 * const summary = summarizeWatch({
 *   pid: 7, pythonVersion: "3.12.1", blocking: true, baseline: new Map([[7, idle]]),
 *   samples: [sample(0), sample(100)], durationMs: 200, intervalMs: 100, clockTicksPerSecond: 100,
 * });
 * assert.equal(summary.threads[0]!.verdict, "stuck");
 * ```
 */
export function summarizeWatch(record: WatchRecord): WatchSummary {
  const { samples } = record;
  const order: number[] = [];
  const seen = new Set<number>();
  // Newest first as in the last sample, then threads that ended (latest seen first).
  for (let i = samples.length - 1; i >= 0; i--) {
    for (const t of samples[i]!.threads) {
      if (t.tid === 0 || seen.has(t.tid)) continue;
      seen.add(t.tid);
      order.push(t.tid);
    }
  }
  const threads = order.map((tid) => watchThread(record, tid));
  const summary: WatchSummary = {
    pid: record.pid,
    pythonVersion: record.pythonVersion,
    blocking: record.blocking,
    samples: samples.length,
    durationMs: record.durationMs,
    intervalMs: record.intervalMs,
    pausedMs: samples.reduce((sum, s) => sum + s.pausedMs, 0),
    threads,
  };
  if (record.endedEarly !== undefined) summary.endedEarly = record.endedEarly;
  if (record.failedSamples !== undefined) summary.failedSamples = record.failedSamples;
  return summary;
}

function watchThread(record: WatchRecord, tid: number): WatchedThread {
  const { samples } = record;
  const seenIn: SampledThread[] = [];
  const readings: Reading[] = [];
  const base = record.baseline.get(tid);
  if (base !== undefined) readings.push({ counters: base, atMs: 0, pausesBefore: 0 });
  let pausesBefore = 0;
  samples.forEach((sample) => {
    pausesBefore += sample.pauses ?? 1;
    const thread = sample.threads.find((t) => t.tid === tid);
    if (thread !== undefined) seenIn.push(thread);
    const counters = sample.counters.get(tid);
    if (counters !== undefined) {
      readings.push({ counters, atMs: sample.countersAtMs, pausesBefore });
    }
  });
  const stacks = distinctStacks(seenIn);
  const out: WatchedThread = {
    tid,
    verdict: "unknown",
    reason: "",
    samples: seenIn.length,
    stacks,
  };
  const name = seenIn.findLast((t) => t.name !== undefined)?.name;
  if (name !== undefined) out.name = name;
  const state = mostCommonState(readings);
  if (state !== undefined) out.state = state;
  const first = readings[0];
  const last = readings.at(-1);
  let cpuShare: number | undefined;
  if (first !== undefined && last !== undefined && last.atMs > first.atMs) {
    const cpuSeconds = (last.counters.cpuTicks - first.counters.cpuTicks) /
      record.clockTicksPerSecond;
    cpuShare = Math.max(0, cpuSeconds / ((last.atMs - first.atMs) / 1000));
    out.cpuPercent = Math.round(cpuShare * 1000) / 10;
    const pauses = record.blocking ? last.pausesBefore - first.pausesBefore : 0;
    out.wakeups = Math.max(
      0,
      last.counters.voluntarySwitches - first.counters.voluntarySwitches -
        SWITCHES_PER_PAUSE * pauses,
    );
  }
  const [verdict, reason] = decide(record, out, seenIn, cpuShare, base !== undefined);
  out.verdict = verdict;
  out.reason = reason;
  return out;
}

function decide(
  record: WatchRecord,
  thread: WatchedThread,
  seenIn: SampledThread[],
  cpuShare: number | undefined,
  inBaseline: boolean,
): [Verdict, string] {
  const n = record.samples.length;
  if (n < 2) return ["unknown", `only ${n} sample${n === 1 ? "" : "s"} taken`];
  const inFirst = record.samples[0]!.threads.some((t) => t.tid === thread.tid);
  const inLast = record.samples[n - 1]!.threads.some((t) => t.tid === thread.tid);
  if (!inFirst || !inBaseline) return ["progressing", "it started during the watch"];
  if (!inLast) return ["progressing", "it ended during the watch"];
  if (seenIn.length < n) return ["progressing", `seen in ${seenIn.length} of ${n} samples`];
  const pythonStacks = new Set(seenIn.map((t) => pythonStackKey(t.frames))).size;
  if (pythonStacks > 1) return ["progressing", `${pythonStacks} different Python stacks`];
  if (cpuShare === undefined || thread.wakeups === undefined) {
    return ["unknown", "the same stack in every sample, but its CPU time could not be read"];
  }
  const percent = `${thread.cpuPercent}% CPU`;
  if (cpuShare > STUCK_MAX_CPU_SHARE) return ["progressing", `the same stack, but ${percent}`];
  if (thread.wakeups > STUCK_MAX_WAKEUPS) {
    return ["progressing", `the same stack, but it woke up ${thread.wakeups} times`];
  }
  return ["stuck", `the same stack in all ${n} samples, ${percent}, ${wakeText(thread.wakeups)}`];
}

function wakeText(wakeups: number): string {
  return wakeups === 0 ? "no wake-ups" : `${wakeups} wake-up${wakeups === 1 ? "" : "s"}`;
}

/** Distinct stacks (Python frames, plus native frames when sampled), most frequent first. */
function distinctStacks(seenIn: SampledThread[]): StackShare[] {
  const byKey = new Map<string, StackShare>();
  for (const t of seenIn) {
    const key = stackKey(t);
    const known = byKey.get(key);
    if (known !== undefined) {
      known.count++;
      continue;
    }
    const share: StackShare = { count: 1, share: 0, frames: t.frames };
    if (t.native !== undefined) share.native = t.native;
    byKey.set(key, share);
  }
  const stacks = [...byKey.values()];
  for (const s of stacks) s.share = s.count / seenIn.length;
  // Stable: equally frequent stacks keep the order they were first seen in.
  return stacks.sort((a, b) => b.count - a.count);
}

function mostCommonState(readings: Reading[]): string | undefined {
  const counts = new Map<string, number>();
  // The baseline is read before any pause; the readings after samples are what the thread does.
  for (const r of readings.length > 1 ? readings.slice(1) : readings) {
    counts.set(r.counters.state, (counts.get(r.counters.state) ?? 0) + 1);
  }
  let best: string | undefined;
  let bestCount = 0;
  for (const [state, count] of counts) {
    if (count > bestCount) [best, bestCount] = [state, count];
  }
  return best;
}
