/**
 * What `--locks` costs: the target's pause (as `pystack -v` reports it) and
 * the wall time of `pystack remote PID` with and without `--locks`, on the
 * demo (4 threads, a deadlock) and on `fixtures/bench_threads.py` with 200
 * threads 10 frames deep. Runs alternate, so drift in the machine's load hits
 * both alike. Goal (issue 11): at most 10 ms more pause with `--locks`.
 *
 * Usage: `deno task bench:locks [--runs N] [--python PATH]` (default 15 runs,
 * Debian's `/usr/bin/python3.11`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median } from "./bench_runs.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const GOAL_MS = 10;

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string" }, python: { type: "string" } },
});
const RUNS = Number(values.runs ?? 15);
const PYTHON = values.python ?? "/usr/bin/python3.11";

interface Target {
  name: string;
  args: string[];
}

const TARGETS: Target[] = [
  { name: "demo (4 threads)", args: [`${ROOT}fixtures/demo.py`] },
  {
    name: "200 threads, 10 deep",
    args: [`${ROOT}fixtures/bench_threads.py`, "{ready}", "200", "10"],
  },
];

async function waitFor(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      Deno.statSync(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`${path} did not appear`);
}

async function pystack(pid: number, locks: boolean): Promise<{ pauseMs: number; wallMs: number }> {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}src/main.ts`, "remote", String(pid), "-v", "--no-color"]
      .concat(locks ? ["--locks"] : []),
    stdout: "null",
    stderr: "piped",
  }).output();
  const wallMs = performance.now() - start;
  const stderr = new TextDecoder().decode(out.stderr);
  const m = /target paused for ([\d.]+) ms/.exec(stderr);
  if (!out.success || m === null) throw new Error(`pystack failed: ${stderr}`);
  return { pauseMs: Number(m[1]), wallMs };
}

const rows: string[] = [];
for (const target of TARGETS) {
  const dir = await Deno.makeTempDir({ prefix: "pystack-bench-locks-" });
  const ready = `${dir}/ready`;
  const args = target.args.map((a) => a.replace("{ready}", ready));
  if (!args.includes(ready)) args.push(ready);
  const child = new Deno.Command(PYTHON, { args: ["-S", ...args], stdout: "null", stderr: "null" })
    .spawn();
  try {
    await waitFor(ready, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 2; i++) await pystack(child.pid, i === 1);
    const plain: { pauseMs: number; wallMs: number }[] = [];
    const locks: { pauseMs: number; wallMs: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      plain.push(await pystack(child.pid, false));
      locks.push(await pystack(child.pid, true));
    }
    const p = median(plain.map((r) => r.pauseMs));
    const l = median(locks.map((r) => r.pauseMs));
    rows.push(
      `${target.name.padEnd(22)} pause ${p.toFixed(2)} ms → ${l.toFixed(2)} ms with --locks ` +
        `(+${(l - p).toFixed(2)} ms, goal +${GOAL_MS}: ${l - p <= GOAL_MS ? "met" : "MISSED"}); ` +
        `wall ${median(plain.map((r) => r.wallMs)).toFixed(0)} ms → ` +
        `${median(locks.map((r) => r.wallMs)).toFixed(0)} ms`,
    );
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}
console.log(`pystack --locks, ${PYTHON}, median of ${RUNS} runs each:`);
for (const row of rows) console.log(row);
