import assert from "node:assert/strict";
import type { PyFrame } from "../model.ts";
import type { WatchedThread, WatchSummary } from "../analysis/watch/watch_model.ts";
import { STUCK_RULE } from "../analysis/watch/watch_model.ts";
import { renderWatchText } from "./watch_text.ts";
import { renderCollapsed, renderSpeedscope } from "./flame_formats.ts";

function frame(fn: string, line: number): PyFrame {
  return {
    file: "/app/w.py",
    function: fn,
    location: { line, endLine: line, column: -1, endColumn: -1 },
    isEntry: false,
    frameAddress: 1n,
    codeAddress: 2n,
  };
}

function stuck(tid: number, name: string): WatchedThread {
  return {
    tid,
    name,
    verdict: "stuck",
    reason: "the same stack in all 4 samples, 0% CPU, no wake-ups",
    samples: 4,
    cpuPercent: 0,
    state: "S",
    wakeups: 0,
    stacks: [{ count: 4, share: 1, frames: [frame("run", 3), frame("wait", 9)] }],
  };
}

const BUSY: WatchedThread = {
  tid: 7,
  name: "busy",
  verdict: "progressing",
  reason: "7 different Python stacks",
  samples: 4,
  cpuPercent: 97.5,
  state: "R",
  wakeups: 0,
  stacks: [1, 2, 3, 4, 5, 6, 7].map((i) => ({
    count: i === 1 ? 2 : 1,
    share: i === 1 ? 0.5 : 0.25,
    frames: [frame("run", 3), frame(`f${i}`, 10 + i)],
  })),
};

const SUMMARY: WatchSummary = {
  pid: 7,
  pythonVersion: "3.12.1",
  blocking: true,
  samples: 4,
  durationMs: 400,
  intervalMs: 100,
  pausedMs: 8,
  threads: [stuck(8, "w-1"), BUSY, stuck(9, "w-2")],
};

Deno.test("renderWatchText() shows the most common stack in full and five in all", () => {
  assert.deepEqual(renderWatchText(SUMMARY, { color: false }), [
    "Watched process 7 (Python 3.12.1): 4 samples in 0.40 s, 100 ms apart; paused 2.0% of the time",
    `(${STUCK_RULE})`,
    "",
    "Thread 8 (w-1): STUCK (the same stack in all 4 samples, 0% CPU, no wake-ups)",
    "  state S, CPU 0%, seen in 4 of 4 samples",
    "  100% (4 samples):",
    '    (Python) File "/app/w.py", line 3, in run',
    '    (Python) File "/app/w.py", line 9, in wait',
    "",
    "Thread 7 (busy): progressing (7 different Python stacks)",
    "  state R, CPU 97.5%, seen in 4 of 4 samples",
    "  50% (2 samples):",
    '    (Python) File "/app/w.py", line 3, in run',
    '    (Python) File "/app/w.py", line 11, in f1',
    "  25% (1 sample): in f2 (/app/w.py:12)",
    "  25% (1 sample): in f3 (/app/w.py:13)",
    "  25% (1 sample): in f4 (/app/w.py:14)",
    "  25% (1 sample): in f5 (/app/w.py:15)",
    "  … 2 more stacks",
    "",
    "Thread 9 (w-2): STUCK (the same stack in all 4 samples, 0% CPU, no wake-ups)",
    "  state S, CPU 0%, seen in 4 of 4 samples",
    "  100% (4 samples):",
    '    (Python) File "/app/w.py", line 3, in run',
    '    (Python) File "/app/w.py", line 9, in wait',
  ]);
});

Deno.test("renderWatchText() says how many samples failed and were left out", () => {
  const failedSamples = { count: 2, firstError: "Cannot inspect process 7: it is gone" };
  assert.deepEqual(renderWatchText({ ...SUMMARY, failedSamples }, { color: false }).slice(0, 3), [
    "Watched process 7 (Python 3.12.1): 4 samples in 0.40 s, 100 ms apart; paused 2.0% of the time",
    "2 samples failed and were left out (the first: Cannot inspect process 7: it is gone)",
    `(${STUCK_RULE})`,
  ]);
});

Deno.test("renderWatchText() with group prints matching threads once", () => {
  const lines = renderWatchText(SUMMARY, { color: false, group: true });
  assert.deepEqual(lines.filter((l) => /^(Thread|\d+ threads)/.test(l)), [
    "2 threads: 8 (w-1), 9 (w-2): STUCK (the same stack in all 4 samples, 0% CPU, no wake-ups)",
    "Thread 7 (busy): progressing (7 different Python stacks)",
  ]);
});

Deno.test("renderCollapsed() writes one line per stack whose counts add up", () => {
  const lines = renderCollapsed([SUMMARY]);
  assert.equal(lines[0], "thread 8 (w-1);run (/app/w.py:3);wait (/app/w.py:9) 4");
  assert.equal(lines.length, 9);
  const busy = lines.filter((l) => l.startsWith("thread 7 (busy);"));
  assert.equal(busy.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0), 8);
  const two = renderCollapsed([SUMMARY, { ...SUMMARY, pid: 70 }]);
  assert.equal(two[9], "process 70;thread 8 (w-1);run (/app/w.py:3);wait (/app/w.py:9) 4");
});

Deno.test("renderSpeedscope() shares frames between profiles", () => {
  const doc = JSON.parse(renderSpeedscope([SUMMARY])[0]!);
  assert.equal(doc.$schema, "https://www.speedscope.app/file-format-schema.json");
  assert.deepEqual(doc.profiles.map((p: { name: string }) => p.name), [
    "thread 8 (w-1)",
    "thread 7 (busy)",
    "thread 9 (w-2)",
  ]);
  assert.deepEqual(doc.profiles[0].samples, [[0, 1]]);
  assert.deepEqual(doc.profiles[2].samples, [[0, 1]]);
  assert.deepEqual(doc.profiles[0].weights, [4]);
  assert.equal(doc.shared.frames.length, 2 + 7);
  assert.deepEqual(doc.shared.frames[1], {
    name: "wait (/app/w.py:9)",
    file: "/app/w.py",
    line: 9,
  });
});
