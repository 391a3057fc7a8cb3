/**
 * `--tasks` at scale and over corrupt memory (`fixtures/asyncio_many.py`), on every interpreter
 * from 3.8: 10,000 pending tasks are all listed, with their chains, in under a second of CPU
 * (the whole read of the process, measured in-process: wall time on a shared machine depends
 * on the neighbours); two tasks damaged on purpose (a coroutine
 * pointer and a name pointer set to an unmapped address) are shown with what could be read and
 * a marker, and the rest is whole: no crash, no hang, exit code 0.
 *
 * @module
 */
import assert from "node:assert/strict";
import { expectedFrames, registerTest, runPystack, type Skip, startFixture } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { inspectProcess } from "../src/inspect_process_sync.ts";

const FIXTURE = "asyncio_many.py";

/**
 * CPU time this thread has used, in ms (`/proc/thread-self/stat` utime + stime, in clock ticks
 * of 10 ms): the machine is shared, so wall time says more about the neighbours than about us,
 * and the JavaScript engine's compiler and collector threads are not the read.
 */
function cpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/thread-self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const COUNT = 10_000;

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

for (const python of await findPythons()) {
  registerTest(`tasks many and corrupt python=${python.id}`, skipFor(python), async () => {
    const frames = await expectedFrames(FIXTURE);
    const sleepLine = frames.get("many")![0]!.lines[0]!;
    const lostLine = frames.get("lost")![0]!.lines[0]!;
    await using target = await startFixture(python, FIXTURE, {
      args: [String(COUNT), "corrupt"],
    });
    const started = performance.now();
    const cpuBefore = cpuMs();
    const report = inspectProcess(target.pid, { tasks: true });
    const cpu = cpuMs() - cpuBefore;
    const ms = performance.now() - started;
    const tasks = report.tasks!;
    assert.equal(tasks.length, COUNT + 3, "every task (plus Task-1, bad-coro and the lost name)");
    assert.ok(cpu < 1000, `read with ${cpu} ms of CPU (${ms.toFixed(0)} ms of wall time)`);
    const many = tasks.filter((t) => t.name.startsWith("many-"));
    assert.equal(new Set(many.map((t) => t.name)).size, COUNT, "every many-N once");
    for (const t of many) {
      assert.deepEqual(
        t.coroutineStack.map((f) => f.function),
        ["sleep_long", "sleep"],
        `chain of ${t.name}`,
      );
      assert.equal(t.coroutineStack[0]!.line, sleepLine, `line of ${t.name}`);
      assert.equal(t.partial, undefined, `${t.name} is whole`);
    }
    const badCoro = tasks.find((t) => t.name === "bad-coro")!;
    assert.match(badCoro.partial ?? "", /^its coroutine is unreadable: /, "bad-coro's marker");
    assert.deepEqual(badCoro.coroutineStack, [], "bad-coro has no chain");
    const lost = tasks.find((t) => t.coroutineStack[0]?.function === "name_lost")!;
    assert.equal(lost.name, "???", "the lost name");
    assert.equal(lost.partial, "its name is unreadable", "the lost name's marker");
    assert.equal(lost.coroutineStack[0]!.line, lostLine, "its chain is still read");
    const text = await runPystack(["remote", String(target.pid), "--tasks"]);
    try {
      assert.equal(text.code, 0, "exit code");
      assert.match(
        text.stdout,
        /└── \(T\) bad-coro \[\(!\) incomplete: its coroutine is unreadable/,
      );
      assert.match(text.stdout, /└── \(T\) \?\?\? \[\(!\) incomplete: its name is unreadable\]/);
      assert.equal(text.stdout.match(/\(T\) many-\d+\n/g)?.length, COUNT, "every many-N drawn");
    } catch (error) {
      throw withRun(error, text);
    }
  });
}
