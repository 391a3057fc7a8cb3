/**
 * `remote --subprocesses` on `fixtures/mp_parent.py`: a multiprocessing parent,
 * two forked workers and a `sleep` child. The parent and both workers are
 * dumped, `sleep` is listed as skipped, a killed worker (a zombie until its
 * parent reaps it) is noted as exited; `--group` groups across processes.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  FIXTURES_DIR,
  registerTest,
  type RunningFixture,
  runPystack,
  startFixture,
  threadName,
  tracerPid,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { assertValidProcesses } from "./_json_schema.ts";
import { containerSkip, startContainerFixture } from "./_container.ts";

const pythons = await findPythons();
const FIXTURE = "mp_parent.py";
const SOURCE = Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n");
const line = (marker: string) => SOURCE.findIndex((l) => l.endsWith(`# @mp ${marker}`)) + 1;

function skipOf(python: Python) {
  const reason = python.unavailable ?? python.missing;
  return reason === undefined ? undefined : { reason, missing: python.missing !== undefined };
}

/** The pids the fixture wrote: worker-1, worker-2, sleep. */
function childPids(fixture: RunningFixture): [number, number, number] {
  const pids = Deno.readTextFileSync(`${fixture.readyPath}.pids`).split(" ").map(Number);
  assert.equal(pids.length, 3);
  return pids as [number, number, number];
}

/** Kills what the fixture started (its children outlive a SIGKILLed parent). */
function killChildren(pids: number[]): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

interface JsonProcess {
  pid: number;
  parent: number | null;
  depth: number;
  commandLine: string;
  status: string;
  reason: string | null;
  report:
    | { threads: { tid: number; frames: { file: string; function: string; line: number }[] }[] }
    | null;
}

for (const python of pythons) {
  registerTest(
    `remote --subprocesses dumps the parent and both workers python=${python.id}`,
    skipOf(python),
    async () => {
      await using fixture = await startFixture(python, FIXTURE);
      const [w1, w2, sleeper] = childPids(fixture);
      try {
        const json = await runPystack(["remote", String(fixture.pid), "--subprocesses", "--json"]);
        assert.equal(json.code, 0, describeRun(json));
        const doc: { processes: JsonProcess[] } = JSON.parse(json.stdout);
        assertValidProcesses(doc);
        const processes = doc.processes;
        assert.deepEqual(
          processes.map((p) => [p.pid, p.parent, p.depth, p.status, p.reason]),
          [
            [fixture.pid, null, 0, "read", null],
            [w1, fixture.pid, 1, "read", null],
            [w2, fixture.pid, 1, "read", null],
            [sleeper, fixture.pid, 1, "skipped", "not a Python process"],
          ].sort((a, b) => a[2] === 0 ? -1 : b[2] === 0 ? 1 : (a[0] as number) - (b[0] as number)),
        );
        assert.equal(processes.find((p) => p.pid === sleeper)!.commandLine, "sleep 1000");
        const innermost = (pid: number) => {
          const p = processes.find((p) => p.pid === pid)!;
          assert.equal(p.report!.threads.length, 1);
          assert.equal(p.report!.threads[0]!.tid, pid);
          return p.report!.threads[0]!.frames.at(-1)!;
        };
        for (const worker of [w1, w2]) {
          const f = innermost(worker);
          assert.deepEqual([f.file, f.function, f.line], [
            fixture.scriptPath,
            "serve",
            line("worker"),
          ]);
        }
        const mainFrames = processes[0]!.report!.threads[0]!.frames;
        assert.ok(
          mainFrames.some((f) =>
            f.file === fixture.scriptPath && f.function === "main" && f.line === line("parent")
          ),
        );
        for (const pid of [fixture.pid, w1, w2]) assert.equal(tracerPid(pid), 0);

        // worker-2 killed: a zombie until the parent (joined on worker-1) reaps it.
        Deno.kill(w2, "SIGKILL");
        const deadline = Date.now() + 5000;
        while (!Deno.readTextFileSync(`/proc/${w2}/stat`).includes(") Z ")) {
          assert.ok(Date.now() < deadline, "worker-2 became a zombie");
          await new Promise((r) => setTimeout(r, 10));
        }
        const text = await runPystack(["remote", String(fixture.pid), "--subprocesses"]);
        assert.equal(text.code, 0, describeRun(text));
        const lines = text.stdout.split("\n");
        const titles = lines.filter((l) => l.startsWith("Process "));
        assert.equal(titles.length, 4, text.stdout);
        assert.ok(titles[0]!.startsWith(`Process ${fixture.pid}: `), titles[0]);
        assert.ok(titles[0]!.endsWith(`${FIXTURE} ${fixture.readyPath}`), titles[0]);
        const at = (pid: number) => lines.findIndex((l) => l.startsWith(`Process ${pid}`));
        assert.equal(
          lines[at(w2) + 1],
          "    exited: it has exited (a zombie its parent has not reaped)",
        );
        assert.equal(lines[at(sleeper)], `Process ${sleeper}: sleep 1000`);
        assert.equal(lines[at(sleeper) + 1], "    skipped: not a Python process");
        assert.match(lines[at(w1) + 1]!, new RegExp(`^Traceback for thread ${w1} `));
      } finally {
        killChildren([w1, w2, sleeper]);
      }
    },
  );
}

const main = pythons.find((p) => p.id === "3.12-pyenv") ?? pythons.at(-1)!;
registerTest(
  "remote --subprocesses --group groups the workers across processes",
  skipOf(main),
  async () => {
    await using fixture = await startFixture(main, FIXTURE);
    const [w1, w2, sleeper] = childPids(fixture);
    try {
      const result = await runPystack(["remote", String(fixture.pid), "--subprocesses", "--group"]);
      assert.equal(result.code, 0, describeRun(result));
      const groupTitles = result.stdout.split("\n").filter((l) => /^\d+ threads?: /.test(l));
      const comm = threadName(fixture.pid, fixture.pid);
      assert.deepEqual(groupTitles, [
        `2 threads: ${w1} (${comm}) in process ${w1}, ${w2} (${comm}) in process ${w2}:`,
        `1 thread: ${fixture.pid} (${comm}) in process ${fixture.pid}:`,
      ]);
    } finally {
      killChildren([w1, w2, sleeper]);
    }
  },
);

registerTest("remote --subprocesses of a tree without Python exits 5", undefined, async () => {
  // A tree of its own (the test runner's may hold other tests' Python fixtures): sh and two sleeps.
  const tree = new Deno.Command("sh", {
    args: ["-c", "sleep 100 & sleep 100 & wait"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 200; i++) {
      const children = Deno.readTextFileSync(`/proc/${tree.pid}/task/${tree.pid}/children`).trim();
      if (children.split(" ").filter(Boolean).length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const result = await runPystack(["remote", String(tree.pid), "--subprocesses"]);
    assert.equal(result.code, 5, describeRun(result));
    assert.match(result.stderr, /^pystack: Cannot inspect process \d+ with --subprocesses: /);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1);
  } finally {
    for (
      const pid of Deno.readTextFileSync(`/proc/${tree.pid}/task/${tree.pid}/children`).trim()
        .split(" ").filter(Boolean)
    ) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch {
        // gone
      }
    }
    tree.kill("SIGKILL");
    await tree.status;
  }
});

registerTest("watch --subprocesses samples the parent and both workers", skipOf(main), async () => {
  await using fixture = await startFixture(main, FIXTURE);
  const [w1, w2, sleeper] = childPids(fixture);
  try {
    const args = ["watch", String(fixture.pid), "--subprocesses", "--samples", "4"];
    const result = await runPystack([...args, "--interval", "20ms", "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    const doc: {
      processes: (JsonProcess & {
        watch: { watch: { samples: number }; threads: { tid: number; stuck: boolean }[] } | null;
      })[];
    } = JSON.parse(result.stdout);
    assertValidProcesses(doc);
    assert.deepEqual(
      doc.processes.map((p) => [p.pid, p.status, p.watch?.watch.samples ?? null]),
      [[fixture.pid, "read", 4], [w1, "read", 4], [w2, "read", 4], [sleeper, "skipped", null]],
    );
    for (const p of doc.processes.slice(0, 3)) {
      // Each process's only thread blocks for ever: in waitpid (the parent) or in sleep.
      assert.deepEqual(p.watch!.threads.map((t) => [t.tid, t.stuck]), [[p.pid, true]]);
    }
  } finally {
    killChildren([w1, w2, sleeper]);
  }
});

registerTest(
  "watch --subprocesses --group groups the workers across processes",
  skipOf(main),
  async () => {
    await using fixture = await startFixture(main, FIXTURE);
    const [w1, w2, sleeper] = childPids(fixture);
    try {
      const args = ["watch", String(fixture.pid), "--subprocesses", "--group", "--samples", "3"];
      const text = await runPystack([...args, "--interval", "20ms"]);
      assert.equal(text.code, 0, describeRun(text));
      const comm = threadName(fixture.pid, fixture.pid);
      const stuck = "STUCK (the same stack in all 3 samples, 0% CPU, no wake-ups)";
      assert.deepEqual(text.stdout.split("\n").filter((l) => /^\d+ threads?: /.test(l)), [
        `2 threads: ${w1} (${comm}) in process ${w1}, ${w2} (${comm}) in process ${w2}: ${stuck}`,
        `1 thread: ${fixture.pid} (${comm}) in process ${fixture.pid}: ${stuck}`,
      ]);
      assert.ok(
        text.stdout.includes(`Process ${sleeper}: sleep 1000\n    skipped: not a Python process\n`),
      );
      const json = await runPystack([...args, "--interval", "20ms", "--json"]);
      assert.equal(json.code, 0, describeRun(json));
      const doc = JSON.parse(json.stdout);
      assertValidProcesses(doc);
      assert.deepEqual(doc.groups, [
        { count: 2, threads: [{ pid: w1, tid: w1 }, { pid: w2, tid: w2 }] },
        { count: 1, threads: [{ pid: fixture.pid, tid: fixture.pid }] },
      ]);
    } finally {
      killChildren([w1, w2, sleeper]);
    }
  },
);

registerTest(
  "remote --subprocesses names each process's pid in its container",
  containerSkip(main),
  async () => {
    await using fixture = await startContainerFixture(main, FIXTURE);
    // The fixture wrote its children's pids as its namespace numbers them.
    const inner = Deno.readTextFileSync(`${fixture.dir}/run/ready.pids`).split(" ").map(Number);
    const result = await runPystack(["remote", String(fixture.pid), "--subprocesses", "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    const doc: { processes: (JsonProcess & { nsPid: number | null })[] } = JSON.parse(
      result.stdout,
    );
    assertValidProcesses(doc);
    assert.deepEqual(
      doc.processes.map((p) => [p.nsPid, p.status]),
      [[fixture.nsPid, "read"], [inner[0], "read"], [inner[1], "read"], [inner[2], "skipped"]],
    );
    const text = await runPystack(["remote", String(fixture.pid), "--subprocesses"]);
    assert.equal(text.code, 0, describeRun(text));
    const sleeper = doc.processes[3]!.pid;
    assert.ok(
      text.stdout.includes(
        `Process ${sleeper} (pid ${inner[2]} in its namespace): sleep 1000\n` +
          "    skipped: not a Python process\n",
      ),
      text.stdout,
    );
    const worker = doc.processes[1]!;
    assert.equal(worker.report!.threads[0]!.frames.at(-1)!.file, "/app/mp_parent.py");
  },
);
