/**
 * pystack as a library: the Python stacks of a live CPython process
 * ({@linkcode inspectProcess}) or of a core dump ({@linkcode inspectCore}) as
 * plain data (a {@linkcode StackReport}), and the renderers the CLI prints
 * them with ({@linkcode renderText}, {@linkcode renderJson}).
 *
 * Needs `--allow-all` (ptrace through FFI, `/proc`); Linux x86-64 only.
 * Failures are {@linkcode PystackError}s carrying an `exitCode` and a `hint`;
 * {@linkcode errorCode} gives the stable code `--json` reports.
 *
 * @example Which threads of a deadlocked program wait for a lock
 * ```ts
 * import { inspectProcess, renderText, startDemoProcess } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * await using demo = await startDemoProcess();
 * const report = inspectProcess(demo.pid);
 * const stuck = report.threads.filter((thread) =>
 *   thread.frames.at(-1)?.function.startsWith("transfer_")
 * );
 * assert.deepEqual(stuck.map((thread) => thread.name).sort(), ["transfer-a", "transfer-b"]);
 * console.log(renderText(report, { color: false }).join("\n"));
 * ```
 *
 * @module
 */

export { inspectProcess } from "./src/inspect_process_sync.ts";
export type { InspectProcessOptions } from "./src/inspect_process.ts";
export { inspectCore, type InspectCoreOptions } from "./src/inspect_core.ts";
export type { Method } from "./src/walk/find_interpreter.ts";
export { Deadline, type DeadlineOptions } from "./src/deadline.ts";
export * from "./src/model.ts";
export * from "./src/render/text.ts";
export { coreHeaderLines, failureLine } from "./src/render/core_header.ts";
export * from "./src/render/json.ts";
export * from "./src/errors.ts";
export * from "./src/core/core_errors.ts";
export * from "./src/demo_process.ts";
export { VERSION } from "./src/version.ts";
