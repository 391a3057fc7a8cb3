/**
 * The native-frame matrix: interpreter × fixture × backend (a live process,
 * or a core of it: gcore's, or the kernel's where gcore cannot dump the
 * interpreter's processes whole), one `Deno.test` each. The fixtures load a C/C++
 * extension built at test time against each interpreter's headers
 * (`_native_build.ts`):
 *
 * - `native_calls`: Python → C (an inlined static function) → a stripped
 *   library → C++ → Python, and a pthread that never runs Python: the exact
 *   order of the fixture's C and Python frames, demangled names, `(inlined)`,
 *   ELF-only and unnamed frames; `--native-all`, `--native`, `--native-last`;
 * - `native_qsort`: ctypes → libc `qsort` → Python comparison callback: libc
 *   frames between the two Python frames;
 * - `native_gil_deadlock`: the main thread keeps the GIL and waits in C++ for
 *   a thread that waits for the GIL: `Has the GIL` and `Waiting for the GIL`,
 *   with both native stacks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import {
  describeRun,
  type ExpectedFrame,
  expectedFrames,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
  type TracebackFrame,
} from "./_harness.ts";
import {
  isNative,
  type NativeThread as TracebackThread,
  parseNativeTraceback,
  type TracebackNative,
} from "./_native_traceback.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { type CoreMaker, fixtureCore, makerSkip } from "./_cores.ts";
import { buildSkip, nativeExtension } from "./_native_build.ts";

/** PyStack's line for stacks that cannot be merged. */
const UNMERGED = "* - Unable to merge native stack due to insufficient native information - *";

/** `live`: `pystack remote` on the running fixture; `core`: `pystack core` on its gcore. */
export type Backend = "live" | "core";

type Entry = TracebackFrame | TracebackNative;

/** One run of the CLI on a fixture, and what to assert about its output. */
interface NativeRun {
  flag: "--native" | "--native-all" | "--native-last";
  check(output: Output): void;
}

/** What a check sees. */
interface Output {
  threads: TracebackThread[];
  /** The fixture's pid (the main thread's TID). */
  pid: number;
  backend: Backend;
  frames: Map<string, ExpectedFrame[]>;
  file: string;
  /** Whether the local functions of the interpreter and its libc have names ({@linkcode localsNamed}). */
  named: boolean;
  /** The interpreter's major and minor version. */
  version: Python["version"];
  /** A free-threaded build: the thread that would hold the GIL is `Attached` instead. */
  freeThreaded: boolean;
}

interface NativeFixture {
  key: string;
  file: string;
  /** Needs the extension (`PYSTACK_FIXTURE_EXT`). */
  extension: boolean;
  /** Runs on a live process (the first also on the core). */
  runs: NativeRun[];
}

const FIXTURE_LIB = "pystack_native_fixture.so";
const HOP_LIB = "libpystack_hop.so";

/** The object's base name (`libfoo.so+0x12` → `libfoo.so+0x12`; paths → base name). */
const lib = (e: TracebackNative) => basename(e.library);
const fromFixtureLibs = (e: TracebackNative) =>
  lib(e) === FIXTURE_LIB || lib(e).startsWith(HOP_LIB);

/** A short text per entry, for exact comparisons: `py:func:line` or `c:func@lib[ inlined]`. */
function describe(e: Entry): string {
  if (!isNative(e)) return `py:${e.func}:${e.line}`;
  const where = lib(e).startsWith(`${HOP_LIB}+0x`) ? `${HOP_LIB}+offset` : lib(e);
  return `c:${e.func}@${where}${e.inlined ? " inlined" : ""}`;
}

/** The stack of `thread` reduced to the fixture's own Python frames and the fixture libraries' C frames. */
function fixtureEntries(thread: TracebackThread, file: string): string[] {
  return thread.stack.filter((e) => isNative(e) ? fromFixtureLibs(e) : basename(e.file) === file)
    .map(describe);
}

function pyExpected(frames: ExpectedFrame[] | undefined, names: string[]): string[] {
  assert.ok(frames, "the fixture has markers for this stack");
  return names.map((name) => {
    const frame = frames.find((f) => f.func === name);
    assert.ok(frame, `a marker for ${name}`);
    return `py:${name}:${frame.lines[0]}`;
  });
}

function indexOf(stack: Entry[], predicate: (e: Entry) => boolean, what: string): number {
  const i = stack.findIndex(predicate);
  assert.ok(i >= 0, `the stack has ${what}`);
  return i;
}

function threadOf(out: Output, which: "main" | "other", name?: string): TracebackThread {
  const thread = which === "main"
    ? out.threads.find((t) => t.tid === out.pid)
    : out.threads.find((t) => t.tid !== out.pid);
  assert.ok(thread, `the ${which} thread is shown`);
  if (out.backend === "live" && name !== undefined) assert.equal(thread.name, name, "thread name");
  return thread;
}

/**
 * Every thread is merged (no unknown line, no "Unable to merge"), except the
 * threads `unmerged` names: those say that they cannot be, and show both stacks.
 */
function checkMergeState(out: Output, unmerged: (t: TracebackThread) => boolean = () => false) {
  for (const thread of out.threads) {
    assert.equal(thread.empty, false);
    const expected = unmerged(thread);
    assert.deepEqual(
      thread.extra,
      expected ? [UNMERGED] : [],
      expected
        ? `thread ${thread.tid}: "Unable to merge" (its native stack is cut short)`
        : `thread ${thread.tid}: no unknown line, no "Unable to merge"`,
    );
  }
}

type Part = { py: string[] } | { c: string[] };

/** The fixture entries expected from `parts`, interleaved as given (oldest first). */
function ordered(out: Output, stack: string, parts: Part[]): string[] {
  const py = (p: Part) => "py" in p ? pyExpected(out.frames.get(stack), p.py) : [];
  const c = (p: Part) => "c" in p ? p.c : [];
  return parts.flatMap((p) => [...py(p), ...c(p)]);
}

/** The main thread of native_calls (the same for --native and --native-all). */
function checkCallsMain(out: Output): void {
  const main = threadOf(out, "main");
  assert.deepEqual(main.status, [], "main thread status");
  const stack = main.stack;
  assert.deepEqual(
    fixtureEntries(main, out.file),
    ordered(out, "main", [
      { py: ["<module>", "main", "outer"] },
      {
        c: [
          `c:call_through@${FIXTURE_LIB}`,
          `c:relay_inline@${FIXTURE_LIB} inlined`,
          `c:stripped_hop@${HOP_LIB}`,
          `c:???@${HOP_LIB}+offset`,
          `c:pystack_fixture_cxx_call@${FIXTURE_LIB}`,
          `c:fixture::Relay::call(_object*)@${FIXTURE_LIB}`,
        ],
      },
      { py: ["callback"] },
    ]),
    "the fixture's frames, oldest first",
  );
  const callThrough = stack.find((e) =>
    isNative(e) && e.func === "call_through"
  ) as TracebackNative;
  assert.equal(
    basename(callThrough.file),
    "pystack_native_fixture.c",
    "call_through's source file",
  );
  assert.ok(callThrough.line > 0, "call_through has a line");
  const hop = stack.find((e) => isNative(e) && e.func === "stripped_hop") as TracebackNative;
  assert.deepEqual([hop.file, hop.line], ["???", 0], "no debug information: ELF symbol only");
  const relay = stack.find((e) => isNative(e) && e.func.startsWith("fixture::")) as TracebackNative;
  assert.equal(basename(relay.file), "relay.cpp", "the C++ frame's source file");
  // The interpreter's start before the first Python frame, the sleep after the last
  // (without local names: libc's exported start, and the interpreter's unnamed time_sleep).
  const start = out.named ? "__libc_start_call_main" : "__libc_start_main";
  const firstPy = indexOf(stack, (e) => !isNative(e), "a Python frame");
  indexOf(
    stack.slice(0, firstPy),
    (e) => isNative(e) && e.func === start,
    `${start} before the first Python frame`,
  );
  const callback = indexOf(stack, (e) => !isNative(e) && e.func === "callback", "callback");
  const after = stack.slice(callback + 1);
  assert.ok(after.length > 0 && after.every(isNative), "only native frames after callback");
  checkSleep(out, after);
  assert.match(lib(after.at(-1) as TracebackNative), /^libc\.so/, "innermost frame in libc");
}

/** `time.sleep`'s C function first in `after` (the native frames after the sleeping Python frame). */
function checkSleep(out: Output, after: Entry[]): void {
  const first = after[0];
  assert.ok(first !== undefined && isNative(first), "a native frame after the last Python frame");
  if (out.named) {
    assert.match(first.func, /^time_sleep\b/, "time_sleep after the last Python frame");
  } else {
    assert.deepEqual(
      [first.func, /^python\d/.test(lib(first))],
      ["???", true],
      "the interpreter's unnamed time_sleep after the last Python frame",
    );
  }
}

function checkNativeWorker(out: Output): void {
  const worker = threadOf(out, "other", "native-worker");
  assert.deepEqual(worker.status, [], "native-worker status");
  assert.deepEqual(worker.frames, [], "native-worker runs no Python");
  assert.deepEqual(fixtureEntries(worker, out.file), [
    `c:native_worker_main@${FIXTURE_LIB}`,
    `c:native_worker_wait@${FIXTURE_LIB}`,
  ]);
  // (Debian sid's libc is stripped too: its start_thread has no name.)
  if (out.named) {
    indexOf(worker.stack, (e) => isNative(e) && e.func === "start_thread", "start_thread");
  }
}

const NATIVE_CALLS: NativeFixture = {
  key: "native_calls",
  file: "native_calls.py",
  extension: true,
  runs: [
    {
      flag: "--native-all",
      check(out) {
        checkMergeState(out);
        assert.equal(out.threads.length, 2, "the main thread and native-worker");
        assert.equal(out.threads[0]!.tid, out.pid, "Python threads first");
        checkCallsMain(out);
        checkNativeWorker(out);
      },
    },
    {
      flag: "--native",
      check(out) {
        checkMergeState(out);
        assert.deepEqual(out.threads.map((t) => t.tid), [out.pid], "only the Python thread");
        checkCallsMain(out);
      },
    },
    {
      flag: "--native-last",
      check(out) {
        checkMergeState(out);
        assert.deepEqual(out.threads.map((t) => t.tid), [out.pid], "only the Python thread");
        const stack = out.threads[0]!.stack;
        const lastPy = stack.findLastIndex((e) => !isNative(e));
        assert.deepEqual(
          stack.slice(0, lastPy + 1).filter(isNative),
          [],
          "no native frame before the last Python frame",
        );
        assert.deepEqual(
          stack.filter((e) => !isNative(e) && basename(e.file) === out.file).map(describe),
          pyExpected(out.frames.get("main"), ["<module>", "main", "outer", "callback"]),
        );
        const native = stack.slice(lastPy + 1);
        assert.deepEqual(
          native.filter((e) => isNative(e) && fromFixtureLibs(e)),
          [],
          "only after callback",
        );
        checkSleep(out, native);
      },
    },
  ],
};

const NATIVE_QSORT: NativeFixture = {
  key: "native_qsort",
  file: "native_qsort.py",
  extension: false,
  runs: [{
    flag: "--native",
    check(out) {
      checkMergeState(out);
      const main = threadOf(out, "main");
      const stack = main.stack;
      assert.deepEqual(
        stack.filter((e) => !isNative(e) && basename(e.file) === out.file).map(describe),
        pyExpected(out.frames.get("main"), ["<module>", "sort", "compare"]),
      );
      const sort = indexOf(stack, (e) => !isNative(e) && e.func === "sort", "sort");
      const compare = indexOf(stack, (e) => !isNative(e) && e.func === "compare", "compare");
      const between = stack.slice(sort + 1, compare);
      assert.ok(between.every(isNative), "only native frames between sort and compare");
      indexOf(
        between,
        (e) => isNative(e) && /^libc\.so/.test(lib(e)) && /qsort|msort/.test(e.func),
        "libc's qsort between sort and compare",
      );
      indexOf(between, (e) => isNative(e) && /_ctypes/.test(lib(e)), "a _ctypes frame");
    },
  }],
};

const NATIVE_GIL_DEADLOCK: NativeFixture = {
  key: "native_gil_deadlock",
  file: "native_gil_deadlock.py",
  extension: true,
  runs: [{
    flag: "--native",
    check(out) {
      checkMergeState(out);
      assert.equal(out.threads.length, 2, "waiter and the main thread");
      const main = threadOf(out, "main");
      assert.deepEqual(main.status, ["Has the GIL"], "the main thread keeps the GIL");
      assert.deepEqual(
        fixtureEntries(main, out.file),
        ordered(out, "main", [
          { py: ["<module>", "main"] },
          {
            c: [
              `c:hold_gil_and_wait@${FIXTURE_LIB}`,
              `c:pystack_fixture_cxx_wait@${FIXTURE_LIB}`,
              `c:fixture::Latch::wait()@${FIXTURE_LIB}`,
              // libstdc++'s template, inlined into Latch::wait, demangled.
              "c:void std::condition_variable::wait<fixture::Latch::wait()::{lambda()#1}>" +
              "(std::unique_lock<std::mutex>&, fixture::Latch::wait()::{lambda()#1})" +
              `@${FIXTURE_LIB} inlined`,
            ],
          },
        ]),
      );
      const mainStack = main.stack;
      const latch = indexOf(
        mainStack,
        (e) => isNative(e) && e.func === "fixture::Latch::wait()",
        "the latch",
      );
      indexOf(
        mainStack.slice(latch),
        (e) => isNative(e) && /^libc\.so/.test(lib(e)),
        "libc's wait under the latch",
      );
      const waiter = threadOf(out, "other", "waiter");
      assert.deepEqual(
        fixtureEntries(waiter, out.file),
        ordered(out, "waiter", [
          { py: ["wait_for_gil"] },
          { c: [`c:release_gil_and_return@${FIXTURE_LIB}`] },
        ]),
      );
      // Without local names in the interpreter, take_gil cannot be recognised.
      assert.deepEqual(
        waiter.status,
        out.named ? ["Waiting for the GIL"] : [],
        "the waiter waits for the GIL",
      );
      if (!out.named) return;
      const waiterStack = waiter.stack;
      const release = indexOf(
        waiterStack,
        (e) => isNative(e) && e.func === "release_gil_and_return",
        "release_gil_and_return",
      );
      // 2.7's GIL is a lock: the interpreter takes it with PyThread_acquire_lock.
      const taker = out.version[0] === 2 ? "PyThread_acquire_lock" : "take_gil";
      indexOf(
        waiterStack.slice(release),
        (e) => isNative(e) && new RegExp(`^${taker}\\b`).test(e.func),
        `${taker} under release_gil_and_return`,
      );
    },
  }],
};

const NATIVE_GC: NativeFixture = {
  key: "native_gc",
  file: "gc_collecting.py",
  extension: false,
  runs: [{
    flag: "--native",
    check(out) {
      checkMergeState(out);
      const main = threadOf(out, "main");
      assert.deepEqual(
        main.status,
        [out.freeThreaded ? "Attached" : "Has the GIL", "Garbage collecting"],
        "the main thread collects (and holds the GIL, or is attached)",
      );
      const sleeper = threadOf(out, "other", "sleeper");
      assert.deepEqual(sleeper.status, [], "the sleeper does not collect");
      if (!out.named) {
        // The collector's functions have no name: the C frames of gc.collect() before __del__.
        const call = indexOf(main.stack, (e) => !isNative(e) && e.func === "collect_garbage", "gc");
        const del = indexOf(main.stack, (e) => !isNative(e) && e.func === "__del__", "__del__");
        const between = main.stack.slice(call + 1, del);
        assert.ok(between.length > 0 && between.every(isNative), "C frames between the two");
        return;
      }
      const collect = indexOf(
        main.stack,
        (e) => isNative(e) && /^(collect|gc_collect_main)\b/.test(e.func),
        "the collector's main function",
      );
      indexOf(
        main.stack.slice(collect),
        (e) => !isNative(e) && e.func === "__del__",
        "__del__ run by the collector",
      );
    },
  }],
};

/**
 * Whether the local (unexported) functions of `python` and of its libc have names.
 * Debian sid's builds and libc are stripped, without debug information: `take_gil`,
 * `gc_collect_main`, `time_sleep`, `__libc_start_call_main` and `start_thread` show
 * as `???`. Their evaluation loop, whose body GCC moved out of the exported
 * `_PyEval_EvalFrameDefault` into an unnamed `.cold` part, is still recognised
 * (`src/native/eval_body.ts`), so their stacks merge like the others.
 */
function localsNamed(python: Python): boolean {
  return !/-sid\b/.test(python.id);
}

/** Every native fixture. */
export const NATIVE_FIXTURES = [NATIVE_CALLS, NATIVE_QSORT, NATIVE_GIL_DEADLOCK, NATIVE_GC];

/** Why `python` cannot run the native fixtures on `backend`, if it cannot (no compiler: no row). */
export function nativeSkip(python: Python, backend: Backend): Skip | undefined {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  return buildSkip() ?? (backend === "core" ? makerSkip(coreMaker(python)) : undefined);
}

/**
 * How the `core` backend dumps the fixture: `gcore`, or the kernel (after SIGABRT) for
 * interpreters whose processes gcore cannot dump whole (`Python.gcoreSkip`).
 */
function coreMaker(python: Python): CoreMaker {
  return python.gcoreSkip === undefined ? "gcore" : "kernel-abrt";
}

/** Register `native python=… fixture=… backend=…` for every interpreter and fixture. */
export async function registerNativeTests(backend: Backend): Promise<void> {
  for (const python of await findPythons()) {
    for (const fixture of NATIVE_FIXTURES) {
      const name = `native python=${python.id} fixture=${fixture.key} backend=${backend}`;
      registerTest(name, nativeSkip(python, backend), async () => {
        await checkNative(python, fixture, backend);
      });
    }
  }
}

async function checkNative(python: Python, fixture: NativeFixture, backend: Backend) {
  const env: Record<string, string> = fixture.extension
    ? { PYSTACK_FIXTURE_EXT: (await nativeExtension(python)).dir }
    : {};
  const frames = await expectedFrames(fixture.file);
  const check = (result: PystackResult, run: NativeRun, pid: number) => {
    try {
      assert.equal(result.code, 0, "exit code");
      assert.equal(result.stderr, "", "nothing on stderr");
      const text = backend === "core" ? stripCoreHeader(result.stdout) : result.stdout;
      run.check({
        threads: parseNativeTraceback(text),
        pid,
        backend,
        frames,
        file: fixture.file,
        named: localsNamed(python),
        version: python.version,
        freeThreaded: python.freeThreaded === true,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\n${describeRun(result)}`, { cause: error });
    }
  };
  if (backend === "live") {
    await using running = await startFixture(python, fixture.file, { env });
    for (const run of fixture.runs) {
      check(await runPystack(["remote", String(running.pid), run.flag]), run, running.pid);
    }
    return;
  }
  await using core = await fixtureCore(python, fixture.file, coreMaker(python), { env });
  const run = fixture.runs[0]!;
  check(await runPystack(["core", core.path, run.flag]), run, core.pid);
}

/** The stacks of `pystack core` output: what follows the header's blank-line-separated blocks. */
function stripCoreHeader(stdout: string): string {
  const at = stdout.indexOf("\nTraceback for thread ");
  return at < 0 ? stdout : stdout.slice(at + 1);
}
