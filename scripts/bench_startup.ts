#!/usr/bin/env -S deno run -A
/**
 * Start-up and Python-only runs of pystack against `deno run` of an empty
 * file measured in the same run (the floor no Deno program can beat):
 * `--version`, `--help`, `remote PID` and `core CORE` on the 4-thread,
 * 30-frame fixture (`fixtures/bench_threads.py` under Debian's
 * `/usr/bin/python3.11`, and a gcore of it), from the bundle
 * (`dist/pystack.js`, built when missing), the source (`src/main.ts`) and,
 * when built, the executable (`dist/pystack`). `--baseline FILE` adds the
 * rows of another bundle (an older build, to compare before and after).
 * Commands run round-robin so that drift in the machine's load hits them
 * all alike; wall time from spawn to exit, medians.
 *
 * Goals (issue 15), for the bundle: `--version` and `--help` within 5 ms of
 * the floor, `remote` and `core` within 20 ms. Exits 1 when one is missed.
 *
 * Usage: `deno task bench:startup [--runs N] [--baseline FILE] [--json]`
 *
 * @module
 */

import $ from "dax";
import { parseOptions } from "../src/cli/parse_options.ts";
import { BENCH_PYTHON, startBenchFixture } from "./bench_fixture.ts";

const { values } = parseOptions(Deno.args, {
  runs: { type: "string" },
  baseline: { type: "string" },
  json: { type: "boolean" },
});
const RUNS = Number(values.runs ?? "21");
const WARMUP = 3;
const GOALS_MS = { version: 5, help: 5, remote: 20, core: 20 } as const;

const ROOT = $.path(import.meta.dirname!).parent()!;
const bundle = ROOT.join("dist", "pystack.js");
if (!bundle.existsSync()) await $`deno run -A ${ROOT.join("scripts", "bundle.ts")}`;
const tmp = $.path(await Deno.makeTempDir({ prefix: "pystack-bench-" }));
const empty = tmp.join("empty.js");
await empty.writeText("");

/** The fixture, ready, and a gcore of it. */
async function startFixture(): Promise<{ pid: number; core: string; stop: () => void }> {
  const child = await startBenchFixture(tmp.toString());
  const stop = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  try {
    await $`gcore -o ${tmp.join("core")} ${child.pid}`.quiet().timeout("2m");
  } catch (e) {
    stop();
    throw e;
  }
  return { pid: child.pid, core: tmp.join(`core.${child.pid}`).toString(), stop };
}

const fixture = await startFixture();

interface Command {
  name: string;
  build: string;
  kind: "floor" | keyof typeof GOALS_MS;
  argv: string[];
}

function pystackCommands(build: string, prefix: string[]): Command[] {
  return [
    { name: `${build} --version`, build, kind: "version", argv: [...prefix, "--version"] },
    { name: `${build} --help`, build, kind: "help", argv: [...prefix, "--help"] },
    {
      name: `${build} remote`,
      build,
      kind: "remote",
      argv: [...prefix, "remote", String(fixture.pid)],
    },
    { name: `${build} core`, build, kind: "core", argv: [...prefix, "core", fixture.core] },
  ];
}

const commands: Command[] = [
  {
    name: "deno run (empty file)",
    build: "floor",
    kind: "floor",
    argv: ["deno", "run", "-A", `${empty}`],
  },
  ...pystackCommands("bundle", ["deno", "run", "-A", bundle.toString()]),
  ...pystackCommands("source", ["deno", "run", "-A", ROOT.join("src", "main.ts").toString()]),
];
if (values.baseline !== undefined) {
  commands.push(...pystackCommands("baseline", ["deno", "run", "-A", values.baseline]));
}
const exe = ROOT.join("dist", "pystack");
if (exe.existsSync()) commands.push(...pystackCommands("executable", [exe.toString()]));

async function timeOnce(argv: string[]): Promise<number> {
  const start = performance.now();
  // Run from outside the tree, as a user would: no deno.json to discover.
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: tmp.toString(),
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  if (!out.success) {
    throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

const times = new Map(commands.map((c) => [c.name, [] as number[]]));
try {
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const c of commands) {
      const ms = await timeOnce(c.argv);
      if (i >= WARMUP) times.get(c.name)!.push(ms);
    }
  }
} finally {
  fixture.stop();
  await tmp.remove({ recursive: true });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const rows = commands.map((c) => {
  const sorted = times.get(c.name)!.sort((a, b) => a - b);
  return { ...c, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
});
const floor = rows[0]!.median;
const verdicts = rows.filter((r) => r.build === "bundle" && r.kind !== "floor").map((r) => {
  const over = r.median - floor;
  const goal = GOALS_MS[r.kind as keyof typeof GOALS_MS];
  return { name: r.name, over, goal, met: over <= goal };
});
const lines = [
  `${RUNS} runs each (after ${WARMUP} warm-ups), round-robin, wall time from spawn to exit;`,
  `remote and core: ${BENCH_PYTHON}, 4 threads x 30 frames (and a gcore of it)`,
  ...rows.map((r) =>
    `  ${r.name.padEnd(24)} median ${r.median.toFixed(1).padStart(6)} ms  ` +
    `p90 ${r.p90.toFixed(1).padStart(6)} ms  (+${(r.median - floor).toFixed(1)} ms over the floor)`
  ),
  ...verdicts.map((v) =>
    `${v.met ? "ok" : "MISSED"}: ${v.name} is ${v.over.toFixed(1)} ms over the floor ` +
    `(goal: at most ${v.goal} ms)`
  ),
];
if (values.json) {
  console.error(lines.join("\n"));
  console.log(JSON.stringify({
    runs: RUNS,
    floorMs: floor,
    rows: rows.map(({ name, median, p90 }) => ({ name, median, p90 })),
    verdicts,
  }));
} else {
  console.log(lines.join("\n"));
}
if (verdicts.some((v) => !v.met)) Deno.exit(1);
