/**
 * `pystack remote` and `pystack watch` on a target whose threads begin and end
 * all the time (`fixtures/thread_churn.py`, some ten thousand threads a
 * second): a thread that exits between the listing of `/proc/PID/task` and
 * its seizing (the kernel then refuses it with EPERM) is skipped, never
 * reported as a permission error, and `watch` keeps every sample.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertValidReport } from "./_json_schema.ts";
import { assertValidWatch } from "./_watch_json.ts";
import {
  FIXTURES_DIR,
  procState,
  registerTest,
  runPystack,
  startFixture,
  tracerPid,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";

const FIXTURE = "thread_churn.py";
/** Runs of `remote` per interpreter, each of which must succeed. */
const RUNS = 40;
const SLEEP_LINE = Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n")
  .findIndex((line) => line.trim() === "time.sleep(1000)") + 1;

interface JsonThread {
  tid: number;
  name: string | null;
  terminated: boolean;
  starting?: true;
  pythonName?: string;
  frames: { function: string; line: number }[];
}

const pythons = (await findPythons()).filter((p) =>
  ["3.10-pyenv", "3.11-debian", "3.12-pyenv"].includes(p.id)
);

for (const python of pythons) {
  registerTest(
    `remote thread churn python=${python.id}: ${RUNS} runs, each exit 0`,
    remoteSkip(python),
    async () => {
      // A fixed wait: threads come and go too fast for the settle check (which waits for every
      // thread but the three spawners to sit in a system call) on a loaded machine.
      await using target = await startFixture(python, FIXTURE, { settleMs: 300 });
      for (let run = 0; run < RUNS; run++) {
        const result = await runPystack(["remote", String(target.pid), "--json", "--locals"]);
        try {
          assert.equal(result.code, 0, `run ${run + 1}: exit code`);
          assert.equal(result.stderr, "", "nothing on stderr");
          const doc = JSON.parse(result.stdout);
          assertValidReport(doc);
          const threads = doc.threads as JsonThread[];
          const main = threads.find((t) => t.tid === target.pid);
          assert.deepEqual(
            main?.frames.map((f) => [f.function, f.line]),
            [["<module>", SLEEP_LINE]],
            "the main thread sleeps in <module>",
          );
          // A new thread starts with its creator's OS name: the spawners are told by their frames.
          const spawners = threads.filter((t) => t.frames.some((f) => f.function === "spawn"));
          assert.equal(spawners.length, 3, "the three spawners");
          // A thread caught being started (a state its spawner made, not run yet) is said to
          // be starting: not finished, with no OS thread, and no name of its own (before, it
          // was "terminated", named after its spawner; on 3.10, a second copy of the spawner).
          for (const t of threads.filter((t) => t.tid === 0)) {
            assert.deepEqual(
              [t.starting, t.terminated, t.frames.length, t.pythonName],
              [true, false, 0, undefined],
              `a thread state without an OS thread: ${JSON.stringify(t)}`,
            );
          }
          const tids = threads.map((t) => t.tid).filter((tid) => tid !== 0);
          assert.equal(new Set(tids).size, tids.length, "no thread listed twice");
        } catch (error) {
          throw withRun(error, result);
        }
        assert.equal(tracerPid(target.pid), 0, "the target is not traced after the run");
        assert.ok(["S", "R"].includes(procState(target.pid)), "the target runs on");
      }
    },
  );

  registerTest(
    `watch thread churn python=${python.id}: no sample is lost`,
    remoteSkip(python),
    async () => {
      // A fixed wait: threads come and go too fast for the settle check (which waits for every
      // thread but the three spawners to sit in a system call) on a loaded machine.
      await using target = await startFixture(python, FIXTURE, { settleMs: 300 });
      const result = await runPystack([
        "watch",
        String(target.pid),
        "--duration",
        "2",
        "--interval",
        "0",
        "--json",
      ]);
      try {
        assert.equal(result.code, 0, "exit code");
        const doc = JSON.parse(result.stdout);
        assertValidWatch(doc);
        // A sanity floor only (2 s at interval 0, on a loaded 2-core machine): the check is
        // that no sample failed.
        assert.ok(doc.watch.samples >= 5, `at least 5 samples: ${doc.watch.samples}`);
        assert.equal(doc.watch.failedSamples, undefined, "no sample failed");
        assert.equal(doc.watch.endedEarly, null);
        const main = (doc.threads as { tid: number; samples: number }[])
          .find((t) => t.tid === target.pid);
        assert.equal(main?.samples, doc.watch.samples, "the main thread is in every sample");
      } catch (error) {
        throw withRun(error, result);
      }
      assert.equal(tracerPid(target.pid), 0, "the target is not traced after the watch");
    },
  );
}
