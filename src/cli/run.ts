/**
 * Runs one parsed command and maps every error to one line and an exit code.
 * Only the command line parser is loaded up front: each command loads what it
 * needs when it runs (`--version` and `--help` load nothing more).
 *
 * @module
 */

import { type Command, HELP, parseCommand } from "./args.ts";
import { ClosedPipe, printError, printLines } from "./output.ts";
import { ExitCode, PystackError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { wantsJson } from "./wants_json.ts";
import type { TimeoutGuard } from "./timeout_guard.ts";

/** Runs pystack with `argv`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    const command = parseCommand(argv);
    // --timeout: its guard (and the backstop's worker) only when asked for.
    using guard = "timeout" in command && command.timeout !== undefined
      ? (await import("./timeout_guard.ts")).timeoutGuard(command.timeout, argv)
      : undefined;
    return await execute(command, guard);
  } catch (e) {
    if (e instanceof ClosedPipe) return ExitCode.ok;
    if (wantsJson(argv)) (await import("./json_output.ts")).printJsonError(e);
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
    case "demo": {
      const [{ runDemo }, { remote }] = await Promise.all([
        import("./demo.ts"),
        import("./remote_command.ts"),
      ]);
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
    }
    case "remote":
      return await (await import("./remote_command.ts")).remote(command, guard);
    case "core":
      return await (await import("./core_command.ts")).core(command, guard);
    case "watch": {
      const [{ runWatch }, { useColor }] = await Promise.all([
        import("./watch.ts"),
        import("./use_color.ts"),
      ]);
      return await runWatch(command, useColor(command.noColor), guard?.deadline);
    }
  }
}
