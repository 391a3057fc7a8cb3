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
      origin: "fault",
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
      origin: "self",
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

Deno.test("failureLine() says a signal another thread sent arrived where the thread was", () => {
  const core: CoreDetails = {
    ...BASE,
    signal: { number: 11, name: "SIGSEGV", code: -6, senderPid: 7 },
    crash: {
      tid: 7,
      signal: "SIGSEGV",
      origin: "process",
      address: 0x7f0000001000n,
      library: "libc.so.6",
      libraryOffset: 0xcf545n,
      symbol: "clock_nanosleep",
      symbolOffset: 0x65n,
      calledFrom: { function: "main", file: "/app/main.py", line: 9 },
    },
  };
  assert.equal(
    failureLine(core),
    "The process died due to signal SIGSEGV, sent by the process itself (tgkill, as " +
      "pthread_kill does) to thread 7; when it arrived, that thread was in clock_nanosleep+0x65 " +
      "(libc.so.6+0xcf545), called from main (/app/main.py:9)",
  );
  core.signal = { number: 11, name: "SIGSEGV", code: 0, senderPid: 7 };
  assert.match(failureLine(core), /, sent by the process itself \(kill\) to thread 7; /);
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

Deno.test("coreHeaderLines() says a non-crashed process's sys.last_exc was only reported", () => {
  const core: CoreDetails = {
    ...BASE,
    signal: { number: 19, name: "SIGSTOP", code: 0 },
    lastExceptionKey: "sys.last_exc",
    lastException: {
      state: "reported",
      type: "ZeroDivisionError",
      message: "division by zero",
      address: 0x10n,
      raisedAt: { file: "<input>", line: 1, function: "<module>" },
      chain: [],
    },
  };
  assert.deepEqual(coreHeaderLines(core).slice(-4), [
    "The core was taken from a running process (e.g. by gcore): the process did not crash",
    "",
    "Last exception reported to sys.excepthook (sys.last_exc): ZeroDivisionError: division by " +
    "zero (at <input>:1)",
    "",
  ]);
});
