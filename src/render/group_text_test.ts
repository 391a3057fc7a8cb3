import assert from "node:assert/strict";
import type { PyThread, StackReport } from "../model.ts";
import { renderGroupedText } from "./group_text.ts";

function thread(tid: number, name: string, fns: string[], line = 5): PyThread {
  return {
    tid,
    name,
    threadStateAddress: BigInt(tid),
    interpreterId: 0,
    holdsGil: false,
    gcCollecting: false,
    frames: fns.map((fn, i) => ({
      file: "/app/pool.py",
      function: fn,
      location: { line: line + i, endLine: line + i, column: -1, endColumn: -1 },
      isEntry: i === 0,
      frameAddress: 0x100n,
      codeAddress: 0x200n,
    })),
  };
}

function report(threads: PyThread[]): StackReport {
  return {
    pid: 1,
    pythonVersion: "3.12.1",
    foundBy: "symbols",
    nonBlocking: false,
    warnings: [],
    threads,
  };
}

Deno.test("renderGroupedText() prints identical stacks once, largest group first", () => {
  const lines = renderGroupedText(
    report([
      thread(9, "main", ["<module>"]),
      thread(11, "w-1", ["run", "get"]),
      thread(12, "w-2", ["run", "get"]),
      thread(13, "w-3", ["run", "get"], 6),
    ]),
    { color: false },
  );
  assert.deepEqual(lines, [
    "2 threads: 11 (w-1), 12 (w-2):",
    '    (Python) File "/app/pool.py", line 5, in run',
    '    (Python) File "/app/pool.py", line 6, in get',
    "",
    "Traceback for thread 9 (main) [] (most recent call last):",
    '    (Python) File "/app/pool.py", line 5, in <module>',
    "",
    "Traceback for thread 13 (w-3) [] (most recent call last):",
    '    (Python) File "/app/pool.py", line 6, in run',
    '    (Python) File "/app/pool.py", line 7, in get',
  ]);
});

Deno.test("renderGroupedText() groups threads without Python frames", () => {
  const lines = renderGroupedText(report([thread(3, "a", []), thread(4, "b", [])]), {
    color: false,
  });
  assert.deepEqual(lines, ["2 threads: 3 (a), 4 (b):", "    (no Python frames)"]);
});
