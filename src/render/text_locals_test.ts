import assert from "node:assert/strict";
import { renderText, threadHeader, variableLines } from "./text.ts";
import type { PyFrame, PyThread, StackReport } from "../model.ts";

const FRAME: PyFrame = {
  file: "/app/main.py",
  function: "work",
  location: { line: 2, endLine: 2, column: -1, endColumn: -1 },
  isEntry: true,
  frameAddress: 0x1000n,
  codeAddress: 0x2000n,
};

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

Deno.test("threadHeader() adds the Python thread name when it differs from the OS name", () => {
  assert.equal(
    threadHeader(thread({ name: "python3.12", pythonName: "MainThread", holdsGil: true })),
    'Traceback for thread 42 (python3.12) "MainThread" [Has the GIL] (most recent call last):',
  );
  assert.equal(
    threadHeader(thread({ name: "worker-1", pythonName: "worker-1" })),
    "Traceback for thread 42 (worker-1) [] (most recent call last):",
  );
  assert.equal(
    threadHeader(thread({ pythonName: 'say "hi"\n' })),
    'Traceback for thread 42 "say \\"hi\\"\\n" [] (most recent call last):',
  );
});

Deno.test("variableLines() lists arguments then locals as PyStack lays them out", () => {
  assert.deepEqual(variableLines(FRAME), []);
  assert.deepEqual(
    variableLines({
      ...FRAME,
      variables: [
        { name: "a", value: "1", argument: true },
        { name: "kw", value: "'x'", argument: true },
        { name: "total", value: "[1, 2]", argument: false },
      ],
    }),
    [
      "      Arguments:",
      "        a: 1",
      "        kw: 'x'",
      "      Locals:",
      "        total: [1, 2]",
    ],
  );
  assert.deepEqual(
    variableLines({ ...FRAME, variables: [{ name: "x", value: "None", argument: false }] }),
    ["      Locals:", "        x: None"],
  );
});

Deno.test("renderText() prints the variables under the frame's source line", () => {
  const report: StackReport = {
    pid: 42,
    pythonVersion: "3.12.1",
    foundBy: "symbols",
    nonBlocking: false,
    warnings: [],
    threads: [thread({
      name: "python3.12",
      pythonName: "MainThread",
      frames: [{ ...FRAME, variables: [{ name: "n", value: "3", argument: true }] }],
    })],
  };
  const source = (_file: string, line: number) => line === 2 ? "    total = n * 2" : undefined;
  assert.deepEqual(renderText(report, { color: false, sourceLine: source }), [
    'Traceback for thread 42 (python3.12) "MainThread" [] (most recent call last):',
    '    (Python) File "/app/main.py", line 2, in work',
    "        total = n * 2",
    "      Arguments:",
    "        n: 3",
  ]);
});
