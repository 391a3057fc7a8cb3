import assert from "node:assert/strict";
import type { PyFrame, PyThread, StackReport } from "../model.ts";
import type { WatchSummary } from "../analysis/watch/watch_model.ts";
import { renderText } from "./text.ts";
import { renderGroupedText } from "./group_text.ts";
import { renderTreeText } from "./tree_text.ts";
import { renderJson } from "./json.ts";
import { renderWatchText } from "./watch_text.ts";
import { reportOf } from "./_test_report.ts";

// Deeper than any argument list V8 accepts in one call (`push(...lines)`).
const DEPTH = 200_000;
const PARTIAL = "stopped after 100000 frames";

function frames(withLocals: boolean): PyFrame[] {
  return Array.from({ length: DEPTH }, (_, i) => ({
    file: "/app/deep.py",
    function: i === 0 ? "<module>" : "f",
    location: { line: i === 0 ? 9 : 3, endLine: 3, column: -1, endColumn: -1 },
    isEntry: i === 0,
    frameAddress: BigInt(0x1000 + i),
    codeAddress: 0x2000n,
    ...(withLocals && i > 0
      ? { variables: [{ name: "n", value: String(i), argument: true }] }
      : {}),
  }));
}

function deepThread(tid: number, withLocals = false): PyThread {
  return {
    tid,
    name: "python3",
    threadStateAddress: 0x10n,
    interpreterId: 0,
    holdsGil: true,
    gcCollecting: false,
    partial: PARTIAL,
    frames: frames(withLocals),
  };
}

const HEADER = "Traceback for thread 7 (python3) [Has the GIL] (most recent call last):";
const FIRST = '    (Python) File "/app/deep.py", line 9, in <module>';
const INNER = '    (Python) File "/app/deep.py", line 3, in f';
const MARKER = `    (!) Stack may be incomplete: ${PARTIAL}`;

Deno.test("renderText() prints a stack 200,000 frames deep, then its partial marker", () => {
  const lines = renderText(reportOf([deepThread(7)]), { color: false });
  assert.equal(lines.length, DEPTH + 2);
  assert.deepEqual(lines.slice(0, 3), [HEADER, FIRST, INNER]);
  assert.deepEqual(lines.slice(-2), [INNER, MARKER]);
});

Deno.test("renderText() prints a deep stack with --locals and source lines", () => {
  const lines = renderText(reportOf([deepThread(7, true)]), {
    color: false,
    sourceLine: (_, line) => line === 3 ? "    return f(n - 1)" : "f(80000)",
  });
  // Per frame: location, source, and (but the oldest) "Arguments:" with one value.
  assert.equal(lines.length, 1 + 2 + (DEPTH - 1) * 4 + 1);
  assert.deepEqual(lines.slice(-5), [
    INNER,
    "        return f(n - 1)",
    "      Arguments:",
    `        n: ${DEPTH - 1}`,
    MARKER,
  ]);
});

Deno.test("renderText() merges a deep Python stack with native frames", () => {
  const thread = {
    ...deepThread(7),
    native: [
      { address: 1n, symbol: "main", library: "python3", inlined: false },
      {
        address: 2n,
        symbol: "_PyEval_EvalFrameDefault",
        library: "python3",
        inlined: false,
        role: "eval" as const,
      },
    ],
  };
  const lines = renderText(reportOf([thread]), { color: false, native: "python" });
  assert.equal(lines.length, 1 + 1 + DEPTH + 1);
  assert.deepEqual(lines.slice(1, 3), ['    (C) File "???", line 0, in main (python3)', FIRST]);
  assert.deepEqual(lines.slice(-1), [MARKER]);
});

Deno.test("renderText() prints a deep stack split between interpreters", () => {
  const thread: PyThread = {
    ...deepThread(7),
    interpreters: [
      {
        interpreterId: 0,
        threadStateAddress: 1n,
        holdsGil: false,
        gcCollecting: false,
        frameCount: 1,
      },
      {
        interpreterId: 1,
        threadStateAddress: 2n,
        holdsGil: true,
        gcCollecting: false,
        frameCount: DEPTH - 1,
      },
    ],
  };
  const lines = renderText(reportOf([thread]), { color: false });
  assert.equal(lines.length, 1 + 2 + DEPTH + 1);
  assert.deepEqual(lines.slice(0, 5), [
    "Traceback for thread 7 (python3) (most recent call last):",
    "  In the main interpreter []",
    FIRST,
    "  In interpreter 1 [Has the GIL]",
    INNER,
  ]);
  assert.deepEqual(lines.slice(-1), [MARKER]);
});

Deno.test("renderText() prints a deep suspended greenlet", () => {
  const r: StackReport = {
    ...reportOf([{ ...deepThread(7), frames: [] }]),
    greenlets: [{
      address: 0x99n,
      typeName: "greenlet.greenlet",
      tid: 7,
      frames: frames(false),
    }],
  };
  const lines = renderText(r, { color: false });
  assert.equal(lines.length, 3 + 1 + DEPTH);
  assert.deepEqual(lines.slice(-2), [INNER, INNER]);
});

Deno.test("renderGroupedText() prints deep stacks, alone and grouped", () => {
  const lines = renderGroupedText(reportOf([deepThread(7), deepThread(8), deepThread(9)]), {
    color: false,
  });
  assert.equal(lines.length, 1 + DEPTH + 1);
  assert.deepEqual(lines.slice(0, 2), ["3 threads: 7 (python3), 8 (python3), 9 (python3):", FIRST]);
  assert.deepEqual(lines.slice(-1), [MARKER]);
  const alone = renderGroupedText(reportOf([deepThread(7)]), { color: false });
  assert.equal(alone.length, DEPTH + 2);
});

Deno.test("renderTreeText() prints a process with a deep stack", () => {
  const outcomes = [{
    pid: 7,
    commandLine: "python3 deep.py",
    depth: 0,
    status: "read" as const,
    report: reportOf([deepThread(7)]),
  }];
  const lines = renderTreeText(outcomes, { text: () => ({ color: false }) });
  assert.equal(lines.length, 1 + DEPTH + 2);
  assert.deepEqual(lines.slice(0, 2), ["Process 7: python3 deep.py", HEADER]);
  const grouped = renderTreeText(outcomes, { text: () => ({ color: false }), group: true });
  assert.equal(grouped.length, 1 + 2 + DEPTH + 1);
});

Deno.test("renderJson() renders a stack 200,000 frames deep", () => {
  const doc = JSON.parse(renderJson(reportOf([deepThread(7)])).join("\n"));
  assert.equal(doc.threads[0].frames.length, DEPTH);
  assert.equal(doc.threads[0].partial, PARTIAL);
});

Deno.test("renderWatchText() prints a deep sampled stack", () => {
  const summary: WatchSummary = {
    pid: 7,
    pythonVersion: "3.12.1",
    blocking: true,
    samples: 2,
    durationMs: 100,
    intervalMs: 50,
    pausedMs: 1,
    threads: [{
      tid: 7,
      name: "python3",
      verdict: "stuck",
      reason: "the same stack in all 2 samples",
      samples: 2,
      cpuPercent: 0,
      state: "S",
      wakeups: 0,
      stacks: [{ count: 2, share: 1, frames: frames(false) }],
    }],
  };
  const lines = renderWatchText(summary, { color: false, group: true });
  assert.equal(lines.length, 2 + 1 + 3 + DEPTH);
  assert.deepEqual(lines.slice(-1), [INNER]);
});
