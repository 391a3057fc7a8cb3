/**
 * A thread id where pystack expects a process id (`pystack remote TID`, as
 * read from `top -H` or a log line). `/proc/TID` exists for every thread,
 * though only leaders are listed: pystack used to take the thread for a
 * process of its own, reported the TID as the pid and lost the main thread.
 * It now shows the process the thread belongs to, every thread of it, and
 * says so in one warning.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertValidReport } from "./_json_schema.ts";
import { assertValidWatch } from "./_watch_json.ts";
import {
  describeRun,
  parseTraceback,
  registerTest,
  runPystack,
  startFixture,
  threadIds,
  threadName,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";

const FIXTURE = "named_threads.py";

interface JsonThread {
  tid: number;
  name: string | null;
  frames: { function: string }[];
}

const pythons = (await findPythons()).filter((p) =>
  ["2.7-pyenv", "3.11-debian", "3.12-pyenv"].includes(p.id)
);

for (const python of pythons) {
  registerTest(
    `remote TID shows the thread's process python=${python.id}`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, FIXTURE);
      const tids = threadIds(target.pid).sort((a, b) => a - b);
      const tid = tids.find((t) => threadName(target.pid, t) === "worker-2");
      assert.ok(tid !== undefined && tid !== target.pid, `worker-2 among ${tids}`);
      const warning = `${tid} is a thread (worker-2) of process ${target.pid}, not a process: ` +
        `process ${target.pid} is shown, all its threads`;

      const json = await runPystack(["remote", String(tid), "--json"]);
      try {
        assert.equal(json.code, 0, "exit code");
        assert.equal(json.stderr, `pystack: warning: ${warning}\n`);
        const doc = JSON.parse(json.stdout);
        assertValidReport(doc);
        assert.equal(doc.target.pid, target.pid, "the process's pid, not the thread's");
        assert.deepEqual(doc.warnings, [warning]);
        const threads = doc.threads as JsonThread[];
        assert.deepEqual(threads.map((t) => t.tid).sort((a, b) => a - b), tids, "every thread");
        const worker = threads.find((t) => t.tid === tid)!;
        assert.equal(worker.name, "worker-2");
        const functions = worker.frames.map((f) => f.function);
        const at = functions.indexOf("worker_2");
        assert.deepEqual(functions.slice(at, at + 2), ["worker_2", "worker_2_level_2"]);
        const main = threads.find((t) => t.tid === target.pid)!;
        assert.ok(main.frames.some((f) => f.function === "main"), "the main thread's stack");
      } catch (error) {
        throw withRun(error, json);
      }

      // Text: the same threads as `remote PID`, and the same warning.
      const [byTid, byPid] = [
        await runPystack(["remote", String(tid)]),
        await runPystack(["remote", String(target.pid)]),
      ];
      try {
        assert.equal(byTid.code, 0, "exit code");
        assert.equal(byTid.stderr, `pystack: warning: ${warning}\n`);
        assert.equal(byPid.stderr, "", "no warning for the process's own pid");
        const threadsOf = (out: string) => parseTraceback(out).map((t) => [t.tid, t.frames.length]);
        assert.deepEqual(threadsOf(byTid.stdout), threadsOf(byPid.stdout));
      } catch (error) {
        throw withRun(error, byTid);
      }
    },
  );
}

const python = pythons.find((p) => p.id === "3.11-debian");
if (python !== undefined) {
  registerTest("watch TID samples the thread's process", remoteSkip(python), async () => {
    await using target = await startFixture(python, FIXTURE);
    const tid = threadIds(target.pid).find((t) => threadName(target.pid, t) === "worker-1")!;
    const result = await runPystack(["watch", String(tid), "--samples", "3", "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(
      result.stderr,
      `pystack: warning: ${tid} is a thread (worker-1) of process ${target.pid}, not a ` +
        `process: process ${target.pid} is shown, all its threads\n`,
    );
    const doc = JSON.parse(result.stdout);
    assertValidWatch(doc);
    assert.equal(doc.target.pid, target.pid, describeRun(result));
    const tids = (doc.threads as { tid: number }[]).map((t) => t.tid).sort((a, b) => a - b);
    assert.deepEqual(tids, threadIds(target.pid).sort((a, b) => a - b), describeRun(result));
  });
}
