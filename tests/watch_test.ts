/**
 * `pystack watch` on live processes: `fixtures/watch_mix.py` has a thread
 * blocked for ever on a lock, a busy thread and two that nap 50 ms at a time;
 * only the blocked one may be called stuck, on every interpreter, blocking,
 * `--no-block` and `--native`. Also the picture formats, Ctrl-C and a target
 * that exits while watched.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  FIXTURES_DIR,
  registerTest,
  type RunningFixture,
  runPystack,
  sleep,
  startFixture,
  tracerPid,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { assertValidSpeedscope, assertValidWatch } from "./_watch_json.ts";

const pythons = await findPythons();
const FIXTURE = "watch_mix.py";
const SOURCE = Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n");

/** The 1-based line of the `# @watch NAME` marker. */
function markerLine(name: string): number {
  const index = SOURCE.findIndex((line) => line.endsWith(`# @watch ${name}`));
  assert.ok(index >= 0, `marker ${name}`);
  return index + 1;
}

interface JsonFrame {
  file: string;
  function: string;
  line: number;
}
interface JsonWatchThread {
  tid: number;
  name: string | null;
  stuck: boolean;
  verdict: string;
  reason: string;
  cpuPercent: number | null;
  state: string | null;
  wakeups: number | null;
  samples: number;
  stacks: { count: number; share: number; frames: JsonFrame[]; native?: unknown[] }[];
}

function skipOf(python: Python) {
  const reason = python.unavailable ?? python.missing;
  return reason === undefined ? undefined : { reason, missing: python.missing !== undefined };
}

/** Runs `watch` on a fresh fixture and checks the verdicts of its four threads. */
async function checkVerdicts(python: Python, extra: string[]): Promise<void> {
  await using fixture = await startFixture(python, FIXTURE);
  // --native: a fixed number of samples, not a duration: the first native sample loads the
  // debug information, and on a loaded machine 2 s could hold fewer than 5 samples.
  const span = extra.includes("--native")
    ? ["--samples", "8", "--interval", "100ms"]
    : ["--duration", "2"];
  const result = await runPystack(["watch", String(fixture.pid), ...span, "--json", ...extra]);
  assert.equal(result.code, 0, describeRun(result));
  const doc = JSON.parse(result.stdout);
  assertValidWatch(doc);
  const context = describeRun(result);
  assert.ok(doc.watch.samples >= 5, `at least 5 samples\n${context}`);
  assert.equal(doc.watch.nonBlocking, extra.includes("--no-block"));
  const threads = doc.threads as JsonWatchThread[];
  const byName = new Map(threads.map((t) => [t.tid === fixture.pid ? "main" : t.name, t]));
  assert.deepEqual([...byName.keys()].sort(), ["blocked", "busy", "main", "napper"], context);
  const tids = Deno.readDirSync(`/proc/${fixture.pid}/task`).map((e) => Number(e.name));
  assert.deepEqual(threads.map((t) => t.tid).sort(), [...tids].sort(), "the fixture's threads");
  assert.deepEqual(
    threads.filter((t) => t.stuck).map((t) => t.name),
    ["blocked"],
    `only "blocked" is stuck\n${context}`,
  );
  const innermost = (t: JsonWatchThread, i = 0) => t.stacks[i]!.frames.at(-1)!;
  const blocked = byName.get("blocked")!;
  assert.equal(blocked.verdict, "stuck");
  assert.equal(blocked.samples, doc.watch.samples);
  assert.equal(blocked.stacks.length, 1);
  assert.deepEqual(innermost(blocked), {
    ...innermost(blocked),
    file: fixture.scriptPath,
    function: "wait_for_lock",
    line: markerLine("blocked"),
  });
  assert.equal(blocked.state, "S");
  assert.ok(blocked.cpuPercent !== null && blocked.cpuPercent <= 2);
  for (const name of ["napper", "main"]) {
    const napper = byName.get(name)!;
    assert.equal(napper.verdict, "progressing", `${name}: ${napper.reason}`);
    assert.match(napper.reason, /woke up \d+ times|different Python stacks|% CPU/);
    // The main thread: its loop among its stacks, not always the most frequent. On a loaded
    // machine 2.7's GIL, held by "busy", can keep it waiting after signal_ready's os.rename
    // (that stack, line and all, is what it then shows) for most of the samples.
    const at = name === "main"
      ? napper.stacks.findIndex((s) => s.frames.at(-1)?.line === markerLine(name))
      : 0;
    assert.ok(at >= 0, `${name}: its loop among ${JSON.stringify(napper.stacks)}`);
    const where = innermost(napper, at);
    assert.equal(where.line, markerLine(name), name);
    assert.equal(where.function, name === "main" ? "main" : "nap");
  }
  const busy = byName.get("busy")!;
  assert.equal(busy.verdict, "progressing", busy.reason);
  assert.ok(busy.cpuPercent !== null && busy.cpuPercent >= 5, `busy used CPU: ${busy.cpuPercent}`);
  // Without pausing, a read that races the busy thread may find a torn stack: only the most
  // common one is checked then.
  const checked = extra.includes("--no-block") ? 1 : busy.stacks.length;
  for (let i = 0; i < checked; i++) {
    assert.ok(["spin", "spin_a", "spin_b"].includes(innermost(busy, i).function));
  }
  const total = busy.stacks.reduce((sum, s) => sum + s.count, 0);
  assert.equal(total, busy.samples);
  if (extra.includes("--native")) {
    assert.ok(blocked.stacks[0]!.native !== undefined && blocked.stacks[0]!.native.length > 0);
  }
  assert.equal(tracerPid(fixture.pid), 0, "the target is not traced after the watch");
}

/** Runs `check` for each interpreter, at most `width` at a time (2 cores, shared). */
function registerMatrix(
  title: string,
  chosen: Python[],
  check: (python: Python) => Promise<void>,
): void {
  for (const python of chosen) {
    registerTest(`${title} python=${python.id}`, skipOf(python), () => check(python));
  }
}

registerMatrix(
  "watch flags only the blocked thread as stuck",
  pythons,
  (p) => checkVerdicts(p, []),
);
const SOME = ["2.7-pyenv", "3.12-pyenv", "3.15-sid"];
registerMatrix(
  "watch --no-block flags only the blocked thread as stuck",
  pythons.filter((p) => SOME.includes(p.id)),
  (p) => checkVerdicts(p, ["--no-block"]),
);
registerMatrix(
  "watch --native flags only the blocked thread as stuck",
  pythons.filter((p) => ["2.7-pyenv", "3.11-debian", "3.12-pyenv"].includes(p.id)),
  (p) => checkVerdicts(p, ["--native"]),
);

const main = pythons.find((p) => p.id === "3.12-pyenv") ?? pythons.at(-1)!;

registerTest("watch --format collapsed counts add up to the samples", skipOf(main), async () => {
  await using fixture = await startFixture(main, FIXTURE);
  const args = ["watch", String(fixture.pid), "--samples", "12", "--interval", "20ms"];
  const result = await runPystack([...args, "--format", "collapsed"]);
  assert.equal(result.code, 0, describeRun(result));
  const lines = result.stdout.trimEnd().split("\n");
  const perThread = new Map<string, number>();
  for (const line of lines) {
    const match = /^(thread \d+(?: \([^;]*\))?)((?:;[^;]+)+) (\d+)$/.exec(line);
    assert.ok(match !== null, `a collapsed line: ${line}`);
    perThread.set(match[1]!, (perThread.get(match[1]!) ?? 0) + Number(match[3]));
  }
  assert.equal(perThread.size, 4);
  for (const [thread, count] of perThread) assert.equal(count, 12, thread);
  const blocked = lines.filter((l) => l.includes("(blocked);"));
  assert.deepEqual(blocked.length, 1);
  assert.ok(
    blocked[0]!.endsWith(`;wait_for_lock (${fixture.scriptPath}:${markerLine("blocked")}) 12`),
  );
});

registerTest("watch --format speedscope is a valid speedscope file", skipOf(main), async () => {
  await using fixture = await startFixture(main, FIXTURE);
  const args = ["watch", String(fixture.pid), "--samples", "8", "--interval", "20ms"];
  const result = await runPystack([...args, "--format", "speedscope"]);
  assert.equal(result.code, 0, describeRun(result));
  const doc = JSON.parse(result.stdout);
  assertValidSpeedscope(doc);
  assert.equal(doc.profiles.length, 4);
  for (const p of doc.profiles) assert.equal(p.weights.reduce((a: number, b: number) => a + b), 8);
  const names = doc.shared.frames.map((f: { name: string }) => f.name);
  assert.ok(names.includes(`wait_for_lock (${fixture.scriptPath}:${markerLine("blocked")})`));
});

/** Starts `watch` on the fixture as a child process (not through `runPystack`: it is signalled). */
function spawnWatch(fixture: RunningFixture, args: string[]) {
  return new Deno.Command("deno", {
    args: [
      "run",
      "--allow-all",
      "src/main.ts",
      "--no-color",
      "watch",
      String(fixture.pid),
      ...args,
    ],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

registerTest(
  "watch: Ctrl-C ends sampling early and still prints the summary",
  skipOf(main),
  async () => {
    await using fixture = await startFixture(main, FIXTURE);
    const child = spawnWatch(fixture, ["--duration", "60s", "--interval", "10ms"]);
    await sleep(1500);
    child.kill("SIGINT");
    const output = await child.output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
    assert.match(stdout, /^Watched process \d+ \(Python 3\.\d+\.\d+\): \d+ samples in \d+\.\d\d s/);
    assert.match(stdout, /\nSampling ended early: interrupted \(Ctrl-C\)\n/);
    assert.match(stdout, /\nThread \d+ \(blocked\): STUCK \(the same stack in all \d+ samples/);
    assert.equal(tracerPid(fixture.pid), 0);
    for (const e of Deno.readDirSync(`/proc/${fixture.pid}/task`)) {
      const stat = Deno.readTextFileSync(`/proc/${fixture.pid}/task/${e.name}/stat`);
      assert.notEqual(stat.slice(stat.lastIndexOf(")") + 2)[0], "t", "no thread is left stopped");
    }
  },
);

registerTest("watch notes a target that exits while watched", skipOf(main), async () => {
  await using fixture = await startFixture(main, FIXTURE);
  const child = spawnWatch(fixture, ["--duration", "20s", "--json"]);
  await sleep(1500);
  await fixture.stop();
  const output = await child.output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
  const doc = JSON.parse(stdout);
  assertValidWatch(doc);
  assert.match(doc.watch.endedEarly, /^the process exited after \d+ samples$/);
  assert.ok(doc.watch.samples >= 2);
});

registerTest("watch rejects bad options with one line and exit code 2", undefined, async () => {
  for (
    const [args, message] of [
      [["watch", "1", "--duration", "soon"], "pystack: Invalid duration 'soon'"],
      [["watch", "1", "--samples", "0"], "pystack: Invalid sample count '0'"],
      [["watch", "1", "--format", "svg"], "pystack: Unknown format 'svg'"],
      [["watch", "1", "--duration", "1", "--samples", "3"], "pystack: --duration and --samples"],
      [["watch", "1", "--no-block", "--native"], "pystack: Native stacks are only available"],
      [["watch", "1", "--locals"], "pystack: Option --locals does not apply to 'watch'"],
      [["core", "x", "--duration", "1"], "pystack: Option --duration does not apply to 'core'"],
    ] as const
  ) {
    const result = await runPystack([...args]);
    assert.equal(result.code, 2, describeRun(result));
    assert.equal(result.stderr.split("\n").length, 2, describeRun(result));
    assert.ok(result.stderr.startsWith(message), describeRun(result));
  }
});

registerTest("watch shows a progress line on a terminal and erases it", skipOf(main), async () => {
  await using fixture = await startFixture(main, FIXTURE);
  // `script` gives the command a pseudo-terminal and copies what it writes there.
  const command = `deno run --allow-all src/main.ts --no-color watch ${fixture.pid} ` +
    "--samples 5 --interval 50ms";
  const output = await new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, text);
  const progress = [
    ...text.matchAll(
      // deno-lint-ignore no-control-regex
      /\r\x1b\[2K(sampling process \d+: (\d+) samples, [\d.]+ s, (\d+) threads \(Ctrl-C to stop\))?/g,
    ),
  ];
  assert.deepEqual(progress.map((m) => m[2] ?? "erased"), ["1", "2", "3", "4", "5", "erased"]);
  assert.ok(progress.slice(0, 5).every((m) => m[3] === "4"), "4 threads seen");
  // deno-lint-ignore no-control-regex
  assert.match(text, /\r\x1b\[2KWatched process \d+ \(Python 3\.\d+\.\d+\): 5 samples in /);
});

registerTest("watch --json and --format json report errors as JSON", undefined, async () => {
  const gone = 0x3ffffff0;
  for (const args of [["--json"], ["--format", "json"], ["--format=json"]]) {
    const result = await runPystack(["watch", String(gone), ...args]);
    assert.equal(result.code, 3, describeRun(result));
    const doc = JSON.parse(result.stdout);
    assert.equal(doc.error.exitCode, 3);
    assert.match(doc.error.message, new RegExp(`${gone}`));
  }
});
