/**
 * What the benchmarks share: the 4-thread, 30-frame fixture
 * (`fixtures/bench_threads.py` under Debian's `/usr/bin/python3.11`).
 *
 * @module
 */

import { pathExists } from "../src/fs_checks.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** The interpreter the benchmarks measure. */
export const BENCH_PYTHON = "/usr/bin/python3.11";
/** The fixture's shape in the side-by-side tables. */
export const BENCH_SHAPE = { threads: 4, depth: 30 } as const;

/** Starts the fixture with `shape`; it writes its ready file at `readyPath`. */
export function spawnBenchFixture(
  readyPath: string,
  shape: { threads: number; depth: number } = BENCH_SHAPE,
): Deno.ChildProcess {
  return new Deno.Command(BENCH_PYTHON, {
    args: [
      "-S",
      `${ROOT}fixtures/bench_threads.py`,
      readyPath,
      String(shape.threads),
      String(shape.depth),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
    env: { PYTHONDONTWRITEBYTECODE: "1" },
  }).spawn();
}

/**
 * Starts the fixture with `shape`, writing its ready file in `dir`, and
 * resolves once it is ready and its threads asleep (200 ms later). Kill the
 * child when done; throws after `readyMs`.
 */
export async function startBenchFixture(
  dir: string,
  shape: { threads: number; depth: number } = BENCH_SHAPE,
  readyMs = 30_000,
): Promise<Deno.ChildProcess> {
  const ready = `${dir}/ready`;
  const child = spawnBenchFixture(ready, shape);
  const deadline = performance.now() + readyMs;
  while (!pathExists(ready)) {
    if (performance.now() > deadline) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      throw new Error(`The fixture was not ready in ${readyMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200)); // every thread asleep
  return child;
}
