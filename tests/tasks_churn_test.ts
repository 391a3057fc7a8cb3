/**
 * `--tasks` on a process whose tasks come and go without pause (`fixtures/asyncio_churn.py`), on
 * every interpreter from 3.8: paused (the default), the tasks are a consistent snapshot with no
 * warning; with `--no-block` they are read while the registry changes, and every run still ends
 * with exit code 0 and the threads; what could not be read of the moving registry is said in
 * warnings that say the target ran meanwhile.
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, runPystack, type Skip, startFixture } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";

const RUNS = 6;

function skipFor(python: Python): Skip | undefined {
  if (python.version[0] < 3 || python.version[1] < 8) {
    return { reason: "--tasks reads Python 3.8+ (task names appeared in 3.8)" };
  }
  if (python.freeThreaded && python.version[1] >= 14) {
    return { reason: "--tasks does not read free-threaded builds from 3.14 yet" };
  }
  if (python.unavailable !== undefined) return { reason: python.unavailable };
  if (python.missing !== undefined) return { reason: python.missing, missing: true };
  return undefined;
}

/** What every warning of a run with `--no-block` ends with. */
const NO_BLOCK = " (read while the target ran: --no-block)";

for (const python of await findPythons()) {
  registerTest(`tasks churn python=${python.id}`, skipFor(python), async () => {
    await using target = await startFixture(python, "asyncio_churn.py");
    const pid = String(target.pid);
    for (let run = 0; run < RUNS; run++) {
      for (const mode of [[], ["--no-block"]]) {
        const result = await runPystack(["remote", pid, "--tasks", ...mode]);
        try {
          assert.equal(result.code, 0, "exit code");
          // Without pausing, a thread's stack may also be caught changing (marked, not ours).
          assert.match(result.stdout, /^(Traceback|The frame stack) for thread /, "the threads");
          const warnings = result.stderr.split("\n").filter((line) => line !== "");
          if (mode.length === 0) {
            assert.match(
              result.stdout,
              /\nAsyncio tasks of the event loop in thread \d+:\n└── \(T\) /,
              "the tasks",
            );
            assert.deepEqual(warnings, [], "no warning when paused");
          } else {
            // What was read of a registry that changed meanwhile, or none of it.
            assert.match(
              result.stdout,
              /\n(Asyncio tasks of the event loop in thread \d+:|No asyncio tasks\.)\n/,
              "the task section",
            );
            for (const w of warnings) {
              assert.ok(w.startsWith("pystack: warning: ") && w.endsWith(NO_BLOCK), w);
            }
          }
        } catch (error) {
          throw withRun(error, result);
        }
      }
    }
  });
}
