/**
 * Processes whose threads run code of several interpreters
 * (`fixtures/subinterpreters.py`): three threads each in a subinterpreter of
 * their own, and the main thread nested three interpreters deep (main → A → B,
 * B created from inside A). Every thread, every interpreter's frames, the
 * section order and the GIL per interpreter, live (text, `--json`,
 * `--native`) and from a kernel core, on every interpreter from 3.8 on.
 *
 * @module
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import {
  describeRun,
  expectedFrames,
  type ExpectedStacks,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
  threadIds,
  threadName,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { fixtureCore, makerSkip } from "./_cores.ts";
import { nativeSkip } from "./_native_cases.ts";

const FIXTURE = "subinterpreters.py";
const UNMERGED = "* - Unable to merge native stack due to insufficient native information - *";

interface JsonFrame {
  file: string;
  function: string;
  line: number | null;
  variables?: { name: string; value: string }[];
}
interface JsonPart {
  interpreterId: number;
  holdsGil: boolean | null;
  threadState?: string;
  frameCount: number;
}
interface JsonThread {
  tid: number;
  pythonName?: string | null;
  interpreterId: number;
  frames: JsonFrame[];
  interpreters?: JsonPart[];
}
interface JsonReport {
  threads: JsonThread[];
  interpreters: { id: number; threadStates: number; state?: string }[];
}

function skipFor(python: Python): Skip | undefined {
  if (python.missing) return { reason: python.missing, missing: true };
  if (python.unavailable) return { reason: python.unavailable };
  if (python.version[0] < 3 || python.version[1] < 8) {
    return { reason: `Python ${python.version.join(".")} has no _xxsubinterpreters module` };
  }
  return undefined;
}

/** The file name of a `run_string` script's code: `<script>` from 3.14, `<string>` before. */
function scriptFile(python: Python): string {
  return python.version[1] >= 14 ? "<script>" : "<string>";
}

/** The expected stacks with the scripts' file name of `python`. */
async function expected(python: Python): Promise<ExpectedStacks> {
  const stacks = await expectedFrames(FIXTURE);
  for (const frames of stacks.values()) {
    for (const f of frames) if (f.file === "<string>") f.file = scriptFile(python);
  }
  return stacks;
}

/** How many frames of each interpreter, outermost first, per stack (fixture frames only). */
const PART_SHAPES: Record<string, string[][]> = {
  "sub": [["worker", "enter"], ["<module>", "sub_worker"]],
  "busy": [["spinner", "enter"], ["<module>", "sub_spinner"]],
  "main": [["<module>", "main", "enter"], ["<module>", "nested_outer", "enter"], [
    "<module>",
    "nested_sleeper",
  ]],
};

function checkReport(
  report: JsonReport,
  stacks: ExpectedStacks,
  python: Python,
  facts: { pid: number; tids: number[]; names: Map<number, string> },
): void {
  const files = new Set([FIXTURE, scriptFile(python)]);
  assert.deepEqual(
    report.threads.map((t) => t.tid).sort(),
    [...facts.tids].sort(),
    "every OS thread is shown, once",
  );
  // 4 workers' subinterpreters, A and B, and the main interpreter.
  assert.equal(report.interpreters.length, 7, "interpreters found");
  assert.equal(report.interpreters.at(-1)!.id, 0, "the main interpreter is last in the list");
  const subIds = new Set<number>();
  for (const thread of report.threads) {
    const stack = thread.tid === facts.pid ? "main" : facts.names.get(thread.tid)!;
    const want = stacks.get(stack);
    assert.ok(want !== undefined, `thread ${thread.tid} (${stack}) is one of the fixture's`);
    const mine = thread.frames.filter((f) => files.has(basename(f.file)));
    assert.deepEqual(
      mine.map((f) => [f.function, basename(f.file)]),
      want.map((f) => [f.func, f.file]),
      `thread ${stack}: the frames of every interpreter, in order`,
    );
    mine.forEach((f, i) => {
      assert.ok(want[i]!.lines.includes(f.line!), `thread ${stack} frame ${i} line ${f.line}`);
    });
    const parts = thread.interpreters;
    assert.ok(parts !== undefined, `thread ${stack} has interpreter parts`);
    const shape = PART_SHAPES[stack.startsWith("sub-") ? "sub" : stack]!;
    assert.equal(parts.length, shape.length, `thread ${stack}: number of interpreters`);
    assert.equal(parts[0]!.interpreterId, 0, `thread ${stack}: the main interpreter is outermost`);
    assert.equal(thread.interpreterId, 0, `thread ${stack}: interpreterId is the outermost`);
    let start = 0;
    parts.forEach((part, i) => {
      const frames = thread.frames.slice(start, start + part.frameCount);
      start += part.frameCount;
      const fixtureFrames = frames.filter((f) => files.has(basename(f.file)));
      assert.deepEqual(
        fixtureFrames.map((f) => f.function),
        shape[i],
        `thread ${stack}: the frames of interpreter ${part.interpreterId}`,
      );
      // Only `busy`'s subinterpreter runs (3.12+): it holds its own GIL, or, on a
      // free-threaded build, its thread state is the one attached.
      const runs = stack === "busy" && i === 1 && python.version[1] >= 12;
      const free = python.freeThreaded === true;
      assert.equal(
        part.holdsGil,
        runs && !free,
        `thread ${stack}: has the GIL in interpreter ${i}`,
      );
      if (free) {
        assert.equal(part.threadState, runs ? "attached" : "detached", `${stack}: state ${i}`);
      }
      if (i > 0) {
        assert.ok(part.interpreterId > 0, `thread ${stack}: part ${i} is a subinterpreter`);
        assert.ok(!subIds.has(part.interpreterId), "each subinterpreter runs on one thread");
        subIds.add(part.interpreterId);
      }
    });
    assert.equal(start, thread.frames.length, `thread ${stack}: the parts cover every frame`);
  }
  assert.equal(subIds.size, 6, "six subinterpreters");
}

/** The `In … interpreter` lines of the text output, per thread header. */
function sectionLines(stdout: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let tid = -1;
  for (const line of stdout.split("\n")) {
    const header = line.match(/^Traceback for thread (\d+) /);
    if (header) {
      tid = Number(header[1]);
      assert.ok(!line.includes("["), `no status on a header of several interpreters: ${line}`);
      out.set(tid, []);
    } else if (line.startsWith("  In ")) {
      out.get(tid)!.push(line);
    }
  }
  return out;
}

function checkText(result: PystackResult, report: JsonReport): void {
  const sections = sectionLines(result.stdout);
  for (const thread of report.threads) {
    assert.deepEqual(
      sections.get(thread.tid),
      thread.interpreters!.map((p) => {
        const status = p.holdsGil
          ? "[Has the GIL]"
          : p.threadState === "attached"
          ? "[Attached]"
          : "[]";
        return p.interpreterId === 0
          ? `  In the main interpreter ${status}`
          : `  In interpreter ${p.interpreterId} ${status}`;
      }),
      `thread ${thread.tid}: its interpreter lines, outermost first`,
    );
  }
}

function withRun(error: unknown, result: PystackResult): Error {
  return new Error(`${(error as Error).message}\n${describeRun(result)}`, { cause: error });
}

async function run(args: string[]): Promise<PystackResult> {
  const result = await runPystack(args);
  assert.equal(result.code, 0, describeRun(result));
  return result;
}

for (const python of await findPythons()) {
  const skip = skipFor(python);
  registerTest(`subinterpreters remote python=${python.id}`, skip, async () => {
    await using fixture = await startFixture(python, FIXTURE);
    const tids = threadIds(fixture.pid);
    const names = new Map(tids.map((tid) => [tid, threadName(fixture.pid, tid)]));
    const json = await run(["remote", String(fixture.pid), "--json"]);
    const text = await run(["remote", String(fixture.pid)]);
    const report = JSON.parse(json.stdout) as JsonReport;
    try {
      checkReport(report, await expected(python), python, { pid: fixture.pid, tids, names });
    } catch (error) {
      throw withRun(error, json);
    }
    try {
      checkText(text, report);
    } catch (error) {
      throw withRun(error, text);
    }
    // --locals and --no-block follow the parts; from 3.13 `create()` returns the new
    // interpreter's id, which `enter` keeps in its local `interp`: the next part's id.
    const locals = await run(["remote", String(fixture.pid), "--json", "--locals", "--no-block"]);
    const withLocals = JSON.parse(locals.stdout) as JsonReport;
    try {
      checkReport(withLocals, await expected(python), python, {
        pid: fixture.pid,
        tids,
        names,
      });
      // Each thread's Python name, from the `threading` module of the interpreter it was
      // started in (the main one: sub-N and busy are threads of it that enter others).
      assert.deepEqual(
        withLocals.threads.map((t) => [t.tid, t.pythonName]).sort(),
        tids.map((tid) => [tid, tid === fixture.pid ? "MainThread" : names.get(tid)]).sort(),
      );
      for (const thread of withLocals.threads) {
        let start = 0;
        for (const part of thread.interpreters!) {
          const last = thread.frames[start + part.frameCount - 1]!;
          start += part.frameCount;
          if (start === thread.frames.length) break;
          assert.equal(last.function, "enter");
          const interp = last.variables?.find((v) => v.name === "interp")?.value;
          const next = thread.interpreters![thread.interpreters!.indexOf(part) + 1]!;
          if (python.version[1] >= 13) assert.equal(interp, String(next.interpreterId));
          else assert.ok(interp !== undefined, "enter's local interp");
        }
      }
    } catch (error) {
      throw withRun(error, locals);
    }
  });

  registerTest(
    `subinterpreters native python=${python.id} backend=live`,
    skip ?? nativeSkip(python, "live"),
    async () => {
      await using fixture = await startFixture(python, FIXTURE);
      const result = await run(["remote", String(fixture.pid), "--native"]);
      const report = JSON.parse(
        (await run(["remote", String(fixture.pid), "--json"])).stdout,
      ) as JsonReport;
      try {
        assert.ok(!result.stdout.includes(UNMERGED), "every part merges");
        checkText(result, report);
        // Each interpreter's line comes right before its first Python frame's line.
        const lines = result.stdout.split("\n");
        lines.forEach((line, i) => {
          if (line.startsWith("  In interpreter ")) {
            assert.match(lines[i + 1]!, /^ {4}\(Python\) File "<(string|script)>", line 3/);
          }
        });
      } catch (error) {
        throw withRun(error, result);
      }
    },
  );

  const maker = "kernel-abrt";
  registerTest(
    `subinterpreters core python=${python.id} maker=${maker}`,
    skip ?? makerSkip(maker),
    async () => {
      await using core = await fixtureCore(python, FIXTURE, maker);
      const tids = [...core.live.osThreads.keys()];
      const names = new Map([...core.live.osThreads].map(([tid, t]) => [tid, t.name]));
      const json = await run(["core", core.path, "--json"]);
      const report = JSON.parse(json.stdout) as JsonReport;
      try {
        checkReport(report, await expected(python), python, {
          pid: core.pid,
          tids,
          names,
        });
      } catch (error) {
        throw withRun(error, json);
      }
      checkText(await run(["core", core.path]), report);
    },
  );
}

/** `fixtures/subinterpreter_finalizing.py`: the main thread is inside `destroy()` of interpreter N. */
async function checkFinalizing(args: string[]): Promise<void> {
  const json = await run([...args, "--json"]);
  const text = await run(args);
  const report = JSON.parse(json.stdout) as JsonReport;
  try {
    const sub = report.interpreters.find((i) => i.id !== 0);
    assert.ok(sub !== undefined, "the subinterpreter is found");
    assert.deepEqual(
      report.interpreters.map((i) => [i.id, i.state]),
      [[sub.id, "finalizing"], [0, undefined]],
      "the subinterpreter is being finalized, the main one is not",
    );
    assert.equal(report.threads.length, 1);
    const main = report.threads[0]!;
    assert.deepEqual(main.frames.map((f) => f.function), ["<module>", "main", "__del__"]);
    assert.deepEqual(main.interpreters!.map((p) => [p.interpreterId, p.frameCount]), [
      [0, 2],
      [sub.id, 1],
    ]);
    assert.deepEqual(
      text.stdout.split("\n").filter((l) => l.startsWith("  In ")),
      ["  In the main interpreter []", `  In interpreter ${sub.id} [] (being finalized)`],
    );
  } catch (error) {
    throw withRun(error, text);
  }
}

for (const python of await findPythons()) {
  const skip = skipFor(python);
  registerTest(`subinterpreter being finalized remote python=${python.id}`, skip, async () => {
    await using fixture = await startFixture(python, "subinterpreter_finalizing.py");
    await checkFinalizing(["remote", String(fixture.pid)]);
  });
  registerTest(
    `subinterpreter being finalized core python=${python.id} maker=kernel-abrt`,
    skip ?? makerSkip("kernel-abrt"),
    async () => {
      await using core = await fixtureCore(python, "subinterpreter_finalizing.py", "kernel-abrt");
      await checkFinalizing(["core", core.path]);
    },
  );
}
