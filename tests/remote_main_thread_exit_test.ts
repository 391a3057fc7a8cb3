/**
 * `pystack remote` and `watch` on a process whose main thread has ended
 * (`fixtures/main_thread_exit.py`: `pthread_exit` while thread `survivor`
 * runs on). The main thread is then a zombie with no mappings, executable or
 * memory of its own: pystack reads the process through the live thread, shows
 * its stack and warns that the main thread has exited.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertValidReport } from "./_json_schema.ts";
import {
  FIXTURES_DIR,
  procState,
  registerTest,
  runPystack,
  startFixture,
  threadIds,
  tracerPid,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";

const FIXTURE = "main_thread_exit.py";
const SOURCE = Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n");
/** The 1-based line whose text, stripped, is `text`. */
const lineOf = (text: string) => SOURCE.findIndex((line) => line.trim() === text) + 1;

interface JsonThread {
  tid: number;
  name: string | null;
  frames: { file: string; function: string; line: number }[];
}

const pythons = (await findPythons()).filter((p) => ["3.11-debian", "3.12-pyenv"].includes(p.id));

for (const python of pythons) {
  for (const mode of ["block", "no-block"]) {
    registerTest(
      `remote main-thread-exited python=${python.id} mode=${mode}`,
      remoteSkip(python),
      async () => {
        await using target = await startFixture(python, FIXTURE);
        assert.equal(procState(target.pid), "Z", "the main thread is a zombie");
        const survivor = threadIds(target.pid).find((tid) => tid !== target.pid)!;
        const args = ["remote", String(target.pid), "--json"];
        const result = await runPystack(mode === "block" ? args : [...args, "--no-block"]);
        const warning = `the main thread (${target.pid}) has exited; the process runs on in ` +
          `its other threads (read through thread ${survivor})`;
        try {
          assert.equal(result.code, 0, "exit code");
          assert.equal(result.stderr, `pystack: warning: ${warning}\n`);
          const doc = JSON.parse(result.stdout);
          assertValidReport(doc);
          assert.deepEqual(doc.warnings, [warning]);
          const threads = doc.threads as JsonThread[];
          assert.deepEqual(threads.map((t) => t.tid).sort(), [target.pid, survivor].sort());
          const live = threads.find((t) => t.tid === survivor)!;
          assert.equal(live.name, "survivor");
          assert.deepEqual(
            live.frames.slice(-2).map((f) => [f.file, f.function, f.line]),
            [
              [target.scriptPath, "survive", lineOf("nap()")],
              [target.scriptPath, "nap", lineOf("time.sleep(1000)")],
            ],
          );
          // Its thread state outlives the main thread: the stack it had when it ended.
          const ended = threads.find((t) => t.tid === target.pid)!;
          assert.deepEqual(
            ended.frames.map((f) => [f.function, f.line]),
            [["<module>", lineOf("ctypes.CDLL(None).pthread_exit(None)")]],
          );
        } catch (error) {
          throw withRun(error, result);
        }
        assert.equal(procState(target.pid, survivor), "S", "the survivor runs on");
        assert.equal(tracerPid(target.pid, survivor), 0, "the survivor is not traced");
      },
    );
  }

  registerTest(
    `watch main-thread-exited python=${python.id}`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, FIXTURE);
      const survivor = threadIds(target.pid).find((tid) => tid !== target.pid)!;
      const result = await runPystack([
        "watch",
        String(target.pid),
        "--samples",
        "3",
        "--interval",
        "10ms",
        "--json",
      ]);
      try {
        assert.equal(result.code, 0, "exit code");
        const doc = JSON.parse(result.stdout);
        assert.equal(doc.watch.samples, 3);
        const live = (doc.threads as (JsonThread & { samples: number; stacks: unknown[] })[])
          .find((t) => t.tid === survivor);
        assert.equal(live?.samples, 3, "the survivor is in every sample");
      } catch (error) {
        throw withRun(error, result);
      }
      assert.equal(tracerPid(target.pid, survivor), 0, "the survivor is not traced");
    },
  );
}
