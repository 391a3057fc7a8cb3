import assert from "node:assert/strict";
import { renderText, threadHeader } from "./text.ts";
import type { PyFrame, PyThread, StackReport } from "../model.ts";

function frame(file: string, func: string, line: number, column = -1, endColumn = -1): PyFrame {
  return {
    file,
    function: func,
    location: { line, endLine: line, column, endColumn },
    isEntry: true,
    frameAddress: 0x1000n,
    codeAddress: 0x2000n,
  };
}

function thread(over: Partial<PyThread>): PyThread {
  return {
    tid: 42,
    threadStateAddress: 0x10n,
    interpreterId: 0,
    frames: [],
    holdsGil: false,
    gcCollecting: false,
    ...over,
  };
}

function report(threads: PyThread[]): StackReport {
  return {
    pid: 42,
    pythonVersion: "3.11.7",
    foundBy: "symbols",
    nonBlocking: false,
    threads,
    warnings: [],
  };
}

const SOURCE: Record<string, string[]> = {
  "/app/main.py": ["import time", "def f():", "    time.sleep(1)  ", "f()"],
};
const sourceLine = (file: string, line: number) => SOURCE[file]?.[line - 1];

Deno.test("threadHeader() shows name and status tags as PyStack does", () => {
  assert.deepEqual(
    threadHeader(thread({ name: "worker", holdsGil: true, gcCollecting: true })),
    "Traceback for thread 42 (worker) [Has the GIL,Garbage collecting] (most recent call last):",
  );
  assert.deepEqual(
    threadHeader(thread({ holdsGil: undefined })),
    "Traceback for thread 42 [] (most recent call last):",
  );
  assert.deepEqual(
    threadHeader(thread({ tid: 0 })),
    "Traceback for thread 0 [Thread terminated] (most recent call last):",
  );
  assert.deepEqual(
    threadHeader(thread({ tid: 0, starting: true })),
    "Traceback for thread 0 [Thread starting: not running yet] (most recent call last):",
  );
});

Deno.test("renderText() prints frames oldest first with stripped source, threads apart", () => {
  const lines = renderText(
    report([
      thread({ tid: 7, name: "w", frames: [frame("/app/main.py", "f", 3)] }),
      thread({
        tid: 42,
        frames: [frame("/app/main.py", "<module>", 4), frame("<string>", "g", 1)],
      }),
    ]),
    { color: false, sourceLine },
  );
  assert.deepEqual(lines, [
    "Traceback for thread 7 (w) [] (most recent call last):",
    '    (Python) File "/app/main.py", line 3, in f',
    "        time.sleep(1)",
    "",
    "Traceback for thread 42 [] (most recent call last):",
    '    (Python) File "/app/main.py", line 4, in <module>',
    "        f()",
    '    (Python) File "<string>", line 1, in g',
  ]);
});

Deno.test("renderText() says when a thread has no frames, and marks partial stacks", () => {
  assert.deepEqual(renderText(report([thread({ tid: 9 })]), { color: false }), [
    "The frame stack for thread 9 is empty",
  ]);
  assert.deepEqual(
    renderText(
      report([thread({ frames: [frame("a.py", "f", 1)], partial: "frame at 0x10 is unreadable" })]),
      {
        color: false,
      },
    ),
    [
      "Traceback for thread 42 [] (most recent call last):",
      '    (Python) File "a.py", line 1, in f',
      "    (!) Stack may be incomplete: frame at 0x10 is unreadable",
    ],
  );
});

Deno.test("renderText() colours the running expression by UTF-8 byte columns", () => {
  const src = (_f: string, _l: number) => "x = café(1)";
  // "café(1)" starts at byte 4; "é" is two bytes, so the call ends at byte 12.
  const lines = renderText(report([thread({ frames: [frame("a.py", "f", 1, 4, 12)] })]), {
    color: true,
    sourceLine: src,
  });
  assert.deepEqual(lines[2], "        x = \x1b[34mcafé(1)\x1b[0m");
});

Deno.test("threadHeader() shows a free-threaded thread's state instead of the GIL", () => {
  const header = (over: Partial<PyThread>) => threadHeader(thread({ holdsGil: false, ...over }));
  assert.deepEqual(
    header({ threadState: "attached", gcCollecting: true }),
    "Traceback for thread 42 [Attached,Garbage collecting] (most recent call last):",
  );
  assert.deepEqual(
    header({ threadState: "suspended" }),
    "Traceback for thread 42 [Suspended] (most recent call last):",
  );
  for (const threadState of ["detached", "unknown"] as const) {
    assert.deepEqual(
      header({ threadState }),
      "Traceback for thread 42 [] (most recent call last):",
    );
  }
  // A free-threaded build whose GIL was turned back on (PYTHON_GIL=1, or an extension that needs it).
  assert.deepEqual(
    header({ threadState: "attached", holdsGil: true }),
    "Traceback for thread 42 [Has the GIL] (most recent call last):",
  );
});

Deno.test("renderText() says a thread without frames that is starting is starting", () => {
  const lines = renderText(report([thread({ tid: 0, starting: true, frames: [] })]), {
    color: false,
    sourceLine,
  });
  assert.deepEqual(lines, [
    "The frame stack for thread 0 is empty: the thread is starting, not running yet",
  ]);
});
