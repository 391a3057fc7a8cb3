/**
 * `--tasks` with asyncio running in the main interpreter and in a subinterpreter
 * (`fixtures/asyncio_subinterpreters.py`), live and from a kernel core, on every interpreter
 * from 3.12: each interpreter's tasks (its own registry) under the thread running its loop,
 * marked with the subinterpreter's id, and who awaits them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, runPystack, type Skip, startFixture } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { fixtureCore, makerSkip } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";

const FIXTURE = "asyncio_subinterpreters.py";

interface Side {
  /** Pending tasks but the loop's main task (Task-1), as the interpreter lists them. */
  tasks: string[];
  thread: number;
}
interface JsonTask {
  id: string;
  name: string;
  thread: number | null;
  awaitedBy: string[];
  interpreterId: number;
}

function skipFor(python: Python): Skip | undefined {
  if (python.version[0] < 3 || python.version[1] < 12) {
    return {
      reason: "asyncio cannot run in a subinterpreter before 3.12 (_asyncio's state is " +
        "process-wide: asyncio.run() there fails with 'cannot be called from a running event loop')",
    };
  }
  if (python.freeThreaded && python.version[1] >= 14) {
    return { reason: "--tasks does not read free-threaded builds from 3.14 yet" };
  }
  if (python.unavailable !== undefined) return { reason: python.unavailable };
  if (python.missing !== undefined) return { reason: python.missing, missing: true };
  return undefined;
}

async function check(args: string[], dir: string): Promise<void> {
  const main = JSON.parse(await Deno.readTextFile(`${dir}/main.json`)) as Side;
  const sub = JSON.parse(await Deno.readTextFile(`${dir}/sub.json`)) as Side;
  const json = await runPystack([...args, "--tasks", "--json"]);
  try {
    assert.equal(json.code, 0, "exit code");
    const doc = JSON.parse(json.stdout) as { tasks: JsonTask[]; warnings: string[] };
    assertValidReport(doc, "the --tasks document");
    assert.deepEqual(doc.warnings, [], "no warnings");
    const ofMain = doc.tasks.filter((t) => t.interpreterId === 0);
    const ofSub = doc.tasks.filter((t) => t.interpreterId !== 0);
    assert.deepEqual(ofMain.map((t) => t.name).sort(), ["Task-1", ...main.tasks].sort(), "main's");
    assert.deepEqual(ofSub.map((t) => t.name).sort(), ["Task-1", ...sub.tasks].sort(), "sub's");
    assert.equal(new Set(ofSub.map((t) => t.interpreterId)).size, 1, "one subinterpreter");
    for (const [side, tasks] of [[main, ofMain], [sub, ofSub]] as const) {
      const root = tasks.find((t) => t.name === "Task-1")!;
      for (const t of tasks) {
        assert.equal(t.thread, side.thread, `thread of ${t.name}`);
        assert.deepEqual(t.awaitedBy, t === root ? [] : [root.id], `who awaits ${t.name}`);
      }
    }
  } catch (error) {
    throw withRun(error, json);
  }
  const text = await runPystack([...args, "--tasks"]);
  try {
    assert.equal(text.code, 0, "exit code");
    assert.match(
      text.stdout,
      new RegExp(`\\nAsyncio tasks of the event loop in thread ${main.thread}:\\n`),
    );
    assert.match(
      text.stdout,
      new RegExp(
        `\\nAsyncio tasks of the event loop in thread ${sub.thread} \\(interpreter \\d+\\):\\n`,
      ),
    );
  } catch (error) {
    throw withRun(error, text);
  }
}

for (const python of await findPythons()) {
  registerTest(`tasks subinterpreters remote python=${python.id}`, skipFor(python), async () => {
    await using target = await startFixture(python, FIXTURE);
    await check(["remote", String(target.pid)], target.dir);
  });
  registerTest(
    `tasks subinterpreters core python=${python.id} maker=kernel-abrt`,
    skipFor(python) ?? makerSkip("kernel-abrt"),
    async () => {
      await using core = await fixtureCore(python, FIXTURE, "kernel-abrt");
      await check(["core", core.path], core.target.dir);
    },
  );
}
