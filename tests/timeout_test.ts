/**
 * `--timeout SECONDS` on real processes and cores: a run cut between two
 * reads prints the threads read so far with a marker (text and JSON); a run
 * stuck inside one call (the test hold) is ended by the watchdog; both exit
 * with 10, within the bound plus a generous slack and not before it, and the
 * target runs on afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  expectedFrames,
  parseTraceback,
  type PystackResult,
  registerTest,
  runPystack,
  sleep,
  startFixture,
  threadName,
  threadSnapshot,
  type TracebackThread,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { fixtureCore, gcoreSkip } from "./_cores.ts";
import { assertValidProcesses, assertValidReport } from "./_json_schema.ts";
import { assertValidWatch } from "./_watch_json.ts";
import { BACKSTOP_GRACE_MS } from "../src/cli/timeout_guard.ts";
import { FRAME_BATCH } from "../src/walk/frames.ts";

const pythons = await findPythons();
const python = pythons.find((p) => p.id === "3.12-pyenv" && !p.missing) ??
  pythons.find((p) => !remoteSkip(p))!;
const skip = remoteSkip(python);

/**
 * Slack on top of a bound, for a loaded machine: a run must end before bound + grace + this.
 * It is far below the test hold (30 s), so a run the bound did not end fails the test.
 */
const SLACK_MS = 8_000;
/** The test hold: longer than any bound here plus its slack. */
const HOLD_MS = 30_000;

/** Runs pystack with `args` and `env`; its result and how long it ran (ms, from the spawn). */
async function timedRun(
  args: string[],
  env: Record<string, string>,
): Promise<PystackResult & { elapsedMs: number }> {
  const started = performance.now();
  const result = await runPystack(args, { env, timeoutMs: HOLD_MS + 10_000 });
  return { ...result, elapsedMs: performance.now() - started };
}

/** The run ended after `seconds` (pystack's bound counts from its own start) and in time. */
function checkBound(
  run: { elapsedMs: number } & PystackResult,
  seconds: number,
  graceMs: number,
): void {
  assert.ok(
    run.elapsedMs >= seconds * 1000,
    `did not end before the bound (${run.elapsedMs.toFixed(0)} ms)\n${describeRun(run)}`,
  );
  assert.ok(
    run.elapsedMs < seconds * 1000 + graceMs + SLACK_MS,
    `ended within the bound plus slack (${run.elapsedMs.toFixed(0)} ms)\n${describeRun(run)}`,
  );
}

/** Every thread of `pid` runs (not stopped, not traced) within 2 s. */
async function checkRunsOn(pid: number): Promise<void> {
  const until = Date.now() + 2_000;
  const stopped = () =>
    [...threadSnapshot(pid)].filter(([, t]) => t.tracerPid !== 0 || /[tT]/.test(t.state));
  while (stopped().length > 0 && Date.now() < until) await sleep(10);
  assert.deepEqual(stopped(), [], "no thread of the target is stopped or traced");
}

/** A later plain `pystack remote` reads all four threads of named_threads: the target responds. */
async function checkResponds(pid: number): Promise<void> {
  const later = await runPystack(["remote", String(pid)]);
  assert.equal(later.code, 0, describeRun(later));
  const threads = parseTraceback(later.stdout);
  assert.deepEqual(
    threads.map((t) => t.tid === pid ? "main" : t.name),
    ["worker-3", "worker-2", "worker-1", "main"],
    "a later run reads every thread",
  );
}

/** Threads worker-3 and worker-2, as named_threads.py's markers say, and nothing else. */
async function checkFirstTwoThreads(
  threads: readonly TracebackThread[],
  pid: number,
): Promise<void> {
  const expected = await expectedFrames("named_threads.py");
  assert.deepEqual(threads.map((t) => t.name), ["worker-3", "worker-2"], "the newest two threads");
  for (const thread of threads) {
    assert.equal(threadName(pid, thread.tid), thread.name, `tid ${thread.tid} is ${thread.name}`);
    const ours = thread.frames.filter((f) => f.file.endsWith("/named_threads.py"));
    const want = expected.get(thread.name!)!;
    assert.deepEqual(ours.map((f) => f.func), want.map((f) => f.func), `${thread.name}'s frames`);
    ours.forEach((f, i) => assert.ok(want[i]!.lines.includes(f.line), `${f.func} line ${f.line}`));
  }
}

const SLOW = { _PYSTACK_TEST_SLOW_AFTER_THREADS: "2" };

for (const candidate of pythons) {
  registerTest(
    `timeout python=${candidate.id} remote cut after two threads: those threads, the marker, ` +
      "exit 10",
    remoteSkip(candidate),
    async () => {
      await using target = await startFixture(candidate, "named_threads.py");
      const run = await timedRun(["remote", String(target.pid), "--timeout", "3"], SLOW);
      try {
        assert.equal(run.code, 10);
        checkBound(run, 3, BACKSTOP_GRACE_MS);
        const lines = run.stdout.trimEnd().split("\n");
        assert.equal(
          lines.at(-1),
          "(!) Timed out after 3.0 s (--timeout) while reading threads: 2 of 4 threads shown",
        );
        await checkFirstTwoThreads(parseTraceback(run.stdout), target.pid);
        assert.equal(
          run.stderr,
          "pystack: Timed out after 3.0 s (--timeout) while reading threads: 2 of 4 threads " +
            "shown\n",
        );
      } catch (error) {
        throw withRun(error, run);
      }
      await checkRunsOn(target.pid);
      await checkResponds(target.pid);
    },
  );
}

for (
  const [option, stage, unread] of [
    ["--locals", "locals", /^ {6}(Arguments|Locals):$/m],
    ["--native", "native frames", /^ {4}\(C\) /m],
  ] as const
) {
  registerTest(
    `timeout python=${python.id} remote ${option} cut at ${stage}: every thread, without them`,
    skip,
    async () => {
      await using target = await startFixture(python, "named_threads.py");
      const run = await timedRun(["remote", String(target.pid), option, "--timeout", "1.5"], {
        _PYSTACK_TEST_SLOW_STAGE: stage,
      });
      assert.equal(run.code, 10, describeRun(run));
      checkBound(run, 1.5, BACKSTOP_GRACE_MS);
      assert.equal(
        run.stdout.trimEnd().split("\n").at(-1),
        `(!) Timed out after 1.5 s (--timeout) while reading ${stage}: 4 of 4 threads shown; ` +
          `${stage} and what comes after it are incomplete`,
      );
      assert.deepEqual(
        parseTraceback(run.stdout).map((t) => t.tid === target.pid ? "main" : t.name),
        ["worker-3", "worker-2", "worker-1", "main"],
        describeRun(run),
      );
      assert.doesNotMatch(run.stdout, unread, `no ${stage} read after the bound`);
      await checkRunsOn(target.pid);
    },
  );
}

registerTest(
  `timeout python=${python.id} remote cut inside a deep stack: its newest frames, marked`,
  skip,
  async () => {
    await using target = await startFixture(python, "deep_recursion.py");
    const run = await timedRun(["remote", String(target.pid), "--timeout", "1.5"], {
      _PYSTACK_TEST_SLOW_STAGE: "frames",
    });
    assert.equal(run.code, 10, describeRun(run));
    checkBound(run, 1.5, BACKSTOP_GRACE_MS);
    const [thread, ...others] = parseTraceback(run.stdout);
    assert.deepEqual(others, []);
    assert.equal(thread!.tid, target.pid);
    // The walk runs from the newest frame: the first 256 read are kept, <module> is not.
    assert.equal(thread!.frames.length, FRAME_BATCH, describeRun(run));
    assert.ok(thread!.frames.every((f) => f.func === "recurse" && f.file === target.scriptPath));
    const lines = thread!.frames.map((f) => f.line);
    const sleepLine = lines.at(-1)!;
    assert.ok(lines.slice(0, -1).every((l) => l === sleepLine - 3), "recurse() calls above");
    assert.equal(
      thread!.extra.find((l) => l.includes("(!)"))?.trim(),
      `(!) Stack may be incomplete: stopped after ${FRAME_BATCH} frames: the time was up ` +
        "(--timeout); the oldest frames are missing",
    );
    assert.equal(
      run.stdout.trimEnd().split("\n").at(-1),
      "(!) Timed out after 1.5 s (--timeout) while reading frames: 1 of 1 threads shown",
    );
    await checkRunsOn(target.pid);
  },
);

registerTest(
  `timeout python=${python.id} remote --no-block cut after two threads: read once, marked`,
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    const run = await timedRun(
      ["remote", String(target.pid), "--no-block", "--timeout", "3"],
      SLOW,
    );
    assert.equal(run.code, 10, describeRun(run));
    checkBound(run, 3, BACKSTOP_GRACE_MS);
    const threads = parseTraceback(run.stdout);
    await checkFirstTwoThreads(threads, target.pid);
    for (const thread of threads) {
      assert.deepEqual(
        thread.extra.filter((l) => l.includes("(!) Stack")).map((l) => l.trim()),
        [
          "(!) Stack may be incomplete: read once only (--no-block, --timeout): the stack may " +
          "be inconsistent",
        ],
        `${thread.name}: not read a second time`,
      );
    }
    assert.equal(
      run.stdout.trimEnd().split("\n").at(-1),
      "(!) Timed out after 3.0 s (--timeout) while reading threads: 2 of 4 threads shown",
    );
  },
);

registerTest(
  `timeout python=${python.id} remote --no-block cut in its second read: the threads it did ` +
    "not reread are marked read once, not changed",
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    // Slow after 7 thread checks: the whole first read, then two threads of the second.
    const run = await timedRun(
      ["remote", String(target.pid), "--no-block", "--timeout", "3"],
      { _PYSTACK_TEST_SLOW_AFTER_THREADS: "7" },
    );
    assert.equal(run.code, 10, describeRun(run));
    const threads = parseTraceback(run.stdout);
    const marker = (name: string) =>
      threads.find((t) => (t.tid === target.pid ? "main" : t.name) === name)!.extra
        .filter((l) => l.includes("(!) Stack")).map((l) => l.trim());
    const readOnce = "(!) Stack may be incomplete: read once only (--no-block, --timeout): the " +
      "stack may be inconsistent";
    assert.deepEqual(
      ["worker-3", "worker-2", "worker-1", "main"].map(marker),
      [[], [], [readOnce], [readOnce]],
      describeRun(run),
    );
  },
);

registerTest(
  `timeout python=${python.id} remote --json cut after two threads: timedOut, schema-valid`,
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    const run = await timedRun(
      ["remote", String(target.pid), "--json", "--timeout", "3"],
      SLOW,
    );
    assert.equal(run.code, 10, describeRun(run));
    checkBound(run, 3, BACKSTOP_GRACE_MS);
    const doc = JSON.parse(run.stdout);
    assertValidReport(doc);
    assert.deepEqual(doc.timedOut, {
      seconds: 3,
      stage: "threads",
      threadsShown: 2,
      threadsFound: 4,
      interpretersSkipped: false,
    });
    assert.deepEqual(
      doc.threads.map((t: { name: string; tid: number }) => threadName(target.pid, t.tid)),
      ["worker-3", "worker-2"],
    );
    assert.deepEqual(doc.interpreters.map((i: { threadStates: number }) => i.threadStates), [4]);
    await checkRunsOn(target.pid);
  },
);

for (const options of [[], ["--native"]]) {
  registerTest(
    `timeout python=${python.id} remote ${
      options.map((o) => `${o} `).join("")
    }held past the bound: the watchdog ` +
      "ends it, target runs on",
    skip,
    async () => {
      await using target = await startFixture(python, "named_threads.py");
      const heldFile = `${target.dir}/held`;
      const run = await timedRun(["remote", String(target.pid), ...options, "--timeout", "1"], {
        _PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS: String(HOLD_MS),
        _PYSTACK_TEST_HELD_FILE: heldFile,
      });
      assert.equal(Deno.readTextFileSync(heldFile), "held", "pystack held the target");
      assert.equal(run.code, 10, describeRun(run));
      checkBound(run, 1, BACKSTOP_GRACE_MS);
      assert.equal(run.stdout, "", "no stacks printed");
      assert.equal(
        run.stderr,
        "pystack: Timed out after 1.0 s (--timeout) inside one step that could not be cut short: " +
          "no stacks printed; pystack exits, which releases the target; try again with a longer " +
          "--timeout, or run with -v to see where the time goes\n",
      );
      await checkRunsOn(target.pid);
      await checkResponds(target.pid);
    },
  );
}

registerTest(
  `timeout python=${python.id} remote --json held past the bound: the timed_out error document`,
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    const run = await timedRun(["remote", String(target.pid), "--json", "--timeout", "1"], {
      _PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS: String(HOLD_MS),
    });
    assert.equal(run.code, 10, describeRun(run));
    checkBound(run, 1, BACKSTOP_GRACE_MS);
    const doc = JSON.parse(run.stdout);
    assertValidReport(doc);
    assert.equal(doc.error.code, "timed_out");
    assert.equal(doc.error.exitCode, 10);
    assert.match(doc.error.message, /^Timed out after 1\.0 s \(--timeout\) inside one step/);
    assert.equal(run.stderr.split("\n").length, 2, "one line on stderr");
    await checkRunsOn(target.pid);
  },
);

registerTest(
  `timeout python=${python.id} remote --json read slowly: the report is printed whole, ` +
    "the backstop does not cut the output",
  skip,
  async () => {
    await using target = await startFixture(python, "deep_recursion.py");
    // 500 frames of JSON fill the pipe; its reader starts after the bound and the backstop's grace.
    const waitS = (1000 + BACKSTOP_GRACE_MS + 1000) / 1000;
    const run = await runPystack(["remote", String(target.pid), "--json", "--timeout", "1"], {
      wrapper: ["bash", "-c", `set -o pipefail; "$@" | { sleep ${waitS}; cat; }`, "bash"],
      timeoutMs: HOLD_MS,
    });
    assert.equal(run.code, 0, describeRun(run));
    assert.equal(run.stderr, "", describeRun(run));
    assert.ok(run.stdout.length > 65_536, "more than a pipe holds");
    const doc = JSON.parse(run.stdout);
    assertValidReport(doc);
    assert.equal(doc.timedOut, undefined);
    const main = doc.threads.find((t: { tid: number }) => t.tid === target.pid);
    assert.equal(
      main.frames.filter((f: { function: string }) => f.function === "recurse").length,
      500,
    );
  },
);

registerTest(
  `timeout python=${python.id} remote in time: no marker, exit 0, no watchdog left behind`,
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    const run = await timedRun(["remote", String(target.pid), "--timeout", "30"], {});
    assert.equal(run.code, 0, describeRun(run));
    assert.equal(parseTraceback(run.stdout).length, 4);
    assert.doesNotMatch(run.stdout, /Timed out/);
    assert.equal(run.stderr, "");
    assert.ok(run.elapsedMs < 30_000, "the watchdog does not keep pystack alive");
  },
);

registerTest(
  `timeout python=${python.id} core cut after two threads: those threads and the marker`,
  skip ?? gcoreSkip(),
  async () => {
    await using core = await fixtureCore(python, "named_threads.py", "gcore");
    const run = await timedRun(["core", core.path, "--timeout", "3"], SLOW);
    assert.equal(run.code, 10, describeRun(run));
    checkBound(run, 3, BACKSTOP_GRACE_MS);
    assert.equal(
      run.stdout.trimEnd().split("\n").at(-1),
      "(!) Timed out after 3.0 s (--timeout) while reading threads: 2 of 4 threads shown",
    );
    // The names the threads had when the core was made (a core records no thread names).
    const threads = parseTraceback(run.stdout);
    assert.deepEqual(
      threads.map((t) => core.live.osThreads.get(t.tid)?.name),
      ["worker-3", "worker-2"],
      describeRun(run),
    );
    assert.match(
      run.stderr,
      /^pystack: Timed out after 3\.0 s \(--timeout\) while reading threads/m,
    );
  },
);

registerTest(
  `timeout python=${python.id} watch ends sampling at the bound, prints the summary, exit 10`,
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    const run = await timedRun(
      ["watch", String(target.pid), "--duration", "60s", "--timeout", "1.5"],
      {},
    );
    assert.equal(run.code, 10, describeRun(run));
    checkBound(run, 1.5, BACKSTOP_GRACE_MS);
    assert.match(run.stdout, /^Sampling ended early: timed out after 1\.5 s \(--timeout\)$/m);
    for (const name of ["worker-1", "worker-2", "worker-3"]) {
      assert.ok(run.stdout.includes(name), `${name} is in the summary\n${describeRun(run)}`);
    }
    assert.equal(
      run.stderr,
      "pystack: Timed out after 1.5 s (--timeout): sampling ended early; the summary covers " +
        "the samples taken\n",
    );
    await checkRunsOn(target.pid);
  },
);

registerTest(
  `timeout python=${python.id} watch --json at the bound: endedEarly, schema-valid`,
  skip,
  async () => {
    await using target = await startFixture(python, "named_threads.py");
    const run = await timedRun(
      ["watch", String(target.pid), "--interval", "10s", "--json", "--timeout", "1"],
      {},
    );
    assert.equal(run.code, 10, describeRun(run));
    // The wait between samples (10 s) ends at the bound: no watchdog needed.
    checkBound(run, 1, BACKSTOP_GRACE_MS);
    const doc = JSON.parse(run.stdout);
    assertValidWatch(doc);
    assert.equal(doc.watch.endedEarly, "timed out after 1.0 s (--timeout)");
    assert.equal(doc.watch.samples, 1, "one sample, then the wait ended at the bound");
  },
);

registerTest(
  `timeout python=${python.id} remote --subprocesses cut in the third process: the rest skipped`,
  skip,
  async () => {
    await using fixture = await startFixture(python, "mp_parent.py");
    const children = Deno.readTextFileSync(`${fixture.readyPath}.pids`).split(" ").map(Number);
    try {
      const [worker1, worker2, sleeper] = children as [number, number, number];
      // Each process has one thread: the parent and worker-1 are read, worker-2 is cut.
      const env = { _PYSTACK_TEST_SLOW_AFTER_THREADS: "2" };
      const summary = `Timed out after 1.5 s (--timeout) while reading threads: 0 of 1 threads ` +
        `shown in process ${worker2}; 2 of 4 processes read in full`;
      const text = await timedRun(
        ["remote", String(fixture.pid), "--subprocesses", "--timeout", "1.5"],
        env,
      );
      assert.equal(text.code, 10, describeRun(text));
      checkBound(text, 1.5, BACKSTOP_GRACE_MS);
      assert.equal(text.stdout.trimEnd().split("\n").at(-1), `(!) ${summary}`, describeRun(text));
      assert.match(text.stdout, /^ {4}skipped: not read: the time was up \(--timeout\)$/m);
      assert.equal(text.stderr, `pystack: ${summary}\n`);
      const json = await timedRun(
        ["remote", String(fixture.pid), "--subprocesses", "--json", "--timeout", "1.5"],
        env,
      );
      assert.equal(json.code, 10, describeRun(json));
      type Outcome = {
        pid: number;
        status: string;
        reason: string | null;
        report: { threads: unknown[]; timedOut?: { threadsShown: number } } | null;
      };
      const doc: { processes: Outcome[] } = JSON.parse(json.stdout);
      assertValidProcesses(doc);
      assert.deepEqual(
        doc.processes.map((p) => [
          p.pid,
          p.status,
          p.reason,
          p.report?.threads.length ?? null,
          p.report?.timedOut?.threadsShown ?? null,
        ]),
        [
          [fixture.pid, "read", null, 1, null],
          [worker1, "read", null, 1, null],
          [worker2, "read", null, 0, 0],
          [sleeper, "skipped", "not read: the time was up (--timeout)", null, null],
        ],
      );
      for (const pid of [fixture.pid, worker1, worker2]) await checkRunsOn(pid);
    } finally {
      for (const pid of children) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  },
);

registerTest("timeout bad values are usage errors (exit 2, one line)", undefined, async () => {
  for (const value of ["0", "-1", "abc", "1s"]) {
    const run = await runPystack(["remote", "1", `--timeout=${value}`]);
    assert.equal(run.code, 2, describeRun(run));
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr,
      `pystack: Invalid --timeout '${value}': expected a number of seconds greater than 0 and ` +
        "at most 86400; for example --timeout 2 or --timeout 0.5\n",
    );
  }
  const json = await runPystack(["core", "/nonexistent", "--json", "--timeout", "0"]);
  assert.equal(json.code, 2);
  const doc = JSON.parse(json.stdout);
  assertValidReport(doc);
  assert.equal(doc.error.code, "usage");
  const demo = await runPystack(["demo", "--timeout", "1"]);
  assert.equal(demo.code, 2);
  assert.equal(
    demo.stderr,
    "pystack: Option --timeout does not apply to 'demo'; see 'pystack --help'\n",
  );
});
