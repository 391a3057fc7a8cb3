/**
 * `--tasks` on `fixtures/asyncio_tree.py`, live and from a kernel core, on every interpreter
 * from 3.8, 3.13t included (older ones skipped with their reason): every pending task
 * by name, its coroutine chain (qualified names, files, lines) exactly as the interpreter itself
 * reported it through `cr_await` just before it signalled ready, who awaits it (an `await task`
 * and a `gather`), the thread of its loop, when a sleep ends (its `TimerHandle`'s `when()`); the text tree draws the same edges. The same with
 * tasks of the pure-Python `Task` class (`asyncio.tasks._PyTask`), and on uvloop's loop (Debian's
 * python3-uvloop, for its python3.11).
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, runPystack, type Skip, startFixture } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { fixtureCore, makerSkip } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";

const FIXTURE = "asyncio_tree.py";

interface Frame {
  function: string;
  file: string;
  line: number;
}
interface TruthTask {
  name: string;
  stack: Frame[];
  /** When its `asyncio.sleep` ends (its `TimerHandle`'s `when()`), or null. */
  sleepUntil: number | null;
  /** The address of the `asyncio.Event` it waits on, or null. */
  event: number | null;
}
interface JsonTask {
  id: string;
  name: string;
  thread: number | null;
  current: boolean;
  coroutineStack: Frame[];
  awaitedBy: string[];
  awaiting: {
    type: string;
    address: string;
    sleepUntil?: number;
    on?: { what: string; address: string };
  } | null;
  partial: string | null;
}

/** Who awaits whom in the fixture (by task name). */
const AWAITED_BY: Record<string, string[]> = {
  "Task-1": [],
  "direct-child": ["awaiter"],
  "awaiter": ["Task-1"],
  "gather-1": ["Task-1"],
  "gather-2": ["Task-1"],
  "lonely": [],
};

/** The same with pure-Python tasks: main runs in py-main, which Task-1 awaits. */
const AWAITED_BY_PY: Record<string, string[]> = {
  ...AWAITED_BY,
  "py-main": ["Task-1"],
  "awaiter": ["py-main"],
  "gather-1": ["py-main"],
  "gather-2": ["py-main"],
};

function skipFor(python: Python): Skip | undefined {
  if (python.version[0] < 3 || python.version[1] < 8) {
    return { reason: `--tasks reads Python 3.8+ (task names appeared in 3.8)` };
  }
  if (python.freeThreaded && python.version[1] >= 14) {
    return { reason: "--tasks does not read free-threaded builds from 3.14 yet" };
  }
  if (python.unavailable !== undefined) return { reason: python.unavailable };
  if (python.missing !== undefined) return { reason: python.missing, missing: true };
  return undefined;
}

/** Checks `--tasks --json` against what the fixture wrote, and the text tree's edges. */
function checkTasks(
  tasks: JsonTask[],
  truth: TruthTask[],
  thread: number,
  awaitedBy: Record<string, string[]>,
): void {
  const names = tasks.map((t) => t.name).sort();
  assert.deepEqual(names, truth.map((t) => t.name).sort(), "the pending tasks, by name");
  assert.deepEqual(names, Object.keys(awaitedBy).sort(), "the fixture's tasks");
  const byId = new Map(tasks.map((t) => [t.id, t.name]));
  for (const expected of truth) {
    const task = tasks.find((t) => t.name === expected.name)!;
    assert.deepEqual(task.coroutineStack, expected.stack, `coroutine stack of ${task.name}`);
    assert.deepEqual(
      task.awaitedBy.map((id) => byId.get(id) ?? id).sort(),
      awaitedBy[task.name],
      `who awaits ${task.name}`,
    );
    assert.equal(task.thread, thread, `thread of ${task.name}`);
    assert.equal(
      task.awaiting?.sleepUntil ?? null,
      expected.sleepUntil,
      `when the sleep of ${task.name} ends`,
    );
    assert.deepEqual(
      task.awaiting?.on ?? null,
      expected.event === null
        ? null
        : { what: "asyncio.Event", address: `0x${expected.event.toString(16)}` },
      `the Event ${task.name} waits on`,
    );
    assert.equal(task.current, false, `${task.name} is not running`);
    assert.equal(task.partial, null, `${task.name} is whole`);
    if (!["Task-1", "awaiter"].includes(task.name)) {
      assert.ok(task.awaiting !== null, `what ${task.name} awaits`);
      assert.match(task.awaiting.type, /Future$/, `${task.name} awaits a future`);
    }
  }
}

/** Edges of the text tree: each task and the nearest task above it. */
function textEdges(stdout: string): string[] {
  const edges: string[] = [];
  const stack: { depth: number; task: string | undefined }[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^([│ ]*)[└├]── (\(T\) )?(.*)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    while (stack.length > 0 && stack.at(-1)!.depth >= depth) stack.pop();
    const task = m[2] === undefined ? undefined : m[3]!;
    if (task !== undefined) {
      const parent = [...stack].reverse().find((s) => s.task !== undefined)?.task ?? "-";
      edges.push(`${parent} -> ${task}`);
    }
    stack.push({ depth, task });
  }
  return edges.sort();
}

const TEXT_EDGES = [
  "- -> Task-1",
  "- -> lonely",
  "Task-1 -> awaiter",
  "Task-1 -> gather-1",
  "Task-1 -> gather-2",
  "awaiter -> direct-child",
];

const TEXT_EDGES_PY = [
  "- -> Task-1",
  "- -> lonely",
  "Task-1 -> py-main",
  "awaiter -> direct-child",
  "py-main -> awaiter",
  "py-main -> gather-1",
  "py-main -> gather-2",
];

async function checkRuns(
  args: string[],
  truth: TruthTask[],
  thread: number,
  py = false,
): Promise<void> {
  const json = await runPystack([...args, "--tasks", "--json"]);
  try {
    assert.equal(json.code, 0, "exit code");
    const doc = JSON.parse(json.stdout) as { tasks: JsonTask[]; warnings: string[] };
    assertValidReport(doc, "the --tasks document");
    assert.deepEqual(doc.warnings, [], "no warnings");
    checkTasks(doc.tasks, truth, thread, py ? AWAITED_BY_PY : AWAITED_BY);
  } catch (error) {
    throw withRun(error, json);
  }
  const text = await runPystack([...args, "--tasks"]);
  try {
    assert.equal(text.code, 0, "exit code");
    assert.match(text.stdout, new RegExp(`Asyncio tasks of the event loop in thread ${thread}:`));
    assert.deepEqual(textEdges(text.stdout), py ? TEXT_EDGES_PY : TEXT_EDGES, "the tree's edges");
  } catch (error) {
    throw withRun(error, text);
  }
}

for (const python of await findPythons()) {
  registerTest(`tasks remote python=${python.id}`, skipFor(python), async () => {
    await using target = await startFixture(python, FIXTURE);
    const truth = JSON.parse(await Deno.readTextFile(`${target.dir}/tasks.json`)) as TruthTask[];
    await checkRuns(["remote", String(target.pid)], truth, target.pid);
  });
  registerTest(`tasks pure-Python remote python=${python.id}`, skipFor(python), async () => {
    await using target = await startFixture(python, FIXTURE, { args: ["pytask"] });
    const truth = JSON.parse(await Deno.readTextFile(`${target.dir}/tasks.json`)) as TruthTask[];
    await checkRuns(["remote", String(target.pid)], truth, target.pid, true);
  });
  registerTest(
    `tasks core python=${python.id} maker=kernel-abrt`,
    skipFor(python) ?? makerSkip("kernel-abrt"),
    async () => {
      await using core = await fixtureCore(python, FIXTURE, "kernel-abrt");
      const truth = JSON.parse(
        await Deno.readTextFile(`${core.target.dir}/tasks.json`),
      ) as TruthTask[];
      await checkRuns(["core", core.path], truth, core.pid);
    },
  );
}

/** Our tree without its section headers and what leaves await: what pstree prints. */
function asPstree(stdout: string): string[] {
  const start = stdout.indexOf("\nAsyncio tasks of ");
  return stdout.slice(start).split("\n")
    .filter((line) => /^[│ ]*[└├]── /.test(line))
    .map((line) => line.replace(/ {2}\(awaits [^()]*\)$/, ""));
}

for (const python of await findPythons()) {
  const skip = skipFor(python) ??
    (python.version[1] < 14 ? { reason: "python -m asyncio pstree exists from 3.14" } : undefined);
  registerTest(`tasks pstree python=${python.id}`, skip, async () => {
    await using target = await startFixture(python, FIXTURE);
    const ours = await runPystack(["remote", String(target.pid), "--tasks"]);
    const theirs = await new Deno.Command(python.path, {
      args: ["-m", "asyncio", "pstree", String(target.pid)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const pstree = new TextDecoder().decode(theirs.stdout);
    try {
      assert.equal(theirs.code, 0, `pstree: ${new TextDecoder().decode(theirs.stderr)}`);
      assert.deepEqual(asPstree(ours.stdout), pstree.trimEnd().split("\n"), "same tree as pstree");
    } catch (error) {
      throw withRun(error, ours);
    }
  });
}

for (const python of await findPythons()) {
  const unread = python.freeThreaded === true && python.version[1] >= 14 ||
    python.version[0] < 3 || python.version[1] < 8;
  const skip: Skip | undefined = python.unavailable !== undefined
    ? { reason: python.unavailable }
    : python.missing !== undefined
    ? { reason: python.missing, missing: true }
    : undefined;
  registerTest(`tasks without asyncio python=${python.id}`, skip, async () => {
    await using target = await startFixture(python, "single_thread.py");
    const result = await runPystack(["remote", String(target.pid), "--tasks"]);
    const json = await runPystack(["remote", String(target.pid), "--tasks", "--json"]);
    try {
      assert.equal(result.code, 0, "exit code");
      assert.match(result.stdout, /^Traceback for thread /, "the threads are shown");
      const doc = JSON.parse(json.stdout);
      assertValidReport(doc, "the --tasks document");
      if (unread) {
        // An interpreter whose tasks are not read: no section, one warning that says why.
        assert.doesNotMatch(result.stdout, /Asyncio tasks|No asyncio tasks/, "no task section");
        const why = python.freeThreaded
          ? /free-threaded builds from 3\.14 are not read yet \(Python 3\.\d+\.\d+\)/
          : /it reads Python 3\.8 and later \(this is Python [23]\.\d+\.\d+\)/;
        assert.match(
          result.stderr,
          new RegExp(`^pystack: warning: --tasks shows no tasks: ${why.source}\\n$`),
        );
        assert.equal(doc.tasks, undefined, "no tasks member");
      } else {
        // A program that never imported asyncio has no tasks, and that is no problem.
        assert.match(result.stdout, /\n\nNo asyncio tasks\.\n$/, "no tasks");
        assert.equal(result.stderr, "", "nothing on stderr");
        assert.deepEqual(doc.tasks, [], "an empty tasks array");
      }
    } catch (error) {
      throw withRun(error, result);
    }
  });
}

/** Debian's uvloop, built for Debian's python3.11. */
const UVLOOP = "/usr/lib/python3/dist-packages/uvloop";

for (const python of await findPythons()) {
  let skip = skipFor(python);
  if (skip === undefined && python.id !== "3.11-debian") {
    skip = { reason: "Debian's python3-uvloop is built for Debian's python3.11 only" };
  }
  if (skip === undefined) {
    try {
      Deno.statSync(UVLOOP);
    } catch {
      skip = { reason: `${UVLOOP} not found: apt-get install python3-uvloop`, missing: true };
    }
  }
  registerTest(`tasks uvloop remote python=${python.id}`, skip, async () => {
    await using target = await startFixture(python, FIXTURE, { args: ["uvloop"] });
    const truth = JSON.parse(await Deno.readTextFile(`${target.dir}/tasks.json`)) as TruthTask[];
    await checkRuns(["remote", String(target.pid)], truth, target.pid);
  });
}
