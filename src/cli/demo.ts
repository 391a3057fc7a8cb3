/**
 * `pystack demo`: starts the bundled sample program (two threads deadlocked
 * over two locks, a third waiting on an event), shows its stacks with `--locks`
 * (ending with the deadlock, named), stops it.
 *
 * @module
 */

import { startDemoProcess } from "../demo_process.ts";
import { printError } from "./output.ts";

/** Runs the demo; `inspect(pid)` prints the stacks and returns an exit code. */
export async function runDemo(inspect: (pid: number) => Promise<number>): Promise<number> {
  await using demo = await startDemoProcess();
  printError(
    `pystack demo: started ${demo.python} ${demo.script} (PID ${demo.pid}); ` +
      `its threads deadlock over two locks. Running: pystack remote ${demo.pid} --locks`,
  );
  return await inspect(demo.pid);
}
