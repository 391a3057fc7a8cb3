/**
 * `--tasks` on `fixtures/asyncio_combinators.py`, live and from a kernel core and a gcore, on every
 * interpreter from 3.8: who awaits whom through `asyncio.wait`, `wait_for`, `shield`, a
 * `TaskGroup` (3.11+), `gather`, an eager task (3.12+), a cycle of two tasks awaiting each other
 * (drawn once, marked), a task left behind by a thread that ended (under no thread; 3.14+
 * keep it in the interpreter's list), a second event loop in another thread (its tasks under that thread) and
 * the task that thread is running (marked, at the line it runs). Chains and lines are checked
 * against what the interpreter itself reported through `cr_await`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, runPystack, type Skip, startFixture } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { fixtureCore, makerSkip } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";

const FIXTURE = "asyncio_combinators.py";

interface Frame {
  function: string;
  file: string;
  line: number;
}
interface TruthTask {
  name: string;
  stack: Frame[];
  /** null: no thread runs its loop. */
  thread: number | null;
}
interface JsonTask {
  id: string;
  name: string;
  thread: number | null;
  current: boolean;
  coroutineStack: Frame[];
  awaitedBy: string[];
  partial: string | null;
}

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

/** Who awaits each task (by name; THREAD_MAIN is the second thread's `asyncio.run` task). */
function expectedAwaitedBy(minor: number, threadMain: string): Map<string, string[]> {
  const edges: [string, string[]][] = [
    ["Task-1", []],
    ["P-wait", ["Task-1"]],
    ["wait-child-1", ["P-wait"]],
    ["wait-child-2", ["P-wait"]],
    ["P-wait_for", ["Task-1"]],
    ["wait_for-child", ["P-wait_for"]],
    ["P-shield", ["Task-1"]],
    ["shield-child", ["P-shield"]],
    ["cycle-a", ["cycle-b"]],
    ["cycle-b", ["cycle-a"]],
    [threadMain, []],
    ["thread-sleeper", []],
    ["thread-running", [threadMain]],
    ["orphan", []],
  ];
  if (minor >= 11) {
    edges.push(["P-taskgroup", ["Task-1"]], ["tg-child-1", ["P-taskgroup"]], [
      "tg-child-2",
      ["P-taskgroup"],
    ]);
  }
  if (minor >= 12) edges.push(["eager", ["Task-1"]]);
  return new Map(edges);
}

function check(tasks: JsonTask[], truth: TruthTask[], minor: number): void {
  const threadMain = truth.find((t) => t.stack[0]?.function === "LoopThread.main")!.name;
  const expected = expectedAwaitedBy(minor, threadMain);
  assert.deepEqual(
    tasks.map((t) => t.name).sort(),
    [...expected.keys()].sort(),
    "the pending tasks, by name",
  );
  assert.deepEqual(truth.map((t) => t.name).sort(), [...expected.keys()].sort(), "Python's own");
  const names = new Map(tasks.map((t) => [t.id, t.name]));
  for (const want of truth) {
    const task = tasks.find((t) => t.name === want.name)!;
    assert.deepEqual(task.coroutineStack, want.stack, `coroutine stack of ${task.name}`);
    assert.equal(task.thread, want.thread, `thread of ${task.name}`);
    assert.deepEqual(
      task.awaitedBy.map((id) => names.get(id) ?? id).sort(),
      expected.get(task.name),
      `who awaits ${task.name}`,
    );
    assert.equal(task.current, task.name === "thread-running", `whether ${task.name} runs`);
    assert.equal(task.partial, null, `${task.name} is whole`);
  }
}

async function checkRuns(args: string[], truth: TruthTask[], minor: number): Promise<void> {
  const json = await runPystack([...args, "--tasks", "--json"]);
  try {
    assert.equal(json.code, 0, "exit code");
    const doc = JSON.parse(json.stdout) as { tasks: JsonTask[]; warnings: string[] };
    assertValidReport(doc, "the --tasks document");
    assert.deepEqual(doc.warnings, [], "no warnings");
    check(doc.tasks, truth, minor);
  } catch (error) {
    throw withRun(error, json);
  }
  const text = await runPystack([...args, "--tasks"]);
  try {
    assert.equal(text.code, 0, "exit code");
    const threads = [...new Set(truth.map((t) => t.thread))].filter((t) => t !== null);
    for (const tid of threads) {
      assert.match(text.stdout, new RegExp(`\\nAsyncio tasks of the event loop in thread ${tid}:`));
    }
    assert.match(text.stdout, /└── \(T\) thread-running \[running\]\n/, "the running task");
    assert.match(
      text.stdout,
      /└── \(T\) cycle-[ab] \(cycle: it awaits a task that awaits it\)\n/,
      "the cycle, drawn once and marked",
    );
    assert.match(
      text.stdout,
      /\nAsyncio tasks of event loops no thread is running:\n└── \(T\) orphan\n/,
      "the orphan, under no thread",
    );
  } catch (error) {
    throw withRun(error, text);
  }
}

for (const python of await findPythons()) {
  const minor = python.version[1];
  registerTest(`tasks combinators remote python=${python.id}`, skipFor(python), async () => {
    await using target = await startFixture(python, FIXTURE);
    const truth = JSON.parse(await Deno.readTextFile(`${target.dir}/tasks.json`)) as TruthTask[];
    await checkRuns(["remote", String(target.pid)], truth, minor);
  });
  for (const maker of ["kernel-abrt", "gcore"] as const) {
    const gcore = maker === "gcore" && python.gcoreSkip !== undefined
      ? { reason: python.gcoreSkip }
      : undefined;
    registerTest(
      `tasks combinators core python=${python.id} maker=${maker}`,
      skipFor(python) ?? gcore ?? makerSkip(maker),
      async () => {
        await using core = await fixtureCore(python, FIXTURE, maker);
        const truth = JSON.parse(
          await Deno.readTextFile(`${core.target.dir}/tasks.json`),
        ) as TruthTask[];
        await checkRuns(["core", core.path], truth, minor);
      },
    );
  }
}
