/**
 * `pystack core CORE --locals` on a gcore core of `fixtures/locals.py` (a
 * kernel core where gcore cannot dump the interpreter whole), for every interpreter: the same variables as `pystack remote --locals` showed
 * for the same process just before the core was made (addresses included),
 * each with its expected value, and the Python thread names (a core has no
 * OS thread names, so every thread shows its Python name).
 *
 * @module
 */
import assert from "node:assert/strict";
import { expectedFrames, FIXTURES_DIR, registerTest, runPystack } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons } from "./_pythons.ts";
import { type CoreMaker, makeCore, makerSkip, startCoreTarget } from "./_cores.ts";
import {
  checkLocalsFixture,
  checkLocalsWorkers,
  localsSkip,
  parseLocalsOutput,
  type Reprs,
} from "./_locals.ts";

for (const python of await findPythons()) {
  // Where gcore cannot dump this interpreter whole (see _pythons.ts), the kernel's core instead.
  const maker: CoreMaker = python.gcoreSkip === undefined ? "gcore" : "kernel-abrt";
  const name = `locals core python=${python.id} maker=${maker}`;
  registerTest(name, localsSkip(python) ?? makerSkip(maker), async () => {
    const scriptPath = FIXTURES_DIR + "locals.py";
    await using target = await startCoreTarget([python.path, "-S", scriptPath, "{dir}/ready"], {
      readyFile: "ready",
    });
    const reprs = JSON.parse(await Deno.readTextFile(`${target.dir}/reprs.json`)) as Reprs;
    const live = await runPystack(["remote", String(target.pid), "--locals"]);
    assert.equal(live.code, 0, "remote exit code");
    const core = await makeCore(target, maker);
    const result = await runPystack(["core", core.path, "--locals"]);
    try {
      assert.equal(result.code, 0, "exit code");
      const threads = parseLocalsOutput(result.stdout);
      checkLocalsFixture(threads, scriptPath, reprs, await expectedFrames("locals.py"));
      checkLocalsWorkers(threads, scriptPath);
      const liveThreads = parseLocalsOutput(live.stdout);
      assert.deepEqual(
        threads.map((t) => [t.tid, t.pythonName, t.frames]),
        liveThreads.map((t) => [t.tid, t.pythonName ?? t.osName, t.frames]),
        "the same threads, frames and variables as the live process",
      );
    } catch (error) {
      throw withRun(error, result);
    }
  });
}
