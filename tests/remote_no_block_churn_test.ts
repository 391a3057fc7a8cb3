/**
 * `pystack remote PID --no-block` on a target whose stack changes while it is
 * read (`fixtures/churning_stack.py`): the `(!) Stack may be incomplete`
 * marker appears on some runs, a stack made of two moments never goes
 * unmarked, the target is never stopped, and a target that another tracer
 * holds is still read.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertValidReport } from "./_json_schema.ts";
import {
  describeRun,
  parseTraceback,
  type PystackResult,
  registerTest,
  runPystack,
  sleep,
  startFixture,
  threadIds,
  threadName,
  tracerPid,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { type FixtureLines, fixtureLines, type Frame, tornStack } from "./_churn_stacks.ts";

const FIXTURE = "churning_stack.py";
/** Runs per interpreter at most while waiting for a marked stack. */
const MAX_RUNS = 30;
/** Runs per interpreter at least, each checked for unmarked torn stacks. */
const MIN_RUNS = 10;
const MARKER = "(!) Stack may be incomplete: ";

/** The threads of one run, as text or JSON showed them. */
interface RunThreads {
  threads: { tid: number; name: string | null; partial: string | null; frames: Frame[] }[];
}

function fromText(result: PystackResult): RunThreads {
  return {
    threads: parseTraceback(result.stdout).map((thread) => {
      const marks = thread.extra.filter((line) => line.startsWith(`    ${MARKER}`));
      assert.deepEqual(
        thread.extra.filter((line) => !marks.includes(line)),
        [],
        `no unknown lines in thread ${thread.tid}`,
      );
      return {
        tid: thread.tid,
        name: thread.name ?? null,
        partial: marks.length ? marks.join("\n") : null,
        frames: thread.frames.map((frame) => ({ ...frame, function: frame.func })),
      };
    }),
  };
}

function fromJson(result: PystackResult): RunThreads {
  const doc = JSON.parse(result.stdout);
  assertValidReport(doc);
  assert.equal(doc.target.nonBlocking, true, "JSON target.nonBlocking with --no-block");
  return doc as RunThreads;
}

/** `futex`, in `/proc/PID/task/TID/syscall` on x86-64. */
const SYS_FUTEX = 202;

/**
 * Start the fixture and wait until its main thread sleeps: in a system call
 * that is not `futex` (Python 2.7's spinning threads can keep the GIL from
 * it for a long while after it signalled ready; waiting for the GIL is a
 * `futex` wait, which the harness's settling cannot tell from a sleep).
 */
async function startChurning(python: Python) {
  const target = await startFixture(python, FIXTURE);
  const deadline = Date.now() + 15_000;
  let same = 0;
  let last = "";
  for (;;) {
    const call = Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/syscall`);
    const number = Number(call.split(" ", 1)[0]);
    same = call === last ? same + 1 : 0;
    last = call;
    // The same call three polls in a row: a sleep, not a passing system call.
    if (Number.isInteger(number) && number !== SYS_FUTEX && same >= 2) return target;
    if (Date.now() > deadline) {
      await target.stop();
      throw new Error(`the main thread of ${FIXTURE} never went to sleep (syscall ${call.trim()})`);
    }
    await sleep(5);
  }
}

/** Check one run; returns whether a churn thread was marked. */
function checkRun(
  result: PystackResult,
  read: RunThreads,
  target: { pid: number; scriptPath: string },
  lines: FixtureLines,
): boolean {
  assert.equal(result.code, 0, "exit code");
  assert.equal(result.stderr, "", "nothing on stderr");
  // Every thread, newest first: the main thread's state is the oldest. (Thread ids alone do
  // not give the order: they wrap around, and the suite's churning fixtures wrap them fast.)
  assert.deepEqual(
    read.threads.map((thread) => thread.tid).sort((a, b) => a - b),
    threadIds(target.pid),
    "every thread",
  );
  assert.equal(read.threads.at(-1)?.tid, target.pid, "the main thread last (oldest)");
  const main = read.threads.find((thread) => thread.tid === target.pid)!;
  assert.equal(main.partial, null, "the sleeping main thread is never marked");
  assert.deepEqual(
    main.frames.map(({ file, function: name, line }) => ({ file, function: name, line })),
    [{ file: target.scriptPath, function: "<module>", line: lines.call.get("main")! }],
    "main thread",
  );
  const churns = read.threads.filter((thread) => thread.tid !== target.pid);
  assert.deepEqual(
    churns.map((thread) => threadName(target.pid, thread.tid)).sort(),
    ["churn-1", "churn-2"],
    "the churn threads",
  );
  let marked = false;
  for (const churn of churns) {
    // The walk's own markers (a frame read as it was being freed) count as well.
    if (churn.partial !== null) {
      marked = true;
      continue;
    }
    const torn = tornStack(churn.frames, target.scriptPath, lines);
    assert.equal(torn, undefined, `thread ${churn.tid}: an unmarked stack is one moment`);
  }
  return marked;
}

async function checkMarkers(python: Python): Promise<void> {
  const lines = fixtureLines();
  await using target = await startChurning(python);
  const marked = { text: 0, json: 0 };
  let runs = 0;
  while (runs < MAX_RUNS && (runs < MIN_RUNS || marked.text === 0 || marked.json === 0)) {
    const json = runs % 2 === 1;
    const args = ["remote", String(target.pid), "--no-block", ...(json ? ["--json"] : [])];
    const result = await runPystack(args);
    try {
      const read = json ? fromJson(result) : fromText(result);
      if (checkRun(result, read, target, lines)) marked[json ? "json" : "text"]++;
    } catch (error) {
      throw withRun(error, result);
    }
    runs++;
  }
  console.log(
    `${runs} runs: a churn thread marked in ${marked.text} text and ${marked.json} JSON runs`,
  );
  assert.ok(marked.text > 0, `the marker shows in the text of some of ${runs} runs`);
  assert.ok(marked.json > 0, `partial is set in the JSON of some of ${runs} runs`);
}

/**
 * Run pystack with the walk held 300 ms after the attach step
 * (`_PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS`) while sampling the state of every
 * task of the target; returns the states seen and how many samples were taken.
 */
async function statesDuringRun(
  pid: number,
  args: string[],
): Promise<{ result: PystackResult; states: Set<string>; samples: number }> {
  const states = new Set<string>();
  let samples = 0;
  let done = false;
  const run = runPystack(args, { env: { _PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS: "300" } })
    .finally(() => done = true);
  while (!done) {
    for (const tid of threadIds(pid)) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
      states.add(stat.slice(stat.lastIndexOf(")") + 2).split(" ", 1)[0]!);
    }
    samples++;
    await sleep(1);
  }
  return { result: await run, states, samples };
}

async function checkNeverStopped(python: Python): Promise<void> {
  await using target = await startChurning(python);
  const blocking = await statesDuringRun(target.pid, ["remote", String(target.pid)]);
  assert.equal(blocking.result.code, 0, describeRun(blocking.result));
  assert.ok(
    blocking.states.has("t"),
    `the sampler sees a blocking run stop the target (states ${[...blocking.states]}, ` +
      `${blocking.samples} samples)`,
  );
  const free = await statesDuringRun(target.pid, ["remote", String(target.pid), "--no-block"]);
  assert.equal(free.result.code, 0, describeRun(free.result));
  assert.ok(free.samples >= 50, `sampled all along the run (${free.samples} samples)`);
  const stopped = [...free.states].filter((state) => state !== "R" && state !== "S");
  assert.deepEqual(
    stopped,
    [],
    `--no-block leaves every task running (states ${[...free.states]})`,
  );
}

async function checkTracedElsewhere(python: Python): Promise<void> {
  const lines = fixtureLines();
  await using target = await startChurning(python);
  const strace = new Deno.Command("strace", {
    args: ["-f", "-e", "trace=none", "-o", "/dev/null", "-p", String(target.pid)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const deadline = Date.now() + 10_000;
    while (!threadIds(target.pid).every((tid) => tracerPid(target.pid, tid) === strace.pid)) {
      assert.ok(Date.now() < deadline, "strace attached to every thread within 10 s");
      await sleep(10);
    }
    const blocked = await runPystack(["remote", String(target.pid)]);
    assert.equal(blocked.code, 4, `a blocking run is refused: ${describeRun(blocked)}`);
    assert.match(
      blocked.stderr,
      new RegExp(
        `^pystack: Cannot inspect process ${target.pid}: .*: Operation not permitted; .*` +
          "another debugger may already be attached\n$",
      ),
      "one line on stderr, which says another debugger may be attached",
    );
    const result = await runPystack(["remote", String(target.pid), "--no-block"]);
    try {
      checkRun(result, fromText(result), target, lines);
    } catch (error) {
      throw withRun(error, result);
    }
    assert.ok(
      threadIds(target.pid).every((tid) => tracerPid(target.pid, tid) === strace.pid),
      "strace still holds every thread",
    );
  } finally {
    strace.kill("SIGKILL");
    await strace.status;
  }
}

for (const python of await findPythons()) {
  const skip = remoteSkip(python);
  registerTest(
    `no-block churn python=${python.id} marks torn stacks`,
    skip,
    () => checkMarkers(python),
  );
  registerTest(
    `no-block churn python=${python.id} never stops the target`,
    skip,
    () => checkNeverStopped(python),
  );
  registerTest(
    `no-block churn python=${python.id} reads a target traced by strace`,
    skip,
    () => checkTracedElsewhere(python),
  );
}
