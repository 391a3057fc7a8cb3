/**
 * The demo program as a running process to inspect: two threads deadlocked
 * over two locks, a third waiting on an event, the main thread joining them.
 * For examples, tests and trying the library out.
 *
 * @module
 */

import { DEMO_PROGRAM } from "./cli/demo_program.ts";
import { PystackError } from "./errors.ts";

/** A started demo program; `await using` it, or call `stop()`. */
export interface DemoProcess extends AsyncDisposable {
  /** Its PID: the main thread's TID. */
  pid: number;
  /** The interpreter it runs on. */
  python: string;
  /** The script's path (what its frames show as their file). */
  script: string;
  /** Kills it and removes its temporary directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startDemoProcess}. */
export interface DemoOptions {
  /** The interpreter (default: `$PYSTACK_DEMO_PYTHON`, else `python3` on PATH). */
  python?: string;
  /** How long it may take to reach its deadlock (default 15 000 ms). */
  timeoutMs?: number;
}

/**
 * Starts the demo program and resolves once its threads are deadlocked.
 * Throws a {@linkcode PystackError} when the interpreter cannot be started or
 * the deadlock is not reached in time.
 *
 * @example Start it, look at its threads, stop it
 * ```ts
 * import { inspectProcess, startDemoProcess } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * await using demo = await startDemoProcess();
 * const names = inspectProcess(demo.pid).threads.map((thread) => thread.name);
 * assert.deepEqual(names.slice(0, 3).sort(), ["transfer-a", "transfer-b", "waiter"]);
 * ```
 */
export async function startDemoProcess(options: DemoOptions = {}): Promise<DemoProcess> {
  const python = options.python ?? Deno.env.get("PYSTACK_DEMO_PYTHON") ?? "python3";
  const dir = await Deno.makeTempDir({ prefix: "pystack-demo-" });
  const script = `${dir}/deadlock_demo.py`;
  const ready = `${dir}/ready`;
  await Deno.writeTextFile(script, DEMO_PROGRAM);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(python, {
      args: ["-S", script, ready],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw new PystackError(
      `Cannot start the demo program with '${python}': ${(e as Error).message}`,
      "install python3 or set PYSTACK_DEMO_PYTHON to a Python interpreter",
    );
  }
  let exited = false;
  const status = child.status.finally(() => exited = true);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  try {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    while (!isReady(ready)) {
      if (exited || Date.now() > deadline) {
        throw new PystackError(
          exited
            ? `The demo program exited before reaching its deadlock (${python})`
            : `The demo program did not reach its deadlock within ${timeoutMs / 1000} s`,
          "check that PYSTACK_DEMO_PYTHON (or python3) runs",
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    // The main thread signals first, then blocks in join(): give it a moment.
    await new Promise((r) => setTimeout(r, 100));
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: child.pid, python, script, stop, [Symbol.asyncDispose]: stop };
}

function isReady(path: string): boolean {
  try {
    return Deno.readTextFileSync(path).startsWith("ready");
  } catch {
    return false;
  }
}
