#!/usr/bin/env -S deno run -A
/**
 * Start-up of `pystack --version`: the bundle (`dist/pystack.js`), the source
 * (`src/main.ts`) and, when built, the executable (`dist/pystack`), against
 * `deno run` of an empty file measured in the same run (the floor no Deno
 * program can beat). Commands run round-robin so that drift in the machine's
 * load hits them all alike. Fails (exit 1) when the bundle's median is over
 * the budget.
 *
 * Usage: `deno task bench:startup [--runs N] [--budget MS] [--json]`
 *
 * @module
 */

import $ from "dax";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "30" },
    budget: { type: "string", default: "60" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const BUDGET_MS = Number(values.budget);
const WARMUP = 3;

const ROOT = $.path(import.meta.dirname!).parent()!;
const bundle = ROOT.join("dist", "pystack.js");
if (!bundle.existsSync()) await $`deno run -A ${ROOT.join("scripts", "bundle.ts")}`;
const tmp = $.path(await Deno.makeTempDir({ prefix: "pystack-bench-" }));
const empty = tmp.join("empty.js");
await empty.writeText("");

const commands: { name: string; argv: string[] }[] = [
  { name: "deno run (empty file)", argv: ["deno", "run", "-A", empty.toString()] },
  {
    name: "dist/pystack.js --version",
    argv: ["deno", "run", "-A", bundle.toString(), "--version"],
  },
  {
    name: "src/main.ts --version",
    argv: ["deno", "run", "-A", ROOT.join("src", "main.ts").toString(), "--version"],
  },
];
const exe = ROOT.join("dist", "pystack");
if (exe.existsSync()) {
  commands.push({ name: "dist/pystack --version", argv: [exe.toString(), "--version"] });
}

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
  await tmp.remove({ recursive: true });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const rows = commands.map((c) => {
  const sorted = times.get(c.name)!.sort((a, b) => a - b);
  return { name: c.name, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
});
const floor = rows[0]!.median;
const table = [
  `start-up, ${RUNS} runs each (after ${WARMUP} warm-ups), wall time from spawn to exit:`,
  ...rows.map((r) =>
    `  ${r.name.padEnd(28)} median ${r.median.toFixed(1).padStart(6)} ms  ` +
    `p90 ${r.p90.toFixed(1).padStart(6)} ms  (+${(r.median - floor).toFixed(1)} ms over empty)`
  ),
];
const bundleMedian = rows[1]!.median;
const verdict = bundleMedian <= BUDGET_MS
  ? `ok: the bundle's median ${bundleMedian.toFixed(1)} ms is within the ${BUDGET_MS} ms budget`
  : `FAILED: the bundle's median ${bundleMedian.toFixed(1)} ms is over the ${BUDGET_MS} ms budget`;
if (values.json) {
  console.error([...table, verdict].join("\n"));
  console.log(JSON.stringify({ runs: RUNS, budgetMs: BUDGET_MS, rows }));
} else {
  console.log([...table, verdict].join("\n"));
}
if (bundleMedian > BUDGET_MS) Deno.exit(1);
