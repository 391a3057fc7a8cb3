/**
 * Benchmarks native stacks: `pystack remote --native` and `pystack core
 * --native` against eu-stack (native frames only: the floor) and gdb (`thread
 * apply all bt` plus `thread apply all py-bt`), measured in the same run.
 *
 * Usage: `deno run -A scripts/bench_native.ts [--json] [--runs N] [--baseline DIR]`
 *
 * - `--runs N`: timed runs per command (default 11, after 2 warm-ups).
 * - `--json`: the table goes to stderr and one JSON line of the figures to stdout.
 * - `--baseline DIR`: also time the pystack of another checkout (e.g. `git archive HEAD | tar
 *   -x -C DIR`), in the same rounds: before/after figures of one run.
 *
 * The target is `fixtures/bench_threads.py` under Debian's `/usr/bin/python3.11`
 * (4 threads 30 frames deep, a ticker thread and the main thread, 30 deep too);
 * its core is made once with gcore. Commands run round-robin, so drift in the
 * machine's load hits them all alike. Wall time is spawn to exit, measured
 * here; peak RSS comes from GNU time's `%M`, in separate runs. For pystack
 * `-v` also reports how long the target was paused and how long the unwinding
 * took (the median of those is shown).
 *
 * Goals (issue 4): under 250 ms for the whole pystack process, and at least
 * 10 times faster than gdb; the ratio to eu-stack is reported.
 *
 * Needs gdb (with python3.11-dbg for py-bt), eu-stack (elfutils) and GNU time
 * (`time`); a missing tool's rows are left out and the reason is printed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BENCH_PYTHON, BENCH_SHAPE, startBenchFixture } from "./bench_fixture.ts";
import { pathExists } from "../src/fs_checks.ts";
import { children, kill, median, type Outcome, runTimed, which } from "./bench_runs.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const PYTHON = BENCH_PYTHON;
const GNU_TIME = "/usr/bin/time";
const SHAPE = BENCH_SHAPE;
const WARMUPS = 2;
const RSS_RUNS = 3;
const TIMEOUT_MS = 60_000;
const GOALS = { wallMs: 250, gdbRatio: 10 } as const;

/** One command to time. */
interface Subject {
  key: string;
  label: string;
  cmd: string[];
  /** Why the output is not the expected one, if it is not. */
  check(out: Outcome): string | undefined;
}

interface Timing {
  key: string;
  label: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  rssMiB: number | undefined;
  /** pystack `-v`: median target-paused and unwinding times. */
  pausedMs?: number;
  unwindMs?: number;
}

const expectFrames = (pattern: RegExp, count: number, what: string) => (out: Outcome) => {
  if (out.code !== 0 && !/eu-stack/.test(what)) {
    return `exit code ${out.code}: ${out.stderr.trim()}`;
  }
  const found = (out.stdout + out.stderr).match(pattern)?.length ?? 0;
  return found >= count ? undefined : `${what}: ${found} matches of ${pattern}, expected ${count}`;
};

/** Every thread's 30 bench_recurse frames: 4 workers (the main thread has main_recurse). */
const PY_FRAMES = SHAPE.threads * SHAPE.depth;

async function timeSubjects(subjects: Subject[], runs: number): Promise<Timing[]> {
  const walls = new Map<string, number[]>(subjects.map((s) => [s.key, []]));
  const paused = new Map<string, number[]>(subjects.map((s) => [s.key, []]));
  const unwind = new Map<string, number[]>(subjects.map((s) => [s.key, []]));
  for (let round = 0; round < WARMUPS + runs; round++) {
    for (const subject of subjects) {
      const out = await runTimed(subject.cmd, { cwd: ROOT, timeoutMs: TIMEOUT_MS });
      const problem = subject.check(out);
      if (problem !== undefined) throw new Error(`${subject.label}: ${problem}`);
      if (round < WARMUPS) continue;
      walls.get(subject.key)!.push(out.wallMs);
      const p = /target paused for ([\d.]+) ms/.exec(out.stderr);
      if (p) paused.get(subject.key)!.push(Number(p[1]));
      const u = /native stacks unwound in ([\d.]+) ms/.exec(out.stderr);
      if (u) unwind.get(subject.key)!.push(Number(u[1]));
    }
  }
  const timings: Timing[] = [];
  for (const subject of subjects) {
    const w = walls.get(subject.key)!;
    const timing: Timing = {
      key: subject.key,
      label: subject.label,
      medianMs: median(w),
      minMs: Math.min(...w),
      maxMs: Math.max(...w),
      rssMiB: await peakRssMiB(subject.cmd),
    };
    const p = paused.get(subject.key)!;
    const u = unwind.get(subject.key)!;
    if (p.length > 0) timing.pausedMs = median(p);
    if (u.length > 0) timing.unwindMs = median(u);
    timings.push(timing);
  }
  return timings;
}

async function peakRssMiB(cmd: readonly string[]): Promise<number | undefined> {
  if (which("time") === undefined && !pathExists(GNU_TIME)) return undefined;
  const file = await Deno.makeTempFile({ prefix: "pystack-bench-rss-" });
  try {
    const values: number[] = [];
    for (let i = 0; i < RSS_RUNS; i++) {
      await runTimed([GNU_TIME, "-f", "%M", "-o", file, ...cmd], {
        cwd: ROOT,
        timeoutMs: TIMEOUT_MS,
      });
      const last = Deno.readTextFileSync(file).trim().split("\n").at(-1) ?? "";
      const kib = Number(last);
      if (Number.isFinite(kib)) values.push(kib / 1024);
    }
    return values.length > 0 ? median(values) : undefined;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

function gdbCommands(): string[] {
  return ["-ex", "thread apply all bt", "-ex", "thread apply all py-bt"];
}

const PYSTACK = [Deno.execPath(), "run", "--allow-all", `${ROOT}src/main.ts`];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean" }, runs: { type: "string" }, baseline: { type: "string" } },
  });
  const runs = Number(values.runs ?? 11);
  const log = (line: string) => console.error(line);
  const missing: string[] = [];
  const haveEuStack = which("eu-stack") !== undefined;
  const haveGdb = which("gdb") !== undefined && which("gcore") !== undefined;
  if (!haveEuStack) missing.push("eu-stack (apt-get install elfutils)");
  if (!haveGdb) missing.push("gdb/gcore (apt-get install gdb python3.11-dbg)");
  if (!pathExists(GNU_TIME)) missing.push("GNU time (apt-get install time): no peak RSS");

  const dir = await Deno.makeTempDir({ prefix: "pystack-bench-native-" });
  try {
    const fixture = await startBenchFixture(dir);
    const pid = String(fixture.pid);
    const pystackCheck = (out: Outcome) =>
      expectFrames(/in bench_recurse/g, PY_FRAMES, "pystack Python frames")(out) ??
        expectFrames(/\(C\) File/g, 20, "pystack native frames")(out) ??
        (/Unable to merge/.test(out.stdout) ? "a stack could not be merged" : undefined);
    const live: Subject[] = [
      {
        key: "pystack_remote_native",
        label: "pystack remote --native",
        cmd: [...PYSTACK, "remote", pid, "--native", "-v"],
        check: pystackCheck,
      },
    ];
    const baseline = values.baseline === undefined ? undefined : [
      Deno.execPath(),
      "run",
      "--allow-all",
      `${values.baseline.replace(/\/$/, "")}/src/main.ts`,
    ];
    if (baseline !== undefined) {
      live.push({
        key: "baseline_remote_native",
        label: "baseline: pystack remote --native",
        cmd: [...baseline, "remote", pid, "--native", "-v"],
        check: pystackCheck,
      });
    }
    if (haveEuStack) {
      live.push({
        key: "eu_stack_live",
        label: "eu-stack -s -i -p PID",
        cmd: ["eu-stack", "-s", "-i", "-p", pid],
        check: expectFrames(/_PyEval_EvalFrameDefault/g, 6, "eu-stack"),
      });
    }
    if (haveGdb) {
      live.push({
        key: "gdb_live",
        label: "gdb -p PID: thread apply all bt + py-bt",
        cmd: ["gdb", "-batch", "-p", pid, ...gdbCommands(), PYTHON],
        check: expectFrames(/in bench_recurse/g, PY_FRAMES, "gdb py-bt"),
      });
    }
    log(`live: ${live.length} commands x ${runs} runs (pid ${pid})`);
    const liveTimings = await timeSubjects(live, runs);

    const coreTimings: Timing[] = [];
    if (haveGdb) {
      const prefix = `${dir}/core`;
      const made = await runTimed(["gcore", "-o", prefix, pid], {
        cwd: ROOT,
        timeoutMs: TIMEOUT_MS,
      });
      const core = `${prefix}.${pid}`;
      if (made.code !== 0 || !pathExists(core)) throw new Error(`gcore failed: ${made.stderr}`);
      kill(fixture);
      const coreSubjects: Subject[] = [{
        key: "pystack_core_native",
        label: "pystack core --native",
        cmd: [...PYSTACK, "core", core, "--native", "-v"],
        check: pystackCheck,
      }];
      if (baseline !== undefined) {
        coreSubjects.push({
          key: "baseline_core_native",
          label: "baseline: pystack core --native",
          cmd: [...baseline, "core", core, "--native", "-v"],
          check: pystackCheck,
        });
      }
      if (haveEuStack) {
        coreSubjects.push({
          key: "eu_stack_core",
          label: "eu-stack -s -i --core CORE",
          cmd: ["eu-stack", "-s", "-i", "--core", core, "-e", PYTHON],
          check: expectFrames(/_PyEval_EvalFrameDefault/g, 6, "eu-stack"),
        });
      }
      coreSubjects.push({
        key: "gdb_core",
        label: "gdb PYTHON CORE: thread apply all bt + py-bt",
        cmd: ["gdb", "-batch", PYTHON, core, ...gdbCommands()],
        check: expectFrames(/in bench_recurse/g, PY_FRAMES, "gdb py-bt"),
      });
      log(`core: ${coreSubjects.length} commands x ${runs} runs (${core})`);
      coreTimings.push(...await timeSubjects(coreSubjects, runs));
    } else {
      kill(fixture);
    }
    await fixture.status;
    children.delete(fixture);

    const report = (timings: Timing[], pystackKey: string, euKey: string, gdbKey: string) => {
      const p = timings.find((t) => t.key === pystackKey);
      const eu = timings.find((t) => t.key === euKey);
      const gdb = timings.find((t) => t.key === gdbKey);
      return {
        pystackMs: p?.medianMs,
        overEuStack: p && eu ? p.medianMs / eu.medianMs : undefined,
        gdbOverPystack: p && gdb ? gdb.medianMs / p.medianMs : undefined,
      };
    };
    const liveRatios = report(liveTimings, "pystack_remote_native", "eu_stack_live", "gdb_live");
    const coreRatios = report(coreTimings, "pystack_core_native", "eu_stack_core", "gdb_core");
    const rows = [...liveTimings, ...coreTimings].map((t) => [
      t.label,
      t.medianMs.toFixed(1),
      `${t.minMs.toFixed(1)}-${t.maxMs.toFixed(1)}`,
      t.rssMiB === undefined ? "n/a" : t.rssMiB.toFixed(1),
      t.pausedMs === undefined ? "" : t.pausedMs.toFixed(2),
      t.unwindMs === undefined ? "" : t.unwindMs.toFixed(2),
    ]);
    const header = ["command", "median ms", "min-max ms", "peak RSS MiB", "paused ms", "unwind ms"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
    log("");
    log(line(header));
    for (const r of rows) log(line(r));
    log("");
    const verdict = (name: string, ratios: ReturnType<typeof report>) => {
      const parts = [`${name}: pystack ${ratios.pystackMs?.toFixed(1) ?? "?"} ms`];
      if (ratios.pystackMs !== undefined) {
        parts.push(ratios.pystackMs < GOALS.wallMs ? `< ${GOALS.wallMs} ms: ok` : "OVER the goal");
      }
      if (ratios.gdbOverPystack !== undefined) {
        parts.push(
          `gdb/pystack ${ratios.gdbOverPystack.toFixed(1)}x` +
            (ratios.gdbOverPystack >= GOALS.gdbRatio ? " (>= 10x: ok)" : " (UNDER 10x)"),
        );
      }
      if (ratios.overEuStack !== undefined) {
        parts.push(`pystack/eu-stack ${ratios.overEuStack.toFixed(2)}x`);
      }
      return parts.join(", ");
    };
    log(verdict("live", liveRatios));
    if (coreTimings.length > 0) log(verdict("core", coreRatios));
    for (const m of missing) log(`not measured: ${m}`);
    const ok = [liveRatios, ...(coreTimings.length > 0 ? [coreRatios] : [])].every((r) =>
      r.pystackMs !== undefined && r.pystackMs < GOALS.wallMs &&
      (r.gdbOverPystack === undefined || r.gdbOverPystack >= GOALS.gdbRatio)
    );
    if (values.json) {
      console.log(JSON.stringify({
        runs,
        shape: SHAPE,
        timings: [...liveTimings, ...coreTimings],
        live: liveRatios,
        core: coreRatios,
        goals: GOALS,
        ok,
        missing,
      }));
    }
    return ok ? 0 : 1;
  } finally {
    for (const child of children) kill(child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.exit(await main());
