/**
 * The library's synchronous {@linkcode inspectProcess}: it loads every
 * optional part up front (the CLI uses `inspectProcessAsync`, which loads
 * only the parts a run asks for).
 *
 * @module
 */

import type { StackReport } from "./model.ts";
import { type InspectProcessOptions, inspectSteps } from "./inspect_process.ts";
import { ALL_PARTS } from "./parts/all_parts.ts";

/**
 * Reads the Python stacks of every thread of the live process `pid`.
 *
 * By default the target is paused (ptrace) for a consistent snapshot, a
 * millisecond or a few, and always resumed; `block: false` reads it running. Throws
 * {@linkcode ProcessNotFoundError}, `PermissionDeniedError`,
 * {@linkcode NotPythonError}, `UnsupportedVersionError` or
 * {@linkcode TargetExitedError}.
 *
 * @example The stacks of a running program
 * ```ts
 * import { inspectProcess, startDemoProcess } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * await using demo = await startDemoProcess();
 * const report = inspectProcess(demo.pid);
 * const main = report.threads.find((thread) => thread.tid === demo.pid)!;
 * assert.deepEqual(main.frames.map((frame) => frame.function).slice(0, 3), [
 *   "<module>",
 *   "main",
 *   "join",
 * ]);
 * ```
 */
export function inspectProcess(pid: number, options: InspectProcessOptions = {}): StackReport {
  const steps = inspectSteps(pid, options, ALL_PARTS);
  for (let step = steps.next();; step = steps.next()) if (step.done) return step.value;
}
