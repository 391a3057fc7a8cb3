import assert from "node:assert/strict";
import { coreHeaderLines, failureLine } from "./core_header.ts";
import type { CoreDetails } from "../model.ts";

const BASE: CoreDetails = {
  path: "/tmp/core",
  executable: "/usr/bin/python3",
  executableSource: "found in the core (NT_FILE)",
  truncated: false,
  missingFiles: [],
};

Deno.test("failureLine() names the faulting function, library and Python frame", () => {
  const core: CoreDetails = {
    ...BASE,
    signal: { number: 11, name: "SIGSEGV", code: 1, faultAddress: 0n },
    crash: {
      tid: 7,
      signal: "SIGSEGV",
      address: 0x7f0000001000n,
      library: "libc.so.6",
      libraryOffset: 0x1a2b3n,
      symbol: "strlen",
      symbolOffset: 0x13n,
      calledFrom: { function: "string_at", file: "ctypes/__init__.py", line: 525 },
    },
  };
  assert.equal(
    failureLine(core),
    "The process died due to a segmentation fault accessing address: 0x0 in strlen+0x13 " +
      "(libc.so.6+0x1a2b3), called from string_at (ctypes/__init__.py:525)",
  );
});

Deno.test("failureLine() says a self-raised SIGABRT came from Py_FatalError, inferred", () => {
  const core: CoreDetails = {
    ...BASE,
    signal: { number: 6, name: "SIGABRT", code: -6, senderPid: 7 },
    crash: {
      tid: 7,
      signal: "SIGABRT",
      address: 0x10n,
      abortPath: ["abort", "_Py_FatalErrorFunc"],
    },
  };
  assert.equal(
    failureLine(core),
    "The process died due to signal SIGABRT, which it raised itself by Py_FatalError() " +
      "(_Py_FatalErrorFunc), inferred from return addresses on its stack, in ??? (0x10)",
  );
  delete core.crash;
  assert.equal(failureLine(core), "The process died due to receiving signal SIGABRT sent by pid 7");
});

Deno.test("coreHeaderLines() adds the uncaught exception from sys, with its chain", () => {
  const core: CoreDetails = {
    ...BASE,
    lastExceptionKey: "sys.last_exc",
    lastException: {
      state: "uncaught",
      type: "ValueError",
      message: "uncaught 7",
      address: 0x10n,
      raisedAt: { file: "/app/main.py", line: 3, function: "main" },
      chain: [{ relation: "context", type: "KeyError", message: "'k'", address: 0x20n }],
    },
  };
  assert.deepEqual(
    coreHeaderLines(core).slice(-5),
    [
      "The core file seems to have been generated on demand (the process did not crash)",
      "",
      "Uncaught exception (sys.last_exc): ValueError: uncaught 7 (at /app/main.py:3)",
      "  while handling KeyError: 'k'",
      "",
    ],
  );
});
