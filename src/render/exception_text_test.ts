import assert from "node:assert/strict";
import { exceptionLines, exceptionText } from "./exception_text.ts";
import { renderText } from "./text.ts";
import type { StackReport, ThreadException } from "../model.ts";

const AT = { file: "/app/client.py", line: 88, function: "fetch" };

Deno.test("exceptionLines() prints the exception then its chain, innermost first", () => {
  const exception: ThreadException = {
    state: "handling",
    type: "ValueError",
    message: "bad input 42",
    address: 0x10n,
    raisedAt: AT,
    chain: [
      { relation: "cause", type: "KeyError", message: "'missing-key'", address: 0x20n },
      {
        relation: "outer",
        type: "ConnectionRefusedError",
        message: "[Errno 111] Connection refused",
        address: 0x30n,
        raisedAt: { ...AT, line: 12 },
      },
      { relation: "context", type: "AppError", address: 0x7f00n },
    ],
    chainTruncated: true,
  };
  assert.deepEqual(exceptionLines({ exception }), [
    "    Handling ValueError: bad input 42 (at /app/client.py:88)",
    "      caused by KeyError: 'missing-key'",
    "      while handling ConnectionRefusedError: [Errno 111] Connection refused " +
    "(at /app/client.py:12)",
    "      while handling AppError object at 0x7f00",
    "      ... (more linked exceptions not shown)",
  ]);
});

Deno.test("exceptionText() shows an empty message as the type alone and escapes newlines", () => {
  assert.equal(exceptionText({ type: "StopIteration", message: "", address: 1n }), "StopIteration");
  assert.equal(exceptionText({ type: "E", message: "a\nb", address: 1n }), "E: a\\x0ab");
  assert.equal(
    exceptionText({ type: "<invalid>", address: 8n, invalid: "<invalid object at 0x8>" }),
    "<invalid object at 0x8>",
  );
  assert.deepEqual(exceptionLines({}), []);
});

Deno.test("renderText() prints the exception under the thread header, raising as Raising", () => {
  const report: StackReport = {
    pid: 7,
    pythonVersion: "3.12.1",
    foundBy: "symbols",
    nonBlocking: false,
    warnings: [],
    threads: [{
      tid: 7,
      name: "python3",
      threadStateAddress: 0x10n,
      interpreterId: 0,
      holdsGil: false,
      gcCollecting: false,
      exception: { state: "raising", type: "OSError", message: "x", address: 0x40n, chain: [] },
      frames: [{
        file: "/app/main.py",
        function: "<module>",
        location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
        isEntry: true,
        frameAddress: 0x20n,
        codeAddress: 0x30n,
      }],
    }],
  };
  assert.deepEqual(renderText(report, { color: false }), [
    "Traceback for thread 7 (python3) [] (most recent call last):",
    "    Raising OSError: x",
    '    (Python) File "/app/main.py", line 1, in <module>',
  ]);
});
