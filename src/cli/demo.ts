/**
 * `pystack demo`: starts the bundled sample program (two threads deadlocked
 * over two locks, a third waiting on an event), shows its stacks, stops it.
 *
 * @module
 */

import { DEMO_PROGRAM } from "./demo_program.ts";
import { PystackError } from "../errors.ts";
import { printError } from "./output.ts";

/** How long the sample may take to reach its deadlock. */
const READY_TIMEOUT_MS = 15_000;

/** Picks the interpreter for the demo: `PYSTACK_DEMO_PYTHON`, else `python3` on PATH. */
function demoPython(): string {
  return Deno.env.get("PYSTACK_DEMO_PYTHON") ?? "python3";
}

/** Runs the demo; `inspect(pid)` prints the stacks and returns an exit code. */
export async function runDemo(inspect: (pid: number) => number): Promise<number> {
  const dir = Deno.makeTempDirSync({ prefix: "pystack-demo-" });
  const script = `${dir}/deadlock_demo.py`;
  const ready = `${dir}/ready`;
  Deno.writeTextFileSync(script, DEMO_PROGRAM);
  const python = demoPython();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(python, {
      args: ["-S", script, ready],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    Deno.removeSync(dir, { recursive: true });
    throw new PystackError(
      `Cannot start the demo program with '${python}': ${(e as Error).message}`,
      "install python3 or set PYSTACK_DEMO_PYTHON to a Python interpreter",
    );
  }
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!isReady(ready)) {
      if (Date.now() > deadline) {
        throw new PystackError(
          `The demo program did not reach its deadlock within ${READY_TIMEOUT_MS / 1000} s`,
          "check that PYSTACK_DEMO_PYTHON (or python3) runs",
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 100));
    printError(
      `pystack demo: started ${python} ${script} (PID ${child.pid}); ` +
        `its threads deadlock over two locks. Running: pystack remote ${child.pid}`,
    );
    return inspect(child.pid);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await child.stderr.cancel();
    Deno.removeSync(dir, { recursive: true });
  }
}

function isReady(path: string): boolean {
  try {
    return Deno.readTextFileSync(path).startsWith("ready");
  } catch {
    return false;
  }
}
