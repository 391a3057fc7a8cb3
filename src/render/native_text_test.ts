import assert from "node:assert/strict";
import type { NativeFrame, PyFrame, PyThread } from "../model.ts";
import { nativeFrameLine } from "./native_text.ts";
import { renderText } from "./text.ts";
import { reportOf } from "./_test_report.ts";

function c(symbol: string, extra: Partial<NativeFrame> = {}): NativeFrame {
  return { address: 0x1000n, symbol, library: "libx.so", inlined: false, ...extra };
}

function py(name: string, isEntry = true): PyFrame {
  return {
    file: "/app/x.py",
    function: name,
    location: { line: 3, endLine: 3, column: -1, endColumn: -1 },
    isEntry,
    frameAddress: 0n,
    codeAddress: 0n,
  };
}

function thread(extra: Partial<PyThread>): PyThread {
  return {
    tid: 7,
    name: "python3",
    threadStateAddress: 0x10n,
    interpreterId: 0,
    frames: [],
    holdsGil: false,
    gcCollecting: false,
    ...extra,
  };
}

Deno.test("nativeFrameLine() follows PyStack's (C) format", () => {
  assert.equal(
    nativeFrameLine(c("time_sleep", { file: "./Modules/timemodule.c", line: 425 })),
    '    (C) File "./Modules/timemodule.c", line 425, in time_sleep (libx.so)',
  );
  assert.equal(
    nativeFrameLine(c("pysleep", { file: "./Modules/timemodule.c", line: 2182, inlined: true })),
    '    (C) File "./Modules/timemodule.c", line 2182, in pysleep (inlined) (libx.so)',
  );
  // ELF symbol only (no debug information).
  assert.equal(nativeFrameLine(c("ffi_call")), '    (C) File "???", line 0, in ffi_call (libx.so)');
  // No symbol: where it is, for addr2line.
  assert.equal(
    nativeFrameLine({
      address: 0x7f0000001234n,
      library: "libx.so",
      objectAddress: 0x1234n,
      inlined: false,
    }),
    '    (C) File "???", line 0, in ??? (libx.so+0x1234)',
  );
  assert.equal(
    nativeFrameLine({ address: 0x7f0000001234n, inlined: false }),
    '    (C) File "???", line 0, in ??? (0x7f0000001234)',
  );
});

Deno.test("renderText() merges native and Python frames in a native mode", () => {
  const t = thread({
    frames: [py("<module>"), py("f")],
    native: [
      c("main"),
      c("_PyEval_EvalFrameDefault", { role: "eval" }),
      c("PyObject_Call", { role: "plumbing" }),
      c("call_c"),
      c("_PyEval_EvalFrameDefault", { role: "eval" }),
      c("time_sleep"),
    ],
  });
  assert.deepEqual(renderText(reportOf([t]), { color: false, native: "python" }), [
    "Traceback for thread 7 (python3) [] (most recent call last):",
    '    (C) File "???", line 0, in main (libx.so)',
    '    (Python) File "/app/x.py", line 3, in <module>',
    '    (C) File "???", line 0, in call_c (libx.so)',
    '    (Python) File "/app/x.py", line 3, in f',
    '    (C) File "???", line 0, in time_sleep (libx.so)',
  ]);
  assert.deepEqual(renderText(reportOf([t]), { color: false, native: "last" }), [
    "Traceback for thread 7 (python3) [] (most recent call last):",
    '    (Python) File "/app/x.py", line 3, in <module>',
    '    (Python) File "/app/x.py", line 3, in f',
    '    (C) File "???", line 0, in time_sleep (libx.so)',
  ]);
});

Deno.test("renderText() prints both stacks after the marker when they cannot be merged", () => {
  const t = thread({ frames: [py("<module>"), py("f")], native: [c("main"), c("time_sleep")] });
  assert.deepEqual(renderText(reportOf([t]), { color: false, native: "all" }), [
    "Traceback for thread 7 (python3) [] (most recent call last):",
    "* - Unable to merge native stack due to insufficient native information - *",
    '    (Python) File "/app/x.py", line 3, in <module>',
    '    (Python) File "/app/x.py", line 3, in f',
    '    (C) File "???", line 0, in main (libx.so)',
    '    (C) File "???", line 0, in time_sleep (libx.so)',
  ]);
});

Deno.test("renderText() reads waiting for and dropping the GIL from native frames", () => {
  const waiting = thread({ native: [c("PyEval_RestoreThread"), c("take_gil", { inlined: true })] });
  const dropping = thread({ tid: 8, native: [c("drop_gil")] });
  const holding = thread({ tid: 9, holdsGil: true, native: [c("drop_gil")] });
  const lines = renderText(reportOf([waiting, dropping, holding]), { color: false, native: "all" });
  assert.deepEqual(lines.filter((l) => l.startsWith("Traceback")), [
    "Traceback for thread 7 (python3) [Waiting for the GIL] (most recent call last):",
    "Traceback for thread 8 (python3) [Dropping the GIL] (most recent call last):",
    "Traceback for thread 9 (python3) [Has the GIL] (most recent call last):",
  ]);
  // Without a native mode, nothing changes: an empty stack is one line.
  assert.deepEqual(renderText(reportOf([thread({})]), { color: false }), [
    "The frame stack for thread 7 is empty",
  ]);
});

Deno.test("renderText() marks a native stack cut by the unwinder's limit, in native modes", () => {
  const t = thread({
    frames: [py("f")],
    native: [c("clone3"), c("_PyEval_EvalFrameDefault", { role: "eval" })],
    nativePartial: "stopped after 2048 frames (the outermost are not shown)",
  });
  assert.deepEqual(renderText(reportOf([t]), { color: false, native: "python" }).slice(-2), [
    '    (Python) File "/app/x.py", line 3, in f',
    "    (!) Native stack may be incomplete: stopped after 2048 frames (the outermost are not shown)",
  ]);
  // Without a native mode the native frames are not shown, nor is their marker.
  assert.deepEqual(renderText(reportOf([t]), { color: false }).slice(-1), [
    '    (Python) File "/app/x.py", line 3, in f',
  ]);
});
