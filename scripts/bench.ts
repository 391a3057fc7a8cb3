/**
 * Benchmarks `pystack remote` against baselines measured in the same run.
 *
 * Usage: `deno task bench [--json] [--runs N] [--table-only] [--baseline DIR]
 *   [--only stopped] [--baseline-bundle PYSTACK_JS]`
 *
 * - `--runs N`: timed runs per command (default 15, after 2 warm-ups).
 * - `--only stopped`: only the target-stopped time and wall time of blocking
 *   `pystack remote` (items 1 and 3 below), for every pystack build.
 * - `--baseline-bundle PYSTACK_JS`: also measure that bundle (say, `main`'s),
 *   as the build `baseline`, in the same run (with `--only stopped`).
 * - `--json`: the table goes to stderr and one JSON line of the figures to stdout.
 *
 * What it measures, all against `fixtures/bench_threads.py` run under Debian's
 * `/usr/bin/python3.11` (4 threads, 30 frames deep, plus a ticker thread and
 * the main thread):
 *
 * 1. Target-stopped time of one blocking `pystack remote`: the fixture's
 *    ticker records the longest gap between wake-ups of a 1 ms sleep loop, and
 *    reports it on SIGUSR1. Per run: (gap during the pystack run) − (median
 *    gap over idle windows as long as the runs, one measured after each run).
 * 2. Wall time (spawn to exit, measured here) and peak RSS (`/usr/bin/time
 *    -f %M`, in separate runs so that it does not skew the wall times) of
 *    pystack (`src/main.ts`, plus `dist/pystack.js` and `dist/pystack` when
 *    built), of `gdb … thread apply all py-bt` and of `deno run` on an empty
 *    file (the Deno start-up floor). Commands run round-robin, so drift in the
 *    machine's load hits them all alike.
 * 3. Wall time of `pystack remote` on a 200-thread fixture (10 frames deep),
 *    and its target-stopped time as in 1 (for information: no goal).
 * 4. Wall time of `pystack remote --no-block`.
 * 5. Cores (issue 3): wall time and peak RSS of `pystack core` on a gcore and
 *    on a kernel core of the same 4-thread fixture, against
 *    `gdb -batch -ex 'thread apply all py-bt' PYTHON CORE`; and the peak RSS
 *    of `pystack core` on the kernel core of a process holding 1 GiB of heap.
 *    (`--no-core` leaves these out.)
 * 6. Issue 15's side-by-side table (`scripts/bench_table.ts`): the floor,
 *    `--version`, `remote`, `core`, `remote --native` and `core --native` of
 *    pystack (source, bundle, executable), gdb, eu-stack, Bloomberg PyStack
 *    (`PYSTACK_PEER`) and py-spy (on `PATH`). `--table-only` prints only it;
 *    `--baseline DIR` adds the builds of another checkout as columns.
 *
 * It installs the `time` package, and `python3.11-dbg` for gdb's py-bt, with
 * apt-get when they are missing, and says so. Every command has a timeout and
 * every process it starts is killed on the way out.
 *
 * @module
 */

import $ from "dax";
import { parseArgs } from "node:util";
import { sideBySideTable } from "./bench_table.ts";
import { median } from "./bench_runs.ts";
import { BENCH_PYTHON, spawnBenchFixture } from "./bench_fixture.ts";

// ---------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const PYTHON = BENCH_PYTHON;
const GNU_TIME = "/usr/bin/time";
const FIXTURE = `${ROOT}fixtures/bench_threads.py`;
const DENO = Deno.execPath();

const WARMUPS = 2;
const RSS_RUNS = 3;
const SMALL = { threads: 4, depth: 30 } as const;
const LARGE = { threads: 200, depth: 10 } as const;
/** Timeouts, in milliseconds. */
const TIMEOUT = { pystack: 15_000, gdb: 60_000, ready: 30_000, gap: 5_000 } as const;

const GOALS = {
  gdbRatio: 20,
  pystackMs: 80,
  stoppedMs: 10,
  large200Ms: 1000,
  coreGdbRatio: 20,
  coreMs: 80,
  bigCoreRssMiB: 150,
} as const;

/** A process that holds 1 GiB of touched heap, then signals ready and sleeps. */
const BIG_HEAP_PROGRAM = [
  "import sys, time",
  "b = bytearray(1 << 30)",
  "b[::4096] = b'x' * (1 << 18)",
  "open(sys.argv[1], 'w').write('ready')",
  "time.sleep(1000)",
].join("\n");

// ---------------------------------------------------------------------------
// Processes.
// ---------------------------------------------------------------------------

/** Every process started here that may outlive a command: killed on exit. */
const live = new Set<Deno.ChildProcess>();
/** The temporary directory, removed on exit. */
let tmpDir: string | undefined;

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/** The outcome of one command. */
interface Outcome {
  wallMs: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion, killing it after `timeoutMs`; throws on timeout. */
async function runTimed(cmd: readonly string[], timeoutMs: number): Promise<Outcome> {
  const [program, ...args] = cmd;
  const start = performance.now();
  const child = new Deno.Command(program!, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  live.add(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killQuietly(child);
  }, timeoutMs);
  try {
    const out = await child.output();
    const wallMs = performance.now() - start;
    if (timedOut) throw new Error(`Command timed out after ${timeoutMs} ms: ${cmd.join(" ")}`);
    const decoder = new TextDecoder();
    return {
      wallMs,
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

/** Peak RSS of `cmd` in KiB, from GNU time's `%M`. */
async function peakRssKiB(cmd: readonly string[], timeoutMs: number, dir: string) {
  const file = `${dir}/rss`;
  await runTimed([GNU_TIME, "-f", "%M", "-o", file, ...cmd], timeoutMs);
  // On failure GNU time writes "Command exited with non-zero status N" first.
  const last = (await Deno.readTextFile(file)).trim().split("\n").at(-1) ?? "";
  const kib = Number(last);
  if (!Number.isFinite(kib)) throw new Error(`Cannot parse ${GNU_TIME} output: ${last}`);
  return kib;
}

/** A running `bench_threads.py`. */
class Fixture {
  readonly child: Deno.ChildProcess;
  readonly ready: string;
  #exited = false;

  /** Starts the fixture; it writes `ready` to `readyPath`. */
  constructor(readonly threads: number, readonly depth: number, readyPath: string) {
    this.ready = readyPath;
    this.child = spawnBenchFixture(this.ready, { threads, depth });
    live.add(this.child);
    this.child.status.then(() => this.#exited = true);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Waits until the fixture wrote its ready file. */
  async waitReady(): Promise<void> {
    const deadline = performance.now() + TIMEOUT.ready;
    while (!(await exists(this.ready))) {
      if (this.#exited) throw new Error(`Fixture exited before it was ready: ${FIXTURE}`);
      if (performance.now() > deadline) {
        throw new Error(`Fixture not ready after ${TIMEOUT.ready} ms: ${FIXTURE}`);
      }
      await $.sleep(10);
    }
  }

  /** The ticker's longest gap (ms) since the previous call, which resets it. */
  async takeGap(): Promise<number> {
    const file = `${this.ready}.gap`;
    Deno.kill(this.pid, "SIGUSR1");
    const deadline = performance.now() + TIMEOUT.gap;
    for (;;) {
      try {
        const text = await Deno.readTextFile(file);
        await Deno.remove(file);
        return Number(text);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (this.#exited) throw new Error("Fixture exited while reporting a gap");
      if (performance.now() > deadline) {
        throw new Error(`Fixture did not report its gap within ${TIMEOUT.gap} ms`);
      }
      await $.sleep(1);
    }
  }

  async stop(): Promise<void> {
    killQuietly(this.child);
    await this.child.status;
    live.delete(this.child);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Statistics.
// ---------------------------------------------------------------------------

/** Median, min and max of a sample, in ms. */
interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

function summarize(values: readonly number[]): Summary {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

// ---------------------------------------------------------------------------
// Setup: tools and packages.
// ---------------------------------------------------------------------------

function log(message: string): void {
  console.error(`bench: ${message}`);
}

let aptUpdated = false;

/** Installs a Debian package with apt-get (running `apt-get update` once first). */
async function aptInstall(pkg: string, why: string): Promise<void> {
  log(`installing ${pkg} with apt-get (${why})`);
  if (!aptUpdated) {
    await $`apt-get update -qq`.env({ DEBIAN_FRONTEND: "noninteractive" }).timeout("5m")
      .stdout("null");
    aptUpdated = true;
  }
  await $`apt-get install -y -qq ${pkg}`.env({ DEBIAN_FRONTEND: "noninteractive" }).timeout("10m")
    .stdout("null");
}

async function ensureGnuTime(): Promise<void> {
  if (await exists(GNU_TIME)) return;
  await aptInstall("time", `${GNU_TIME} measures peak RSS`);
}

const GDB_CORE_ARGS = (core: string) => [
  "gdb",
  "-batch",
  "-ex",
  "thread apply all py-bt",
  PYTHON,
  core,
];

/**
 * Starts `args` under PYTHON with core dumps enabled in `cwd`, waits for
 * `ready`, kills it with SIGABRT and returns the path of the kernel's core.
 */
async function kernelCore(cwd: string, args: string[], ready: string): Promise<string> {
  const pattern = (await Deno.readTextFile("/proc/sys/kernel/core_pattern")).trim();
  if (pattern !== "core" && pattern !== "core.%p") {
    throw new Error(`kernel cores go elsewhere here (core_pattern '${pattern}')`);
  }
  const child = new Deno.Command("bash", {
    args: ["-c", 'ulimit -c unlimited && exec "$0" "$@"', PYTHON, "-S", ...args],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  live.add(child);
  try {
    const deadline = performance.now() + TIMEOUT.ready;
    while (!(await exists(ready))) {
      if (performance.now() > deadline) throw new Error(`not ready: ${args.join(" ")}`);
      await $.sleep(10);
    }
    await $.sleep(100);
    Deno.kill(child.pid, "SIGABRT");
    await child.status;
  } finally {
    killQuietly(child);
    live.delete(child);
  }
  for (const name of ["core", `core.${child.pid}`]) {
    if (await exists(`${cwd}/${name}`)) return `${cwd}/${name}`;
  }
  throw new Error(`no core was written in ${cwd}`);
}

const GDB_ARGS = (pid: number) => [
  "gdb",
  "-batch",
  "-p",
  String(pid),
  "-ex",
  "thread apply all py-bt",
  PYTHON,
];

/** Why gdb's output is no Python stack dump, or undefined if it is one. */
function gdbProblem(out: Outcome, threads: number): string | undefined {
  const text = out.stdout + out.stderr;
  if (/Undefined command: "py-bt"/.test(text)) return "gdb has no py-bt command";
  const frames = text.match(/in bench_recurse/g)?.length ?? 0;
  if (frames < threads) {
    const hint = text.match(/Unable to locate python frame|No symbol table[^\n]*/)?.[0];
    return `gdb printed ${frames} bench_recurse frames` + (hint ? ` (${hint})` : "");
  }
  return undefined;
}

/** The installed version of a Debian package, or "" if it is not installed. */
async function debVersion(pkg: string): Promise<string> {
  const status = await $`dpkg-query -W -f=${"${Status} ${Version}"} ${pkg}`.noThrow().quiet()
    .text();
  const match = status.match(/install ok installed (\S+)/);
  return match?.[1] ?? "";
}

/** Probes gdb's py-bt on a fresh fixture; returns the problem, if any. */
async function probeGdb(dir: string): Promise<string | undefined> {
  const fixture = new Fixture(1, 3, `${dir}/ready-gdb-probe`);
  try {
    await fixture.waitReady();
    return gdbProblem(await runTimed(GDB_ARGS(fixture.pid), TIMEOUT.gdb), 1);
  } finally {
    await fixture.stop();
  }
}

/**
 * Makes gdb's py-bt work, installing python3.11-dbg if needed; returns why it
 * can't. Runs before the benchmark fixtures start: apt may upgrade python3.11
 * itself to match python3.11-dbg, and gdb cannot read a process whose
 * executable was replaced since it started.
 */
async function prepareGdb(dir: string): Promise<string | undefined> {
  if (!(await $.which("gdb"))) return "gdb is not installed";
  let problem = await probeGdb(dir);
  if (problem === undefined) return undefined;
  if (await debVersion("python3.11-dbg")) {
    return `${problem}, although python3.11-dbg is installed`;
  }
  const before = await debVersion("python3.11");
  try {
    await aptInstall("python3.11-dbg", `gdb's py-bt needs it: ${problem}`);
  } catch (error) {
    return `${problem}; installing python3.11-dbg failed: ${String(error)}`;
  }
  const after = await debVersion("python3.11");
  if (after !== before) log(`note: apt-get also upgraded python3.11 from ${before} to ${after}`);
  problem = await probeGdb(dir);
  return problem === undefined ? undefined : `${problem}, even with python3.11-dbg installed`;
}

// ---------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------

/** One command timed by {@linkcode timeRoundRobin}. */
interface Subject {
  key: string;
  cmd: string[];
  timeoutMs: number;
  /** Where the figure comes from, for the table's notes. */
  source: string;
  /** Why an output is not the expected one (the run is then an error). */
  check(out: Outcome): string | undefined;
}

/** Wall-time and RSS figures of one subject. */
interface Timing {
  key: string;
  command: string;
  source: string;
  wallMs: Summary;
  rssKiB: number;
}

/** Checks a pystack output: exit 0 and one traceback per fixture thread (plus main and ticker). */
function pystackCheck(threads: number) {
  return (out: Outcome): string | undefined => {
    if (out.code !== 0) return `exit code ${out.code}: ${out.stderr.trim().slice(0, 500)}`;
    const tracebacks = out.stdout.match(/^Traceback for thread/gm)?.length ?? 0;
    if (tracebacks !== threads + 2) {
      return `${tracebacks} thread tracebacks, expected ${threads + 2}`;
    }
    return undefined;
  };
}

function ensureOk(subject: Subject, out: Outcome): void {
  const problem = subject.check(out);
  if (problem !== undefined) throw new Error(`${subject.key} failed: ${problem}`);
}

/**
 * Runs every subject WARMUPS + runs times in turn (round-robin) and times the
 * runs; then RSS_RUNS more runs each under GNU time for peak RSS.
 */
async function timeRoundRobin(subjects: readonly Subject[], runs: number, dir: string) {
  const walls = new Map(subjects.map((s) => [s.key, [] as number[]]));
  for (let round = 0; round < WARMUPS + runs; round++) {
    for (const subject of subjects) {
      const out = await runTimed(subject.cmd, subject.timeoutMs);
      ensureOk(subject, out);
      if (round >= WARMUPS) walls.get(subject.key)!.push(out.wallMs);
    }
  }
  const timings: Timing[] = [];
  for (const subject of subjects) {
    const rss: number[] = [];
    for (let i = 0; i < RSS_RUNS; i++) {
      rss.push(await peakRssKiB(subject.cmd, subject.timeoutMs, dir));
    }
    timings.push({
      key: subject.key,
      command: subject.cmd.map((a) => a.replace(ROOT, "")).join(" "),
      source: subject.source,
      wallMs: summarize(walls.get(subject.key)!),
      rssKiB: median(rss),
    });
  }
  return timings;
}

/** Target-stopped figures, in ms. */
interface Stopped {
  /**
   * Per run: gap during a blocking pystack run − the median gap over idle
   * windows as long as the runs (the median, because one scheduler hiccup in
   * an idle window would otherwise make a run look negative).
   */
  stopped: Summary;
  /** The idle-window gaps themselves (one per run, measured right after it). */
  baselineGap: Summary;
  /** Per run: gap during a `--no-block` run − the median idle gap: CPU contention alone. */
  noBlockExcess: Summary;
  /** What pystack -v says: "target paused for X ms". */
  selfReported: Summary;
  /** Wall time of the blocking runs. */
  wall: Summary;
}

/** Measures {@linkcode Stopped} on `fixture` with the pystack command `pystack`. */
async function measureStopped(
  fixture: Fixture,
  pystack: string[],
  runs: number,
): Promise<Stopped> {
  const check = pystackCheck(fixture.threads);
  const gaps: number[] = [];
  const baseline: number[] = [];
  const noBlock: number[] = [];
  const selfReported: number[] = [];
  const walls: number[] = [];
  const block = [...pystack, "remote", "-v", String(fixture.pid)];
  const nonBlocking = [...pystack, "remote", "--no-block", String(fixture.pid)];
  for (let round = 0; round < WARMUPS + runs; round++) {
    await fixture.takeGap(); // reset
    const out = await runTimed(block, TIMEOUT.pystack);
    const gap = await fixture.takeGap();
    const problem = check(out);
    if (problem !== undefined) throw new Error(`pystack remote -v failed: ${problem}`);
    await $.sleep(out.wallMs);
    const idle = await fixture.takeGap();

    const nb = await runTimed(nonBlocking, TIMEOUT.pystack);
    const nbGap = await fixture.takeGap();
    const nbProblem = check(nb);
    if (nbProblem !== undefined) throw new Error(`pystack remote --no-block failed: ${nbProblem}`);
    if (round < WARMUPS) continue;

    gaps.push(gap);
    walls.push(out.wallMs);
    baseline.push(idle);
    noBlock.push(nbGap);
    const paused = out.stderr.match(/target paused for ([\d.]+) ms/)?.[1];
    if (paused !== undefined) selfReported.push(Number(paused));
  }
  return {
    stopped: summarize(gaps.map((g) => g - median(baseline))),
    baselineGap: summarize(baseline),
    noBlockExcess: summarize(noBlock.map((g) => g - median(baseline))),
    selfReported: summarize(selfReported.length > 0 ? selfReported : [NaN]),
    wall: summarize(walls),
  };
}

// ---------------------------------------------------------------------------
// Report.
// ---------------------------------------------------------------------------

interface Goal {
  name: string;
  value: number;
  target: string;
  pass: boolean;
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()
  )
    .join("\n");
}

function ms(value: number): string {
  return Number.isNaN(value) ? "n/a" : value.toFixed(1);
}

// ---------------------------------------------------------------------------
// Main.
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean" },
      runs: { type: "string" },
      help: { type: "boolean" },
      "no-core": { type: "boolean" },
      "table-only": { type: "boolean" },
      only: { type: "string" },
      "baseline-bundle": { type: "string" },
      baseline: { type: "string" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: deno task bench [--json] [--runs N] [--no-core] [--table-only] [--baseline DIR] " +
        "[--only stopped] [--baseline-bundle PYSTACK_JS]",
    );
    return 0;
  }
  const runs = values.runs === undefined ? 15 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`Invalid --runs '${values.runs}'`);
  if (runs < 15) log(`only ${runs} runs per command (15 or more are recommended)`);
  if (values.only !== undefined && values.only !== "stopped") {
    throw new RangeError(`Invalid --only '${values.only}' (only 'stopped' is known)`);
  }
  const out = values.json ? (s: string) => console.error(s) : (s: string) => console.log(s);

  if (!(await exists(PYTHON))) throw new Error(`Cannot run the fixture: ${PYTHON} is missing`);
  await ensureGnuTime();

  const dir = tmpDir = await Deno.makeTempDir({ prefix: "pystack-bench-" });
  const fixtures: Fixture[] = [];
  try {
    const empty = `${dir}/empty.ts`;
    await Deno.writeTextFile(empty, "");

    const gdbMissing = await prepareGdb(dir);
    if (gdbMissing) log(`gdb baseline unavailable: ${gdbMissing}`);

    // Issue 15's side-by-side table (scripts/bench_table.ts): its own fixture and rounds.
    const sideBySide = values.only === "stopped" ? [] : await sideBySideTable({
      runs,
      ...(values.baseline === undefined ? {} : { baseline: values.baseline }),
      log,
    });
    if (values["table-only"]) {
      out(sideBySide.join("\n"));
      return 0;
    }

    const small = new Fixture(SMALL.threads, SMALL.depth, `${dir}/ready-small`);
    fixtures.push(small);
    const large = new Fixture(LARGE.threads, LARGE.depth, `${dir}/ready-large`);
    fixtures.push(large);
    await small.waitReady();
    await large.waitReady();
    const loadBefore = await loadAverage();
    log(
      `fixtures ready: pid ${small.pid} (${SMALL.threads} threads), pid ${large.pid} (${LARGE.threads} threads)`,
    );

    // pystack builds: the source always, dist/ when it was built.
    const builds: { key: string; cmd: string[]; source: string }[] = [
      {
        key: "pystack",
        cmd: [DENO, "run", "-A", "src/main.ts"],
        source: "deno run -A src/main.ts",
      },
    ];
    if (await exists(`${ROOT}dist/pystack.js`)) {
      builds.push({
        key: "pystack-bundle",
        cmd: [DENO, "run", "-A", "dist/pystack.js"],
        source: "deno run -A dist/pystack.js",
      });
    }
    const baselineBundle = values["baseline-bundle"];
    if (baselineBundle !== undefined) {
      builds.push({
        key: "baseline",
        cmd: [DENO, "run", "-A", baselineBundle],
        source: `deno run -A ${baselineBundle}`,
      });
    }
    if (values.only === "stopped") {
      out(await onlyStopped(builds, small, large, runs));
      return 0;
    }
    if (await exists(`${ROOT}dist/pystack`)) {
      builds.push({
        key: "pystack-compiled",
        cmd: [`${ROOT}dist/pystack`],
        source: "dist/pystack",
      });
    }

    const subjects: Subject[] = [];
    for (const build of builds) {
      subjects.push({
        key: build.key,
        cmd: [...build.cmd, "remote", String(small.pid)],
        timeoutMs: TIMEOUT.pystack,
        source: `${build.source} remote PID (${SMALL.threads}+2 threads)`,
        check: pystackCheck(SMALL.threads),
      });
    }
    subjects.push({
      key: "pystack-no-block",
      cmd: [...builds[0]!.cmd, "remote", "--no-block", String(small.pid)],
      timeoutMs: TIMEOUT.pystack,
      source: "deno run -A src/main.ts remote --no-block PID",
      check: pystackCheck(SMALL.threads),
    });
    subjects.push({
      key: "pystack-200",
      cmd: [...builds[0]!.cmd, "remote", String(large.pid)],
      timeoutMs: TIMEOUT.pystack,
      source: `deno run -A src/main.ts remote PID (${LARGE.threads}+2 threads)`,
      check: pystackCheck(LARGE.threads),
    });
    if (!gdbMissing) {
      subjects.push({
        key: "gdb",
        cmd: GDB_ARGS(small.pid),
        timeoutMs: TIMEOUT.gdb,
        source: "gdb -batch -p PID -ex 'thread apply all py-bt' /usr/bin/python3.11",
        check: (o) => gdbProblem(o, SMALL.threads),
      });
    }
    subjects.push({
      key: "deno-empty",
      cmd: [DENO, "run", "-A", empty],
      timeoutMs: TIMEOUT.pystack,
      source: "deno run -A <empty file> (Deno start-up floor)",
      check: (o) => (o.code === 0 ? undefined : `exit code ${o.code}`),
    });

    log(`timing ${subjects.length} commands: ${WARMUPS} warm-ups + ${runs} runs each, round-robin`);
    const timings = await timeRoundRobin(subjects, runs, dir);
    const byKey = new Map(timings.map((t) => [t.key, t]));

    log(`measuring target-stopped time: ${WARMUPS} warm-ups + ${runs} runs`);
    const stopped = await measureStopped(small, builds[0]!.cmd, runs);
    log(`measuring target-stopped time with ${LARGE.threads} threads (for information)`);
    const stoppedLarge = await measureStopped(large, builds[0]!.cmd, runs);

    // ---- Cores ----
    let coreTimings: Timing[] = [];
    let bigCore: { rssKiB: number; wallMs: number; sizeMiB: number } | undefined;
    let coreProblem: string | undefined;
    if (!values["no-core"]) {
      try {
        log("making a gcore and a kernel core of the 4-thread fixture");
        await $`gcore -o ${dir}/gcore ${small.pid}`.quiet().timeout("2m");
        const gcorePath = `${dir}/gcore.${small.pid}`;
        const kdir = await Deno.makeTempDir({ dir, prefix: "kernel-" });
        const kernelPath = await kernelCore(kdir, [
          FIXTURE,
          `${kdir}/ready`,
          String(SMALL.threads),
          String(SMALL.depth),
        ], `${kdir}/ready`);
        const coreSubjects: Subject[] = [];
        for (const [kind, path] of [["gcore", gcorePath], ["kernel", kernelPath]] as const) {
          coreSubjects.push({
            key: `pystack-core-${kind}`,
            cmd: [...builds[0]!.cmd, "core", path],
            timeoutMs: TIMEOUT.pystack,
            source: `deno run -A src/main.ts core CORE (${kind} core)`,
            check: pystackCheck(SMALL.threads),
          });
          if (!gdbMissing) {
            coreSubjects.push({
              key: `gdb-core-${kind}`,
              cmd: GDB_CORE_ARGS(path),
              timeoutMs: TIMEOUT.gdb,
              source: `gdb -batch -ex 'thread apply all py-bt' ${PYTHON} CORE (${kind} core)`,
              check: (o) => gdbProblem(o, SMALL.threads),
            });
          }
        }
        log(`timing ${coreSubjects.length} core commands`);
        coreTimings = await timeRoundRobin(coreSubjects, runs, dir);
        await Deno.remove(gcorePath);
        await Deno.remove(kernelPath);

        log("making the kernel core of a process holding 1 GiB of heap");
        const bdir = await Deno.makeTempDir({ dir, prefix: "big-" });
        await Deno.writeTextFile(`${bdir}/big.py`, BIG_HEAP_PROGRAM);
        const bigPath = await kernelCore(
          bdir,
          [`${bdir}/big.py`, `${bdir}/ready`],
          `${bdir}/ready`,
        );
        const bigCmd = [...builds[0]!.cmd, "core", bigPath];
        const bigRun = await runTimed(bigCmd, TIMEOUT.pystack);
        if (bigRun.code !== 0) throw new Error(`pystack core on the 1 GiB core: ${bigRun.stderr}`);
        bigCore = {
          rssKiB: await peakRssKiB(bigCmd, TIMEOUT.pystack, dir),
          wallMs: bigRun.wallMs,
          sizeMiB: (await Deno.stat(bigPath)).size / 1048576,
        };
        await Deno.remove(bigPath);
      } catch (error) {
        coreProblem = String(error);
        log(`core benchmarks unavailable: ${coreProblem}`);
      }
    }
    timings.push(...coreTimings);
    for (const t of coreTimings) byKey.set(t.key, t);

    // ---- Report ----
    const gdb = byKey.get("gdb");
    const rows = [["command", "median ms", "min ms", "max ms", "peak RSS MiB", "runs"]];
    for (const t of timings) {
      rows.push([
        t.key,
        ms(t.wallMs.median),
        ms(t.wallMs.min),
        ms(t.wallMs.max),
        (t.rssKiB / 1024).toFixed(1),
        String(t.wallMs.n),
      ]);
    }
    if (!gdb) rows.push(["gdb", "unavailable", "", "", "", ""]);

    const goals: Goal[] = [];
    const ratios: Record<string, number> = {};
    for (const build of builds) {
      const t = byKey.get(build.key)!;
      if (gdb) {
        const ratio = gdb.wallMs.median / t.wallMs.median;
        ratios[`gdb/${build.key}`] = round(ratio);
        goals.push({
          name: `${build.key} vs gdb (median wall, ratio)`,
          value: round(ratio),
          target: `>= ${GOALS.gdbRatio}x`,
          pass: ratio >= GOALS.gdbRatio,
        });
      }
      goals.push({
        name: `${build.key} whole process (median wall ms)`,
        value: round(t.wallMs.median),
        target: `< ${GOALS.pystackMs} ms`,
        pass: t.wallMs.median < GOALS.pystackMs,
      });
    }
    goals.push({
      name: "target stopped (median ms)",
      value: round(stopped.stopped.median, 2),
      target: `< ${GOALS.stoppedMs} ms`,
      pass: stopped.stopped.median < GOALS.stoppedMs,
    });
    goals.push({
      name: "target stopped (max ms)",
      value: round(stopped.stopped.max, 2),
      target: `< ${GOALS.stoppedMs} ms`,
      pass: stopped.stopped.max < GOALS.stoppedMs,
    });
    const large200 = byKey.get("pystack-200")!;
    goals.push({
      name: `${LARGE.threads} threads (median wall ms)`,
      value: round(large200.wallMs.median),
      target: `< ${GOALS.large200Ms} ms`,
      pass: large200.wallMs.median < GOALS.large200Ms,
    });

    for (const kind of ["gcore", "kernel"]) {
      const mine = byKey.get(`pystack-core-${kind}`);
      const theirs = byKey.get(`gdb-core-${kind}`);
      if (mine === undefined) continue;
      if (theirs !== undefined) {
        const ratio = theirs.wallMs.median / mine.wallMs.median;
        ratios[`gdb-core-${kind}/pystack-core-${kind}`] = round(ratio);
        goals.push({
          name: `pystack core (${kind} core) vs gdb (median wall, ratio)`,
          value: round(ratio),
          target: `>= ${GOALS.coreGdbRatio}x`,
          pass: ratio >= GOALS.coreGdbRatio,
        });
      }
      goals.push({
        name: `pystack core (${kind} core) whole process (median wall ms)`,
        value: round(mine.wallMs.median),
        target: `< ${GOALS.coreMs} ms`,
        pass: mine.wallMs.median < GOALS.coreMs,
      });
    }
    if (bigCore !== undefined) {
      goals.push({
        name: `pystack core on a ${
          Math.round(bigCore.sizeMiB)
        } MiB core (1 GiB heap), peak RSS MiB`,
        value: round(bigCore.rssKiB / 1024),
        target: `< ${GOALS.bigCoreRssMiB} MiB`,
        pass: bigCore.rssKiB / 1024 < GOALS.bigCoreRssMiB,
      });
    }

    const stoppedRows = [
      ["target stopped (ms)", "median", "min", "max", "runs"],
      row(`stopped, ${SMALL.threads} threads = gap(pystack) - median gap(idle)`, stopped.stopped),
      row("  gap over idle window (baseline)", stopped.baselineGap),
      row("  pystack -v 'target paused for'", stopped.selfReported),
      row("  --no-block gap - median idle gap", stopped.noBlockExcess),
      row(`stopped, ${LARGE.threads} threads`, stoppedLarge.stopped),
      row("  gap over idle window (baseline)", stoppedLarge.baselineGap),
      row("  pystack -v 'target paused for'", stoppedLarge.selfReported),
      row("  --no-block gap - median idle gap", stoppedLarge.noBlockExcess),
    ];

    const loadAfter = await loadAverage();
    const python = (await $`${PYTHON} -c ${"import sys; print(sys.version.split()[0])"}`.text())
      .trim();
    out("");
    out(
      `pystack benchmark: ${PYTHON} (${python}), fixture bench_threads.py ` +
        `${SMALL.threads} threads x ${SMALL.depth} frames (+ main, ticker); ` +
        `${runs} runs after ${WARMUPS} warm-ups`,
    );
    out(
      `machine: ${navigator.hardwareConcurrency} CPUs, 1-minute load average ${loadBefore} before, ` +
        `${loadAfter} after (other processes skew every figure)`,
    );
    out("");
    out(table(rows));
    out("");
    out(table(stoppedRows));
    out("");
    out(
      table([
        ["goal", "value", "target", ""],
        ...goals.map((g) => [g.name, String(g.value), g.target, g.pass ? "PASS" : "MISS"]),
      ]),
    );
    out("");
    out("Where the figures come from:");
    for (const t of timings) out(`  ${t.key}: ${t.source}`);
    if (!gdb) out(`  gdb: unavailable: ${gdbMissing}`);
    if (coreProblem !== undefined) out(`  cores: unavailable: ${coreProblem}`);
    if (bigCore !== undefined) {
      out(
        `  big core: kernel core of python holding bytearray(1 << 30), ${
          Math.round(bigCore.sizeMiB)
        } MiB; one run took ${Math.round(bigCore.wallMs)} ms`,
      );
    }
    out("");
    out(sideBySide.join("\n"));
    out("");
    out(
      "  wall: performance.now() around Deno.Command spawn..exit in this script (includes ~1 ms spawn cost);\n" +
        `  peak RSS: median of ${RSS_RUNS} separate runs under '${GNU_TIME} -f %M' (max resident set, KiB);\n` +
        "  stopped: fixture ticker (1 ms sleep loop) longest wake-up gap, read via SIGUSR1, during one\n" +
        "    'pystack remote -v' run, minus the median gap over idle windows as long as the runs (one after each);\n" +
        "    '--no-block gap - median idle gap' is the same for a run that never stops the target (CPU contention only).",
    );

    if (values.json) {
      console.log(JSON.stringify({
        python: { path: PYTHON, version: python },
        fixture: { small: SMALL, large: LARGE },
        runs,
        warmups: WARMUPS,
        machine: {
          cpus: navigator.hardwareConcurrency,
          load_before: loadBefore,
          load_after: loadAfter,
        },
        wall_ms: Object.fromEntries(timings.map((t) => [t.key, roundSummary(t.wallMs)])),
        peak_rss_kib: Object.fromEntries(timings.map((t) => [t.key, t.rssKiB])),
        gdb: gdb ? { available: true } : { available: false, reason: gdbMissing },
        ratios,
        stopped_ms: stoppedJson(stopped),
        stopped_ms_200_threads: stoppedJson(stoppedLarge),
        big_core: bigCore ?? null,
        cores: coreProblem === undefined
          ? { available: true }
          : { available: false, reason: coreProblem },
        goals,
      }));
    }
    return 0;
  } finally {
    await Promise.all(fixtures.map((f) => f.stop()));
    for (const child of live) killQuietly(child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** `--only stopped`: target-stopped and wall time of each build, both fixtures, round-robin. */
async function onlyStopped(
  builds: readonly { key: string; cmd: string[]; source: string }[],
  small: Fixture,
  large: Fixture,
  runs: number,
): Promise<string> {
  const loadBefore = await loadAverage();
  const figures = new Map<string, Stopped>();
  // One run of each build in turn, so that drift in the machine's load hits them alike.
  for (let run = 0; run < runs; run++) {
    for (const build of builds) {
      for (const fixture of [small, large]) {
        log(`run ${run + 1}/${runs}: ${build.key}, ${fixture.threads} threads`);
        const one = await measureStopped(fixture, build.cmd, 1);
        const key = `${build.key} ${fixture.threads}`;
        const all = figures.get(key);
        figures.set(key, all === undefined ? one : mergeStopped(all, one));
      }
    }
  }
  const rows = [["build, threads", "stopped med", "min", "max", "self-reported med", "wall med"]];
  for (const [key, f] of figures) {
    rows.push([
      key,
      ms(f.stopped.median),
      ms(f.stopped.min),
      ms(f.stopped.max),
      ms(f.selfReported.median),
      ms(f.wall.median),
    ]);
  }
  return [
    `target stopped (ms; gap(pystack) - median idle gap, per run) and wall (ms), ${runs} runs, ` +
    `load ${loadBefore} before, ${await loadAverage()} after`,
    table(rows),
    ...builds.map((b) => `  ${b.key}: ${b.source}`),
  ].join("\n");
}

/** Two samples of {@linkcode Stopped} as one (their runs pooled; medians of the pooled runs). */
function mergeStopped(a: Stopped, b: Stopped): Stopped {
  const pooled = (x: Summary & { runs?: number[] }, y: Summary & { runs?: number[] }) => {
    const values = [...(x.runs ?? [x.median]), ...(y.runs ?? [y.median])];
    return Object.assign(summarize(values), { runs: values });
  };
  return {
    stopped: pooled(a.stopped, b.stopped),
    baselineGap: pooled(a.baselineGap, b.baselineGap),
    noBlockExcess: pooled(a.noBlockExcess, b.noBlockExcess),
    selfReported: pooled(a.selfReported, b.selfReported),
    wall: pooled(a.wall, b.wall),
  };
}

/** The 1-minute load average. */
async function loadAverage(): Promise<number> {
  return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
}

function row(label: string, s: Summary): string[] {
  return [label, ms(s.median), ms(s.min), ms(s.max), String(s.n)];
}

function stoppedJson(s: Stopped) {
  return {
    stopped: roundSummary(s.stopped),
    baseline_gap: roundSummary(s.baselineGap),
    self_reported: roundSummary(s.selfReported),
    no_block_excess: roundSummary(s.noBlockExcess),
  };
}

function roundSummary(s: Summary): Summary {
  return { median: round(s.median, 2), min: round(s.min, 2), max: round(s.max, 2), n: s.n };
}

if (import.meta.main) {
  // Ctrl-C and SIGTERM would skip the finally blocks: kill what we started first.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      for (const child of live) killQuietly(child);
      if (tmpDir) Deno.removeSync(tmpDir, { recursive: true });
      Deno.exit(130);
    });
  }
  let code: number;
  try {
    code = await main();
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    code = 2;
  }
  Deno.exit(code);
}
