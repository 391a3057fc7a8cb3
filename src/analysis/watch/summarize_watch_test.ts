import assert from "node:assert/strict";
import type { PyFrame } from "../../model.ts";
import type { TaskCounters } from "../../process/task_counters.ts";
import { summarizeWatch } from "./summarize_watch.ts";
import type { SampledThread, WatchRecord, WatchSample } from "./watch_model.ts";

function frame(fn: string, line: number): PyFrame {
  return {
    file: "/app/x.py",
    function: fn,
    location: { line, endLine: line, column: -1, endColumn: -1 },
    isEntry: false,
    frameAddress: 0x10n,
    codeAddress: 0x20n,
  };
}

const WAIT = [frame("main", 3), frame("wait", 9)];
const NAP = [frame("main", 3), frame("nap", 20)];

/** `n` samples 100 ms apart; `threadsAt(i)` and `countersAt(i)` say what sample i saw. */
function record(
  n: number,
  threadsAt: (i: number) => SampledThread[],
  countersAt: (i: number) => Map<number, TaskCounters>,
  blocking = true,
): WatchRecord {
  const samples: WatchSample[] = [];
  for (let i = 0; i < n; i++) {
    samples.push({
      atMs: i * 100,
      pausedMs: 1,
      threads: threadsAt(i),
      counters: countersAt(i + 1),
      countersAtMs: i * 100 + 100,
    });
  }
  return {
    pid: 1,
    pythonVersion: "3.12.1",
    blocking,
    baseline: countersAt(0),
    samples,
    durationMs: n * 100,
    intervalMs: 100,
    clockTicksPerSecond: 100,
  };
}

/** Counters of reading `r` (0 = baseline): cpu ticks and switches growing per reading. */
function grow(tid: number, ticksPer: number, switchesPer: number, state = "S") {
  return (r: number) =>
    [tid, { state, cpuTicks: 50 + ticksPer * r, voluntarySwitches: 7 + switchesPer * r }] as const;
}

Deno.test("summarizeWatch() flags a thread that never moved, woke or ran as stuck", () => {
  const blocked = grow(11, 0, 2);
  const summary = summarizeWatch(
    record(20, () => [{ tid: 11, name: "blocked", frames: WAIT }], (r) => new Map([blocked(r)])),
  );
  const [t] = summary.threads;
  assert.equal(t!.verdict, "stuck");
  assert.equal(t!.reason, "the same stack in all 20 samples, 0% CPU, no wake-ups");
  assert.equal(t!.cpuPercent, 0);
  assert.equal(t!.wakeups, 0);
  assert.equal(t!.state, "S");
  assert.deepEqual(t!.stacks.map((s) => [s.count, s.share]), [[20, 1]]);
  assert.equal(summary.pausedMs, 20);
});

Deno.test("summarizeWatch() discounts the switches of every pause a sample took", () => {
  // Samples alternately took 1 and 3 short pauses (a snapshot taken again): 2 switches each.
  const blocked = (r: number) =>
    [16, {
      state: "S",
      cpuTicks: 50,
      voluntarySwitches: 7 + 2 * (r + 2 * Math.floor(r / 2)),
    }] as const;
  const rec = record(10, () => [{ tid: 16, frames: WAIT }], (r) => new Map([blocked(r)]));
  rec.samples.forEach((s, i) => s.pauses = i % 2 === 0 ? 1 : 3);
  const t = summarizeWatch(rec).threads[0]!;
  assert.equal(t.wakeups, 0);
  assert.equal(t.verdict, "stuck");
  // Counted as one pause a sample, the extra pauses' switches would be wake-ups.
  rec.samples.forEach((s) => delete s.pauses);
  assert.equal(summarizeWatch(rec).threads[0]!.wakeups, 20);
});

Deno.test("summarizeWatch() sees a thread that sleeps in a loop waking up", () => {
  // Two pause switches per sample, plus two naps of 50 ms per 100 ms.
  const napper = grow(12, 0, 4);
  const summary = summarizeWatch(
    record(20, () => [{ tid: 12, frames: NAP }], (r) => new Map([napper(r)])),
  );
  assert.equal(summary.threads[0]!.verdict, "progressing");
  assert.equal(summary.threads[0]!.wakeups, 40);
  assert.equal(summary.threads[0]!.reason, "the same stack, but it woke up 40 times");
});

Deno.test("summarizeWatch() without pauses counts every switch as a wake-up", () => {
  const quiet = grow(13, 0, 0);
  const stuck = summarizeWatch(
    record(5, () => [{ tid: 13, frames: WAIT }], (r) => new Map([quiet(r)]), false),
  );
  assert.equal(stuck.threads[0]!.verdict, "stuck");
  const twice = grow(13, 0, 2);
  const woke = summarizeWatch(
    record(5, () => [{ tid: 13, frames: WAIT }], (r) => new Map([twice(r)]), false),
  );
  assert.equal(woke.threads[0]!.verdict, "progressing");
  assert.equal(woke.threads[0]!.wakeups, 10);
});

Deno.test("summarizeWatch() calls a thread using CPU at the same line progressing", () => {
  // 3 ticks per 100 ms: 30% CPU.
  const spinning = grow(14, 3, 2, "R");
  const t = summarizeWatch(
    record(10, () => [{ tid: 14, frames: WAIT }], (r) => new Map([spinning(r)])),
  ).threads[0]!;
  assert.equal(t.verdict, "progressing");
  assert.equal(t.cpuPercent, 30);
  assert.equal(t.state, "R");
  assert.equal(t.reason, "the same stack, but 30% CPU");
});

Deno.test("summarizeWatch() orders distinct stacks by share", () => {
  const busy = grow(15, 10, 0, "R");
  const t = summarizeWatch(
    record(
      4,
      (i) => [{ tid: 15, frames: i === 2 ? NAP : WAIT }],
      (r) => new Map([busy(r)]),
    ),
  ).threads[0]!;
  assert.equal(t.verdict, "progressing");
  assert.equal(t.reason, "2 different Python stacks");
  assert.deepEqual(
    t.stacks.map((s) => [s.frames.at(-1)!.function, s.count, s.share]),
    [["wait", 3, 0.75], ["nap", 1, 0.25]],
  );
  assert.equal(t.cpuPercent, 100);
});

Deno.test("summarizeWatch() never calls a thread that came or went stuck", () => {
  const quiet = (tid: number) => grow(tid, 0, 2);
  const summary = summarizeWatch(
    record(
      6,
      (i) => [
        ...(i >= 2 ? [{ tid: 21, frames: WAIT }] : []),
        ...(i < 4 ? [{ tid: 22, frames: WAIT }] : []),
      ],
      (r) => new Map([...(r >= 3 ? [quiet(21)(r)] : []), ...(r <= 4 ? [quiet(22)(r)] : [])]),
    ),
  );
  assert.deepEqual(
    summary.threads.map((t) => [t.tid, t.verdict, t.reason, t.samples]),
    [
      [21, "progressing", "it started during the watch", 4],
      [22, "progressing", "it ended during the watch", 4],
    ],
  );
});

Deno.test("summarizeWatch() says unknown with fewer than 2 samples", () => {
  const quiet = grow(31, 0, 2);
  const t = summarizeWatch(
    record(1, () => [{ tid: 31, frames: WAIT }], (r) => new Map([quiet(r)])),
  ).threads[0]!;
  assert.equal(t.verdict, "unknown");
  assert.equal(t.reason, "only 1 sample taken");
});

Deno.test("summarizeWatch() says unknown when the counters could not be read", () => {
  const t = summarizeWatch(
    record(3, () => [{ tid: 32, frames: WAIT }], () => new Map()),
  ).threads[0]!;
  assert.equal(t.verdict, "progressing");
  assert.equal(t.reason, "it started during the watch");
  const partial = summarizeWatch(
    record(
      3,
      () => [{ tid: 33, frames: WAIT }],
      (r) => r === 0 ? new Map([grow(33, 0, 0)(0)]) : new Map(),
    ),
  ).threads[0]!;
  assert.equal(partial.verdict, "unknown");
  assert.equal(partial.cpuPercent, undefined);
});
