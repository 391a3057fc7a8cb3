/**
 * `--native-all` on targets without a Python interpreter: a C program
 * (`fixtures/native/no_python.c`, built here with `cc -O0 -g`), the same
 * program with libpython loaded but never initialised, and `sleep 100`; live
 * and from gcore's cores. Every thread is shown with its native frames, one
 * warning says that no interpreter was found, and `--native` (Python threads
 * only) still fails as before.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  FIXTURES_DIR,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startCommand,
} from "./_harness.ts";
import { isNative, type NativeThread, parseNativeTraceback } from "./_native_traceback.ts";
import { gcoreSkip, makeCore, onPath, startCoreTarget } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";
import { findPythons } from "./_pythons.ts";

const SOURCE = `${FIXTURES_DIR}native/no_python.c`;
const buildSkip: Skip | undefined = onPath("cc")
  ? undefined
  : { reason: "cc is not installed", missing: true };
const coreSkip = buildSkip ?? gcoreSkip();

/** A libpython to load without initialising it (pyenv's shared 3.12), if there is one. */
const libpython = await (async () => {
  const python = (await findPythons()).find((p) => p.id === "3.12-pyenv");
  if (python === undefined || python.missing) return undefined;
  const path = python.path.replace(/\/bin\/[^/]+$/, "/lib/libpython3.12.so.1.0");
  try {
    Deno.statSync(path);
    return path;
  } catch {
    return undefined;
  }
})();

/** `@line NAME` markers of the fixture: NAME to line number. */
const LINES = new Map(
  Deno.readTextFileSync(SOURCE).split("\n").flatMap((text, i) => {
    const marker = /@line (\w+)/.exec(text);
    return marker ? [[marker[1]!, i + 1] as const] : [];
  }),
);

/** The path of `command` on PATH. */
function which(command: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${command}`).isFile) return `${dir}/${command}`;
    } catch {
      // not there
    }
  }
  throw new Error(`${command} is not on PATH`);
}

let built: Promise<string> | undefined;

/** The fixture, compiled once per test process (removed at unload). */
function fixture(): Promise<string> {
  return built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "pystack-no-python-" });
    addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const out = `${dir}/no_python`;
    const result = await new Deno.Command("cc", {
      args: ["-O0", "-g", "-pthread", "-o", out, SOURCE, "-ldl"],
      stdin: "null",
    }).output();
    if (!result.success) throw new Error(`cc failed: ${new TextDecoder().decode(result.stderr)}`);
    return out;
  })();
}

const WARNING = new RegExp(
  "^pystack: warning: no Python interpreter found in (process \\d+ \\(.*\\)|core .*): .*; " +
    "showing the native stacks of its threads only \\(--native-all\\)\n$",
);

/** The threads of a `--native-all` run, checked for what every such run shows. */
function nativeThreads(result: PystackResult, reason: RegExp): NativeThread[] {
  assert.equal(result.code, 0, "exit code");
  assert.match(result.stderr, WARNING, "one warning: no interpreter");
  assert.match(result.stderr, reason, "the warning says why");
  const at = result.stdout.indexOf("Traceback for thread ");
  assert.ok(at >= 0, "threads are printed");
  const threads = parseNativeTraceback(result.stdout.slice(at));
  for (const thread of threads) {
    assert.deepEqual(thread.status, [], `thread ${thread.tid}: no status`);
    assert.equal(thread.frames.length, 0, `thread ${thread.tid}: no Python frames`);
    assert.ok(thread.stack.length > 0, `thread ${thread.tid}: native frames`);
  }
  return threads;
}

/** The fixture's two threads: main in main_wait, c-worker in worker_wait, at the marked lines. */
function checkFixtureThreads(threads: NativeThread[], pid: number, library: string): void {
  assert.equal(threads.length, 2, "two threads");
  assert.ok(threads.some((t) => t.tid === pid), "the main thread");
  const own = (thread: NativeThread) =>
    thread.stack.filter(isNative).filter((f) => f.library === library).map((f) =>
      `${f.func} ${f.file.endsWith("no_python.c") ? "no_python.c" : f.file}:${f.line}`
    );
  const main = threads.find((t) => t.tid === pid)!;
  const worker = threads.find((t) => t.tid !== pid)!;
  assert.deepEqual(own(main).slice(-2), [
    `main no_python.c:${LINES.get("main")}`,
    `main_wait no_python.c:${LINES.get("main_wait")}`,
  ]);
  assert.deepEqual(own(worker), [
    `worker no_python.c:${LINES.get("worker")}`,
    `worker_wait no_python.c:${LINES.get("worker_wait")}`,
  ]);
  const innermost = worker.stack.at(-1);
  assert.ok(innermost && isNative(innermost) && /libc\.so/.test(innermost.library), "in libc");
  assert.ok(
    innermost && isNative(innermost) && /pause/.test(innermost.func),
    "the worker waits in pause()",
  );
}

function withRun(result: PystackResult, check: () => void): void {
  try {
    check();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n${describeRun(result)}`, { cause: error });
  }
}

registerTest("native-all no-interpreter program=c backend=live", buildSkip, async () => {
  const exe = await fixture();
  await using target = await startCoreTarget([exe, "{dir}/ready"], { readyFile: "ready" });
  const result = await runPystack(["remote", String(target.pid), "--native-all"]);
  withRun(result, () => {
    const threads = nativeThreads(result, /it is not a Python process/);
    checkFixtureThreads(threads, target.pid, exe);
    assert.equal(threads.find((t) => t.tid !== target.pid)!.name, "c-worker", "OS thread name");
  });
  // Python threads only: nothing to show, the error as before.
  const python = await runPystack(["remote", String(target.pid), "--native"]);
  withRun(python, () => {
    assert.equal(python.code, 5, "not a Python process");
    assert.equal(python.stdout, "");
  });
});

registerTest(
  "native-all no-interpreter program=c+libpython(not initialised) backend=live",
  buildSkip ??
    (libpython === undefined
      ? { reason: "pyenv's shared CPython 3.12 is not installed", missing: true }
      : undefined),
  async () => {
    const exe = await fixture();
    await using target = await startCoreTarget([exe, "{dir}/ready", libpython!], {
      readyFile: "ready",
    });
    const result = await runPystack(["remote", String(target.pid), "--native-all"]);
    withRun(result, () => {
      const threads = nativeThreads(result, /no Python interpreter state found in Python 3\.12/);
      checkFixtureThreads(threads, target.pid, exe);
    });
  },
);

registerTest("native-all no-interpreter program=sleep backend=live", undefined, async () => {
  await using sleep = await startCommand(["sleep", "100"]);
  const result = await runPystack(["remote", String(sleep.pid), "--native-all"]);
  let textFrames = 0;
  withRun(result, () => {
    const threads = nativeThreads(result, /it is not a Python process/);
    textFrames = threads[0]?.stack.length ?? 0;
    assert.equal(threads.length, 1, "one thread");
    assert.equal(threads[0]!.tid, sleep.pid);
    assert.equal(threads[0]!.name, "sleep");
    const innermost = threads[0]!.stack.at(-1)!;
    assert.ok(isNative(innermost) && /nanosleep/.test(innermost.func), "in nanosleep");
  });
  const json = await runPystack(["remote", String(sleep.pid), "--native-all", "--json"]);
  withRun(json, () => {
    assert.equal(json.code, 0);
    const doc = JSON.parse(json.stdout);
    assertValidReport(doc);
    assert.equal(doc.target.pythonVersion, "unknown");
    assert.equal(doc.target.foundBy, "not found");
    assert.equal(doc.threads.length, 1);
    assert.deepEqual(doc.threads[0].frames, []);
    // The same native frames as the text run, innermost in nanosleep.
    const native = doc.threads[0].native as { symbol: string | null }[];
    assert.equal(native.length, textFrames, "as many native frames as the text");
    assert.match(native.at(-1)!.symbol ?? "", /nanosleep/, "innermost in nanosleep");
    assert.match(doc.warnings[0], /^no Python interpreter found in process/);
  });
});

registerTest("native-all no-interpreter program=c backend=core", coreSkip, async () => {
  const exe = await fixture();
  await using target = await startCoreTarget([exe, "{dir}/ready"], { readyFile: "ready" });
  const core = await makeCore(target, "gcore");
  const result = await runPystack(["core", core.path, "--native-all"]);
  withRun(result, () => {
    const threads = nativeThreads(result, /it is not a Python process/);
    checkFixtureThreads(threads, core.pid, "no_python");
  });
});

registerTest(
  "native-all no-interpreter program=sleep backend=core",
  gcoreSkip(),
  async () => {
    await using target = await startCoreTarget([which("sleep"), "100"]);
    const core = await makeCore(target, "gcore");
    const result = await runPystack(["core", core.path, "--native-all"]);
    withRun(result, () => {
      const threads = nativeThreads(result, /it is not a Python process/);
      assert.equal(threads.length, 1, "one thread");
      const innermost = threads[0]!.stack.at(-1)!;
      assert.ok(isNative(innermost) && /nanosleep/.test(innermost.func), "in nanosleep");
    });
  },
);
