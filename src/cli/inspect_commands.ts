/**
 * `pystack remote` and `pystack core`: inspect, then print text or JSON.
 * Loaded by `run.ts` only for these commands.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { printError, printLines } from "./output.ts";
import { sourceReader } from "./source_lines.ts";
import { ExitCode, PystackError } from "../errors.ts";
import { inspectProcessAsync } from "../inspect_process.ts";
import { inspectCore } from "../inspect_core.ts";
import { coreHeaderLines } from "../render/core_header.ts";
import { renderText } from "../render/text.ts";
import { targetPath } from "../process/tasks.ts";
import { type Method, METHODS } from "../walk/find_interpreter.ts";
import { remoteTree } from "./tree.ts";
import type { StackReport } from "../model.ts";
import type { NativeMode } from "../native/merge.ts";
import { useColor } from "./use_color.ts";
import type { TimeoutGuard } from "./timeout_guard.ts";
import { timedOutLine } from "../render/timed_out_text.ts";

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
  // Source files are read from this machine: a core has no mount namespace to look into.
  const header = report.core === undefined ? [] : coreHeaderLines(report.core);
  return await print(report, command, sourceReader((file) => file), header, guard);
}

export async function remote(
  command: Extract<Command, { kind: "remote" }>,
  guard: TimeoutGuard | undefined,
): Promise<number> {
  if (command.subprocesses) {
    return await remoteTree(command, useColor(command.noColor), guard?.deadline);
  }
  const sleepMs = Number(Deno.env.get("_PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS") ?? 0);
  const heldFile = Deno.env.get("_PYSTACK_TEST_HELD_FILE");
  // SIGINT and SIGTERM keep their default action on purpose: pystack dies at once, and the
  // kernel detaches every thread it holds as the tracer exits (each resumes, and a signal
  // caught in a signal-delivery stop is still delivered). Catching them instead could only
  // act once the synchronous walk is over, and Deno delivers a caught signal to JavaScript
  // late enough that a run could finish as if it had never been interrupted.
  const report = await inspectProcessAsync(command.pid, {
    ...inspectOptions(command, guard),
    block: command.block,
    ...(command.verbose > 1 ? { debug: logLine } : {}),
    ...(sleepMs > 0 ? { onPaused: () => holdForTest(sleepMs, heldFile) } : {}),
  });
  const sourceLine = sourceReader((file) => targetPath(command.pid, file));
  return await print(report, command, sourceLine, [], guard);
}

/** What `remote` and `core` ask of an inspection alike. */
interface InspectFlags {
  exhaustive: boolean;
  json: boolean;
  locals?: boolean;
  locks?: boolean;
  tasks?: boolean;
  native?: NativeMode;
  verbose: number;
}

/** The options `remote` and `core` pass alike. */
function inspectOptions(command: InspectFlags, guard: TimeoutGuard | undefined) {
  const methods = methodsFromEnv();
  return {
    exhaustive: command.exhaustive,
    ...(command.locals ? { locals: true } : {}),
    ...(command.locks ? { locks: true } : {}),
    ...(command.tasks ? { tasks: true } : {}),
    ...(command.native === undefined ? {} : { native: command.native }),
    ...(command.json ? {} : { nativeLines: "shown" as const }),
    ...(methods === undefined ? {} : { methods }),
    ...(command.verbose > 0 ? { log: logLine } : {}),
    ...(guard === undefined ? {} : { deadline: guard.deadline }),
  };
}

function logLine(message: string): void {
  printError(`pystack: ${message}`);
}

/**
 * Prints the warnings, then the report as JSON or as text under `header`
 * (and the `--timeout` marker of a cut report); returns the exit code. The
 * JSON and grouped renderers are loaded only by the runs that use them.
 */
async function print(
  report: StackReport,
  command: InspectFlags & { group?: boolean; noColor: boolean },
  sourceLine: (file: string, line: number) => string | undefined,
  header: string[],
  guard: TimeoutGuard | undefined,
): Promise<number> {
  for (const w of report.warnings) printError(`pystack: warning: ${w}`);
  if (command.json) {
    if (command.group) printLines((await import("../render/group_text.ts")).groupedJson(report));
    else printLines((await import("../render/json.ts")).renderJson(report));
    return guard?.finish(report) ?? ExitCode.ok;
  }
  const render = command.group
    ? (await import("../render/group_text.ts")).renderGroupedText
    : renderText;
  printLines([
    ...header,
    ...render(report, {
      color: useColor(command.noColor),
      sourceLine,
      ...(command.native === undefined ? {} : { native: command.native }),
    }),
    ...(report.timedOut === undefined ? [] : [timedOutLine(report.timedOut)]),
  ]);
  return guard?.finish(report) ?? ExitCode.ok;
}

/** `_PYSTACK_METHODS=bss,...` restricts how the interpreter is found (a testing aid). */
function methodsFromEnv(): Method[] | undefined {
  const text = Deno.env.get("_PYSTACK_METHODS");
  if (text === undefined || text === "") return undefined;
  const names = text.split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(METHODS as readonly string[]).includes(n)) {
      throw new PystackError(
        `Unknown method '${n}' in _PYSTACK_METHODS`,
        `use ${METHODS.join(",")}`,
      );
    }
  }
  return names as Method[];
}

/** The test switches' hold: create `heldFile` (when given), then sleep `ms`. */
function holdForTest(ms: number, heldFile: string | undefined): void {
  if (heldFile !== undefined) Deno.writeTextFileSync(heldFile, "held");
  sleepSync(ms);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
