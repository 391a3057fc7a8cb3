/**
 * What `remote` and `core` share: the options they pass to an inspection and
 * how they print its report.
 *
 * @module
 */

import { printError, printLines } from "./output.ts";
import { ExitCode, PystackError } from "../errors.ts";
import { renderText } from "../render/text.ts";
import { type Method, METHODS } from "../walk/find_interpreter.ts";
import type { StackReport } from "../model.ts";
import type { NativeMode } from "../native/merge.ts";
import { useColor } from "./use_color.ts";
import type { TimeoutGuard } from "./timeout_guard.ts";
import { timedOutLine } from "../render/timed_out_text.ts";

/** What `remote` and `core` ask of an inspection alike. */
export interface InspectFlags {
  exhaustive: boolean;
  json: boolean;
  locals?: boolean;
  locks?: boolean;
  tasks?: boolean;
  native?: NativeMode;
  verbose: number;
}

/** The options `remote` and `core` pass alike. */
export function inspectOptions(command: InspectFlags, guard: TimeoutGuard | undefined) {
  const methods = methodsFromEnv();
  return {
    exhaustive: command.exhaustive,
    ...(command.locals ? { locals: true } : {}),
    ...(command.locks ? { locks: true } : {}),
    ...(command.tasks ? { tasks: true } : {}),
    ...(command.native === undefined ? {} : { native: command.native }),
    ...(command.json ? {} : { nativeLines: "shown" as const }),
    exitsAfter: true,
    ...(methods === undefined ? {} : { methods }),
    ...(command.verbose > 0 ? { log: logLine } : {}),
    ...(guard === undefined ? {} : { deadline: guard.deadline }),
  };
}

/** `-v`: one line on stderr. */
export function logLine(message: string): void {
  printError(`pystack: ${message}`);
}

/**
 * Prints the warnings, then the report as JSON or as text under `header`
 * (and the `--timeout` marker of a cut report); returns the exit code. The
 * JSON and grouped renderers are loaded only by the runs that use them.
 */
export async function print(
  report: StackReport,
  command: InspectFlags & { group?: boolean; noColor: boolean },
  sourceLine: (file: string, line: number) => string | undefined,
  header: string[],
  guard: TimeoutGuard | undefined,
): Promise<number> {
  guard?.deadline.readingDone();
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
