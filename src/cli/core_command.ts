/**
 * `pystack core`: inspect a core file, then print text or JSON. Loaded by
 * `run.ts` only for this command.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { coreSourcePath, sourceReader } from "./source_lines.ts";
import { inspectCore } from "../inspect_core.ts";
import { coreHeaderLines } from "../render/core_header.ts";
import type { TimeoutGuard } from "./timeout_guard.ts";
import { inspectOptions, print } from "./inspect_commands.ts";

/** Runs `pystack core`; returns the exit code. */
export async function core(
  command: Extract<Command, { kind: "core" }>,
  guard: TimeoutGuard | undefined,
): Promise<number> {
  const report = await inspectCore(command.core, {
    ...inspectOptions(command, guard),
    ...(command.executable === undefined ? {} : { executable: command.executable }),
    ...(command.libSearchPath === undefined ? {} : { libSearchPath: command.libSearchPath }),
    ...(command.libSearchRoot === undefined ? {} : { libSearchRoot: command.libSearchRoot }),
  });
  const header = report.core === undefined ? [] : coreHeaderLines(report.core);
  return await print(report, command, sourceReader(coreSourcePath), header, guard);
}
