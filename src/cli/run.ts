/**
 * Runs one parsed command and maps every error to one line and an exit code.
 *
 * @module
 */

import { type Command, HELP, parseCommand } from "./args.ts";
import { ClosedPipe, printError, printLines } from "./output.ts";
import { sourceReader } from "./source_lines.ts";
import { ExitCode, PystackError } from "../errors.ts";
import { inspectProcessAsync } from "../inspect_process.ts";
import { inspectCore } from "../inspect_core.ts";
import { coreHeaderLines } from "../render/core_header.ts";
import { renderText } from "../render/text.ts";
import { renderJson } from "../render/json.ts";
import { timedOutLine } from "../render/timed_out_text.ts";
import type { StackReport } from "../model.ts";
import { printJsonError } from "./json_output.ts";
import { type TimeoutGuard, timeoutGuard } from "./timeout_guard.ts";
import { targetPath } from "../process/tasks.ts";
import { type Method, METHODS } from "../walk/find_interpreter.ts";
import { VERSION } from "../version.ts";
import { runDemo } from "./demo.ts";
import { runWatch } from "./watch.ts";
import { remoteTree } from "./tree.ts";
import { groupedJson, renderGroupedText } from "../render/group_text.ts";

/** Runs pystack with `argv`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    const command = parseCommand(argv);
    using guard = "timeout" in command && command.timeout !== undefined
      ? timeoutGuard(command.timeout, argv)
      : undefined;
    return await execute(command, guard);
  } catch (e) {
    if (e instanceof ClosedPipe) return ExitCode.ok;
    printJsonError(argv, e);
    if (e instanceof PystackError) {
      printError(`pystack: ${e.message}${e.hint === undefined ? "" : `; ${e.hint}`}`);
      return e.exitCode;
    }
    if (Deno.env.get("PYSTACK_DEBUG")) throw e;
    const message = e instanceof Error ? e.message : String(e);
    printError(
      `pystack: internal error: ${message.split("\n")[0]}; ` +
        "please report it with the output of 'pystack -vv' (PYSTACK_DEBUG=1 shows the trace)",
    );
    return ExitCode.failure;
  }
}

async function execute(command: Command, guard: TimeoutGuard | undefined): Promise<number> {
  switch (command.kind) {
    case "version":
      printLines([VERSION]);
      return ExitCode.ok;
    case "help":
      printLines([HELP[command.topic]]);
      return ExitCode.ok;
    case "demo":
      return await runDemo((pid) =>
        remote({
          ...command,
          kind: "remote",
          pid,
          block: true,
          exhaustive: false,
          json: false,
          locks: true,
        }, undefined)
      );
    case "remote":
      return await remote(command, guard);
    case "core":
      return await core(command, guard);
    case "watch":
      return await runWatch(command, useColor(command.noColor), guard?.deadline);
  }
}

async function core(
  command: Extract<Command, { kind: "core" }>,
  guard: TimeoutGuard | undefined,
): Promise<number> {
  const log = command.verbose > 0 ? (m: string) => printError(`pystack: ${m}`) : undefined;
  const methods = methodsFromEnv();
  const report = await inspectCore(command.core, {
    exhaustive: command.exhaustive,
    ...(command.locals ? { locals: true } : {}),
    ...(command.locks ? { locks: true } : {}),
    ...(command.tasks ? { tasks: true } : {}),
    ...(command.native === undefined ? {} : { native: command.native }),
    ...(command.json ? {} : { nativeLines: "shown" as const }),
    ...(command.executable === undefined ? {} : { executable: command.executable }),
    ...(command.libSearchPath === undefined ? {} : { libSearchPath: command.libSearchPath }),
    ...(command.libSearchRoot === undefined ? {} : { libSearchRoot: command.libSearchRoot }),
    ...(methods === undefined ? {} : { methods }),
    ...(log === undefined ? {} : { log }),
    ...(guard === undefined ? {} : { deadline: guard.deadline }),
  });
  for (const w of report.warnings) printError(`pystack: warning: ${w}`);
  if (command.json) {
    printLines(command.group ? groupedJson(report) : renderJson(report));
    return guard?.finish(report) ?? ExitCode.ok;
  }
  // Source files are read from this machine: a core has no mount namespace to look into.
  const sourceLine = sourceReader((file) => file);
  const lines = report.core === undefined ? [] : coreHeaderLines(report.core);
  lines.push(
    ...(command.group ? renderGroupedText : renderText)(report, {
      color: useColor(command.noColor),
      sourceLine,
      ...(command.native === undefined ? {} : { native: command.native }),
    }),
  );
  printLines([...lines, ...timedOutLines(report)]);
  return guard?.finish(report) ?? ExitCode.ok;
}

/** Whether to colour stdout. */
export function useColor(noColor: boolean): boolean {
  return !noColor && Deno.env.get("NO_COLOR") === undefined && Deno.stdout.isTerminal();
}

async function remote(
  command: Extract<Command, { kind: "remote" }>,
  guard: TimeoutGuard | undefined,
): Promise<number> {
  if (command.subprocesses) {
    return await remoteTree(command, useColor(command.noColor), guard?.deadline);
  }
  const log = command.verbose > 0 ? (m: string) => printError(`pystack: ${m}`) : undefined;
  const debug = command.verbose > 1 ? log : undefined;
  const methods = methodsFromEnv();
  const sleepMs = Number(Deno.env.get("_PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS") ?? 0);
  const heldFile = Deno.env.get("_PYSTACK_TEST_HELD_FILE");
  // SIGINT and SIGTERM keep their default action on purpose: pystack dies at once, and the
  // kernel detaches every thread it holds as the tracer exits (each resumes, and a signal
  // caught in a signal-delivery stop is still delivered). Catching them instead could only
  // act once the synchronous walk is over, and Deno delivers a caught signal to JavaScript
  // late enough that a run could finish as if it had never been interrupted.
  const report = await inspectProcessAsync(command.pid, {
    block: command.block,
    exhaustive: command.exhaustive,
    ...(command.locals ? { locals: true } : {}),
    ...(command.locks ? { locks: true } : {}),
    ...(command.tasks ? { tasks: true } : {}),
    ...(command.native === undefined ? {} : { native: command.native }),
    ...(command.json ? {} : { nativeLines: "shown" as const }),
    ...(methods === undefined ? {} : { methods }),
    ...(log === undefined ? {} : { log }),
    ...(debug === undefined ? {} : { debug }),
    ...(sleepMs > 0 ? { onPaused: () => holdForTest(sleepMs, heldFile) } : {}),
    ...(guard === undefined ? {} : { deadline: guard.deadline }),
  });
  for (const w of report.warnings) printError(`pystack: warning: ${w}`);
  if (command.json) {
    printLines(command.group ? groupedJson(report) : renderJson(report));
    return guard?.finish(report) ?? ExitCode.ok;
  }
  const sourceLine = sourceReader((file) => targetPath(command.pid, file));
  printLines([
    ...(command.group ? renderGroupedText : renderText)(report, {
      color: useColor(command.noColor),
      sourceLine,
      ...(command.native === undefined ? {} : { native: command.native }),
    }),
    ...timedOutLines(report),
  ]);
  return guard?.finish(report) ?? ExitCode.ok;
}

/** `--timeout`: the marker line of a cut report (none when it was read in time). */
function timedOutLines(report: StackReport): string[] {
  return report.timedOut === undefined ? [] : [timedOutLine(report.timedOut)];
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
