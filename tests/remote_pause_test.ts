/**
 * How long blocking `pystack remote` keeps its target stopped, and that the
 * short pause costs nothing in consistency: the Python stacks are read from
 * pages copied while every thread was stopped (`src/process/paused_snapshot.ts`).
 *
 * - Many threads (`fixtures/bench_threads.py`, 60 threads 10 frames deep):
 *   every stack exact, every thread id, one pause, the pages in one read.
 * - Stacks that change all the time (`fixtures/churning_stack.py`): the copy
 *   may lack a page the walk needs and is taken again, and no stack is ever
 *   made of two moments or marked.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FIXTURES_DIR,
  parseTraceback,
  procState,
  registerTest,
  runPystack,
  startFixture,
  threadIds,
  tracerPid,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { fixtureLines, tornStack } from "./_churn_stacks.ts";

const pythons = await findPythons();
const byId = (id: string) => pythons.find((p) => p.id === id);

/** `-v`'s line when the stacks came from one copy. */
const FROM_COPY =
  /^pystack: stacks read from (\d+) pages copied in (\d+) reads? while the target was paused \((?:pause|pauses): ([\d., ]+) ms\)$/m;

const THREADS = 60;
const DEPTH = 10;

/** Line numbers of `fixtures/bench_threads.py` lines holding `text`. */
function benchLine(text: string): number {
  const lines = Deno.readTextFileSync(FIXTURES_DIR + "bench_threads.py").split("\n");
  const at = lines.findIndex((line) => line.includes(text));
  assert.ok(at >= 0, `bench_threads.py has '${text}'`);
  return at + 1;
}

// The fixture needs 3.3+ (time.monotonic, signal.pthread_sigmask); 3.6 and 3.9 find thread ids
// through registers taken in the pause.
for (const id of ["3.6-pyenv", "3.9-pyenv", "3.11-debian", "3.12-pyenv", "3.14-sid", "3.13t"]) {
  const python = byId(id);
  registerTest(
    `remote pause python=${id} fixture=bench_threads threads=${THREADS}: every stack exact, ` +
      "read from pages copied in one pause and one read",
    python === undefined
      ? { reason: `no interpreter ${id} here`, missing: true }
      : remoteSkip(python),
    async () => {
      await using target = await startFixture(python!, "bench_threads.py", {
        args: [String(THREADS), String(DEPTH)],
      });
      const result = await runPystack(["-v", "remote", String(target.pid)]);
      try {
        assert.equal(result.code, 0, "exit code");
        const copy = FROM_COPY.exec(result.stderr);
        assert.ok(copy, "-v says the stacks were read from one copy");
        assert.equal(copy[2], "1", "every page copied in one read");
        assert.equal(copy[3]!.split(",").length, 1, "in one pause");
        const threads = parseTraceback(result.stdout);
        assert.deepEqual(
          threads.map((t) => t.tid).sort((a, b) => a - b),
          threadIds(target.pid),
          "every thread, by its id",
        );
        const recurse = benchLine("bench_recurse(depth - 1, started, sleeper)");
        const [sleeps, waits] = [
          benchLine("            time.sleep(1000)"),
          benchLine("never_set.wait()"),
        ];
        const workers = threads.filter((t) => /^bench-\d+$/.test(t.name ?? ""));
        assert.equal(workers.length, THREADS, "every worker, by its name");
        for (const t of workers) {
          const number = Number(t.name!.slice("bench-".length));
          const own = t.frames.filter((f) => f.file.endsWith("/bench_threads.py"));
          assert.deepEqual(
            own.map((f) => `${f.func}:${f.line}`),
            [
              `worker:${benchLine("    bench_recurse(depth, started, sleeper)")}`,
              ...Array(DEPTH - 1).fill(`bench_recurse:${recurse}`),
              `bench_recurse:${number % 2 === 0 ? sleeps : waits}`,
            ],
            `frames of ${t.name}`,
          );
        }
        assert.equal(tracerPid(target.pid), 0, "the target is not traced after");
        assert.notEqual(procState(target.pid), "t", "and runs");
      } catch (error) {
        throw withRun(error, result);
      }
    },
  );
}

/** Blocking runs on the churning fixture. */
const CHURN_RUNS = 12;

for (const id of ["2.7-pyenv", "3.11-debian", "3.12-pyenv", "3.14-sid"]) {
  const python = byId(id);
  registerTest(
    `remote pause python=${id} fixture=churning_stack: ${CHURN_RUNS} blocking runs, ` +
      "no stack torn or marked while stacks churn",
    python === undefined
      ? { reason: `no interpreter ${id} here`, missing: true }
      : remoteSkip(python),
    async () => {
      await using target = await startFixture(python!, "churning_stack.py");
      const script = FIXTURES_DIR + "churning_stack.py";
      const lines = fixtureLines();
      let fromCopy = 0;
      for (let run = 0; run < CHURN_RUNS; run++) {
        const result = await runPystack(["-v", "remote", String(target.pid)]);
        try {
          assert.equal(result.code, 0, "exit code");
          if (FROM_COPY.test(result.stderr)) fromCopy++;
          else assert.match(result.stderr, /^pystack: stacks read while paused/m, "-v says how");
          const threads = parseTraceback(result.stdout);
          const churning = threads.filter((t) => t.frames.some((f) => f.func === "churn"));
          assert.equal(churning.length, 2, "both churning threads");
          for (const t of threads) assert.deepEqual(t.extra, [], `thread ${t.tid} unmarked`);
          for (const t of churning) {
            const frames = t.frames.map((f) => ({ file: f.file, function: f.func, line: f.line }));
            assert.equal(tornStack(frames, script, lines), undefined, `thread ${t.tid}`);
          }
        } catch (error) {
          throw withRun(error, result);
        }
      }
      assert.ok(fromCopy > 0, "some runs read the stacks from one copy");
      assert.equal(tracerPid(target.pid), 0, "the target is not traced after");
    },
  );
}
