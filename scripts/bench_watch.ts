#!/usr/bin/env -S deno run -A
/**
 * Benchmarks `pystack watch` (issue 14) on `fixtures/bench_threads.py` under
 * Debian's `/usr/bin/python3.11` (4 threads 30 frames deep, a ticker thread,
 * the main thread).
 *
 * Usage: `deno run -A scripts/bench_watch.ts [--json] [--runs N]`
 *
 * 1. Samples per second of `watch --interval 0 --duration 3s` (the CLI's
 *    own count of samples over its own sampling window), and of a dump tool
 *    started once per sample for comparison: `pystack remote` run back to
 *    back for the same window.
 * 2. Share of wall time the target is paused at `--interval 100ms` (the sum
 *    of the pauses the CLI measures, over the window; `-v` prints both).
 *
 * Median over `--runs` runs (default 3). Every process it starts is killed
 * on the way out.
 *
 * @module
 */

import $ from "dax";
import { parseArgs } from "node:util";
import { median } from "./bench_runs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { json: { type: "boolean" }, runs: { type: "string" } },
});
const runs = Number(values.runs ?? 3);
const root = new URL("../", import.meta.url).pathname;
const python = "/usr/bin/python3.11";
const dir = await Deno.makeTempDir({ prefix: "pystack-bench-watch-" });
const ready = `${dir}/ready`;
const fixture = new Deno.Command(python, {
  args: ["-S", `${root}fixtures/bench_threads.py`, ready],
  stdout: "null",
  stderr: "null",
}).spawn();

/** `{samples, pausedMs, durationMs}` of one `watch -v --json` run. */
async function watchRun(interval: string, duration: string) {
  const out =
    await $`deno run -A ${root}src/main.ts watch ${fixture.pid} --interval ${interval} --duration ${duration} --json`
      .stdout("piped").stderr("null").timeout("60s");
  const doc = JSON.parse(out.stdout);
  return {
    samples: doc.watch.samples as number,
    pausedMs: doc.watch.pausedMs as number,
    durationMs: doc.watch.durationMs as number,
  };
}

try {
  const deadline = Date.now() + 15_000;
  while (!(await Deno.stat(ready).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error("the fixture did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  const rates: number[] = [];
  const pausedAtZero: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await watchRun("0", "3s");
    rates.push(r.samples / (r.durationMs / 1000));
    pausedAtZero.push(100 * r.pausedMs / r.durationMs);
  }
  const shares: number[] = [];
  const pauses: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await watchRun("100ms", "3s");
    shares.push(100 * r.pausedMs / r.durationMs);
    pauses.push(r.pausedMs / r.samples);
  }
  // The dump-tool baseline: one `pystack remote` process per sample, for 3 s.
  let dumps = 0;
  const start = performance.now();
  while (performance.now() - start < 3000) {
    await $`deno run -A ${root}src/main.ts remote ${fixture.pid}`.stdout("null").stderr("null")
      .timeout("30s");
    dumps++;
  }
  const dumpRate = dumps / ((performance.now() - start) / 1000);
  const figures = {
    samplesPerSecond: Math.round(median(rates)),
    pausedShareAtInterval0Percent: Number(median(pausedAtZero).toFixed(1)),
    pausedShareAt100msPercent: Number(median(shares).toFixed(2)),
    pauseMsPerSample: Number(median(pauses).toFixed(2)),
    remoteRunsPerSecond: Number(dumpRate.toFixed(1)),
  };
  const table = [
    `watch --interval 0:        ${figures.samplesPerSecond} samples/s (goal ≥ 200), ` +
    `target paused ${figures.pausedShareAtInterval0Percent}% of the time`,
    `watch --interval 100ms:    target paused ${figures.pausedShareAt100msPercent}% ` +
    `of the time (goal < 5%), ${figures.pauseMsPerSample} ms per sample`,
    `pystack remote per sample: ${figures.remoteRunsPerSecond} samples/s`,
  ];
  if (values.json) {
    console.error(table.join("\n"));
    console.log(JSON.stringify(figures));
  } else {
    console.log(table.join("\n"));
  }
} finally {
  try {
    fixture.kill("SIGKILL");
  } catch {
    // already gone
  }
  await fixture.status;
  await Deno.remove(dir, { recursive: true });
}
