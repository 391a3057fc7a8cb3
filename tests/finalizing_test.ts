/**
 * `pystack remote` of a process whose main interpreter is shutting down
 * (`fixtures/finalizing.py`): the daemon thread's Python thread state is gone,
 * but the thread still runs. The report shows the main thread (in a `__del__`
 * run by the shutdown), marks the interpreter as finalizing, and says which
 * thread of the process it does not show, instead of dropping it silently.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertValidReport } from "./_json_schema.ts";
import {
  FIXTURES_DIR,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
  threadIds,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { nativeSkip } from "./_native_cases.ts";

const FIXTURE = "finalizing.py";
const SLEEP_LINE = Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n")
  .findIndex((line) => line.trim() === "sleep(1000)") + 1;

function skip(python: Python): Skip | undefined {
  const [major, minor] = python.version;
  if (major < 3 || minor < 7) {
    return {
      reason: `Python ${python.version.join(".")} keeps its finalizing state outside ` +
        "_PyRuntime (a global pystack does not read): no interpreter is known to shut down",
    };
  }
  return remoteSkip(python);
}

for (const python of await findPythons()) {
  registerTest(`remote finalizing python=${python.id}`, skip(python), async () => {
    await using fixture = await startFixture(python, FIXTURE);
    const daemon = threadIds(fixture.pid).filter((tid) => tid !== fixture.pid);
    assert.equal(daemon.length, 1, "the daemon thread runs on");
    const result = await runPystack(["remote", String(fixture.pid), "--json"]);
    try {
      assert.equal(result.code, 0, "exit code");
      const doc = JSON.parse(result.stdout);
      assertValidReport(doc);
      const threads = doc.threads as {
        tid: number;
        frames: { function: string; line: number }[];
      }[];
      const main = threads.find((t) => t.tid === fixture.pid)!;
      assert.equal(main.frames.at(-1)?.function, "__del__");
      assert.equal(main.frames.at(-1)?.line, SLEEP_LINE);
      assert.equal(doc.interpreters[0].state, "finalizing");
      const notice = `the main interpreter is shutting down: thread ${daemon[0]} of the process ` +
        "has no Python thread state and is not shown (daemon threads lose theirs at shutdown; a " +
        "thread that never ran Python has none); --native-all shows every thread";
      if (python.version[1] <= 8) {
        // 3.7 and 3.8 keep the daemon thread's state until the process ends: it is shown.
        assert.deepEqual(threads.map((t) => t.tid).sort(), [fixture.pid, daemon[0]].sort());
        assert.ok(!(doc.warnings as string[]).includes(notice), "no thread is left out");
      } else {
        // 3.9+ delete every other thread state at shutdown: the daemon thread is said, not shown.
        assert.deepEqual(threads.map((t) => t.tid), [fixture.pid], "the main thread only");
        assert.ok((doc.warnings as string[]).includes(notice), JSON.stringify(doc.warnings));
      }
    } catch (error) {
      throw withRun(error, result);
    }
    if (python.version[1] <= 8 || nativeSkip(python, "live") !== undefined) return;
    // With --native-all every OS thread is shown: nothing is left out, nothing to say.
    const all = await runPystack(["remote", String(fixture.pid), "--json", "--native-all"]);
    try {
      assert.equal(all.code, 0, "exit code");
      const doc = JSON.parse(all.stdout);
      assert.ok(doc.threads.some((t: { tid: number }) => t.tid === daemon[0]), "daemon shown");
      assert.ok(
        !(doc.warnings as string[]).some((w) => w.includes("is shutting down")),
        JSON.stringify(doc.warnings),
      );
    } catch (error) {
      throw withRun(error, all);
    }
  });
}
