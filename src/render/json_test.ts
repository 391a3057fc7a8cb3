import assert from "node:assert/strict";
import { errorCode, renderJson, renderJsonError, toJsonError, toJsonReport } from "./json.ts";
import type { PyFrame, PyThread, StackReport } from "../model.ts";
import { PystackError, UsageError } from "../errors.ts";
import { CoreNotFoundError, NotCoreError } from "../core/core_errors.ts";
import { schemaErrors } from "../../tests/_json_schema.ts";

function frame(over: Partial<PyFrame> = {}): PyFrame {
  return {
    file: "/app/main.py",
    function: "f",
    location: { line: 3, endLine: 4, column: 8, endColumn: 12 },
    isEntry: false,
    frameAddress: 0x7f0000001000n,
    codeAddress: 0xffffffffffffff00n,
    ...over,
  };
}

function thread(over: Partial<PyThread> = {}): PyThread {
  return {
    tid: 42,
    name: "worker",
    threadStateAddress: 0x10n,
    interpreterId: 0,
    frames: [frame()],
    holdsGil: true,
    gcCollecting: false,
    ...over,
  };
}

function report(over: Partial<StackReport> = {}): StackReport {
  return {
    pid: 42,
    pythonVersion: "3.12.1",
    executable: "/usr/bin/python3.12",
    foundBy: "symbols",
    nonBlocking: false,
    threads: [thread()],
    warnings: [],
    ...over,
  };
}

Deno.test("toJsonReport() renders addresses as hex strings, beyond 2^53 too", () => {
  const doc = toJsonReport(report());
  const t = doc.threads[0]!;
  assert.equal(t.threadStateAddress, "0x10");
  assert.equal(t.frames[0]!.frameAddress, "0x7f0000001000");
  assert.equal(t.frames[0]!.codeAddress, "0xffffffffffffff00");
  assert.deepEqual(schemaErrors(doc), []);
});

Deno.test("toJsonReport() flattens the location and turns 'not recorded' into null", () => {
  const f = toJsonReport(report({
    threads: [thread({
      frames: [frame({ location: { line: 7, endLine: 7, column: -1, endColumn: -1 } })],
    })],
  })).threads[0]!.frames[0]!;
  assert.deepEqual(
    [f.line, f.endLine, f.column, f.endColumn, f.function, f.file, f.isEntry],
    [7, 7, null, null, "f", "/app/main.py", false],
  );
  assert.equal("location" in f, false);
});

Deno.test("toJsonReport() gives every thread the same members, null when unknown", () => {
  const doc = toJsonReport(report({
    threads: [thread({ tid: 0, holdsGil: undefined, partial: "the chain loops" })],
  }));
  const { name: _name, ...t } = doc.threads[0]!;
  assert.deepEqual({ ...t, frames: [] }, {
    tid: 0,
    threadStateAddress: "0x10",
    interpreterId: 0,
    holdsGil: null,
    gcCollecting: false,
    terminated: true,
    partial: "the chain loops",
    frames: [],
  });
  const { name: _unnamed, ...unnamed } = thread();
  const plain = toJsonReport(report({ threads: [unnamed] })).threads[0]!;
  assert.equal(plain.name, null);
  assert.equal(plain.partial, null);
  assert.equal("native" in plain, false, "no native member without a native mode");
  assert.equal("variables" in plain.frames[0]!, false, "no variables without --locals");
});

Deno.test("toJsonReport() renders variables and native frames when the model has them", () => {
  const doc = toJsonReport(report({
    threads: [thread({
      pythonName: "Thread-1 (work)",
      frames: [frame({ variables: [{ name: "n", value: "3", argument: true }] })],
      native: [
        { address: 0x401000n, symbol: "main", library: "/usr/bin/python3", inlined: false },
        { address: 0x401234n, inlined: true, file: "ceval.c", line: 12 },
      ],
    })],
  }));
  const t = doc.threads[0]!;
  assert.equal(t.pythonName, "Thread-1 (work)");
  assert.deepEqual(t.frames[0]!.variables, [{ name: "n", value: "3", argument: true }]);
  assert.deepEqual(t.native, [
    {
      address: "0x401000",
      symbol: "main",
      library: "/usr/bin/python3",
      file: null,
      line: null,
      inlined: false,
    },
    { address: "0x401234", symbol: null, library: null, file: "ceval.c", line: 12, inlined: true },
  ]);
  assert.deepEqual(schemaErrors(doc), []);
});

Deno.test("toJsonReport() renders the core details of a core", () => {
  const doc = toJsonReport(report({
    core: {
      path: "/tmp/core",
      executable: "/usr/bin/python3.12",
      executableSource: "found in the core (NT_FILE)",
      process: {
        state: "R",
        zombie: false,
        nice: 0,
        pid: 42,
        ppid: 1,
        sid: 42,
        uid: 1000,
        gid: 1000,
        pgrp: 42,
        fname: "python3.12",
        psargs: "python3.12 app.py",
      },
      signal: {
        number: 11,
        name: "SIGSEGV",
        code: 1,
        faultAddress: 0xdeadbeefn,
        faultMapping: "/usr/lib/libc.so.6",
      },
      truncated: false,
      missingFiles: [],
    },
  }));
  assert.equal(doc.target.kind, "core");
  assert.deepEqual((doc.target.core as { signal: unknown }).signal, {
    number: 11,
    name: "SIGSEGV",
    code: 1,
    senderPid: null,
    senderUid: null,
    faultAddress: "0xdeadbeef",
    faultMapping: "/usr/lib/libc.so.6",
  });
  assert.equal((doc.target.core as { compression: unknown }).compression, null);
  assert.deepEqual(schemaErrors(doc), []);
  const onDemand = toJsonReport(report({
    core: {
      path: "/tmp/core",
      executable: "/usr/bin/python3.12",
      executableSource: "given on the command line",
      truncated: true,
      compression: "zstd",
      missingFiles: ["/lib/libfoo.so"],
    },
  }));
  assert.deepEqual(schemaErrors(onDemand), []);
});

Deno.test("toJsonReport() renders model members it does not know, generically", () => {
  const later = report({ threads: [thread()] }) as StackReport & Record<string, unknown>;
  later.nativeMode = "all";
  (later.threads[0] as PyThread & Record<string, unknown>).stackBase = 0x7ffd0000n;
  (later.threads[0]!.frames[0] as PyFrame & Record<string, unknown>).extra = {
    seen: new Set([1n, 2n]),
    gone: undefined,
  };
  const doc = toJsonReport(later);
  assert.equal(doc.nativeMode, "all");
  assert.equal(doc.threads[0]!.stackBase, "0x7ffd0000");
  assert.deepEqual(doc.threads[0]!.frames[0]!.extra, { seen: ["0x1", "0x2"] });
  assert.deepEqual(schemaErrors(doc), [], "extra members still validate");
});

Deno.test("renderJson() prints one document, indented or on one line", () => {
  const lines = renderJson(report());
  assert.ok(lines.length > 10);
  assert.equal(JSON.parse(lines.join("\n")).target.pid, 42);
  const one = renderJson(report(), { indent: 0 });
  assert.equal(one.length, 1);
  assert.deepEqual(JSON.parse(one[0]!), JSON.parse(lines.join("\n")));
});

Deno.test("errorCode() is stable per class, derived for classes it does not list", () => {
  assert.equal(errorCode(new UsageError("x")), "usage");
  assert.equal(errorCode(new CoreNotFoundError("/x")), "core_not_found");
  assert.equal(errorCode(new NotCoreError("/x", 2)), "not_a_core");
  assert.equal(errorCode(new PystackError("x")), "failure");
  class LibdwMissingError extends PystackError {}
  assert.equal(errorCode(new LibdwMissingError("x")), "libdw_missing");
  assert.equal(errorCode(new RangeError("x")), "internal_error");
  assert.equal(errorCode("a string"), "internal_error");
});

Deno.test("toJsonError() carries message, hint and exit code, and validates", () => {
  const doc = toJsonError(new CoreNotFoundError("/tmp/nope"));
  assert.equal(doc.error.code, "core_not_found");
  assert.equal(doc.error.exitCode, 2);
  assert.match(doc.error.message, /Cannot open core \/tmp\/nope/);
  assert.equal(typeof doc.error.hint, "string");
  assert.deepEqual(schemaErrors(doc), []);
  const internal = JSON.parse(renderJsonError(new TypeError("x is undefined\nmore")).join("\n"));
  assert.deepEqual(
    [internal.error.code, internal.error.message, internal.error.exitCode],
    ["internal_error", "internal error: x is undefined", 1],
  );
  assert.deepEqual(schemaErrors(internal), []);
  assert.equal(toJsonError(new PystackError("no hint")).error.hint, null);
});

Deno.test("toJsonReport() gives a free-threaded thread's state, valid against the schema", () => {
  const doc = toJsonReport(report({
    threads: [
      thread({ holdsGil: false, threadState: "attached" }),
      thread({ tid: 43, holdsGil: false, threadState: "suspended" }),
    ],
  }));
  assert.deepEqual(doc.threads.map((t) => [t.holdsGil, t.threadState]), [
    [false, "attached"],
    [false, "suspended"],
  ]);
  assert.equal("threadState" in toJsonReport(report()).threads[0]!, false, "GIL builds: absent");
  assert.deepEqual(schemaErrors(doc), []);
  const bad = structuredClone(doc);
  (bad.threads[0] as { threadState: string }).threadState = "running";
  assert.notDeepEqual(schemaErrors(bad), []);
});
