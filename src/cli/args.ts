/**
 * The command line, parsed into a plain command. Global options may stand
 * before or after the sub-command, as in PyStack.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { type OptionValues, parseOptions } from "./parse_options.ts";
import type { NativeMode } from "../native/merge.ts";
import { NATIVE_FLAGS, NATIVE_OPTIONS, nativeModeOf } from "./native_flags.ts";
import { parseWatch, WATCH_OPTIONS, type WatchCommand } from "./watch_args.ts";
import { MAX_SAMPLES, STUCK_RULE } from "../analysis/watch/watch_model.ts";
import { TIMEOUT_OPTIONS, timeoutOf } from "./timeout_args.ts";

/** Options every sub-command accepts. */
export interface CommonOptions {
  verbose: number;
  noColor: boolean;
}

/** A parsed command line. */
export type Command =
  | { kind: "help"; topic: "main" | "remote" | "core" | "demo" | "watch" }
  | { kind: "version" }
  | ({ kind: "demo" } & CommonOptions)
  | (
    & {
      kind: "remote";
      pid: number;
      block: boolean;
      exhaustive: boolean;
      json: boolean;
      /** `--locals`: present (true) only when given. */
      locals?: boolean;
      /** `--tasks`: present (true) only when given. */
      tasks?: boolean;
      /** `--native`, `--native-all`, `--native-last` (the last one given). */
      native?: NativeMode;
      /** `--group`: threads with identical Python stacks printed once. */
      group?: boolean;
      /** `--subprocesses`: the process and every descendant that runs Python. */
      subprocesses?: boolean;
      /** `--locks`: present (true) only when given. */
      locks?: boolean;
      /** `--timeout`, in seconds: present only when given. */
      timeout?: number;
    }
    & CommonOptions
  )
  | WatchCommand
  | ({
    kind: "core";
    core: string;
    executable?: string;
    libSearchPath?: string[];
    libSearchRoot?: string;
    exhaustive: boolean;
    json: boolean;
    locals?: boolean;
    tasks?: boolean;
    native?: NativeMode;
    group?: boolean;
    locks?: boolean;
    timeout?: number;
  } & CommonOptions);

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  verbose: { type: "boolean", short: "v", multiple: true },
  "no-color": { type: "boolean" },
  "no-block": { type: "boolean" },
  exhaustive: { type: "boolean" },
  json: { type: "boolean" },
  locals: { type: "boolean" },
  locks: { type: "boolean" },
  tasks: { type: "boolean" },
  "lib-search-path": { type: "string" },
  "lib-search-root": { type: "string" },
  ...NATIVE_OPTIONS,
  group: { type: "boolean" },
  subprocesses: { type: "boolean" },
  ...WATCH_OPTIONS,
  ...TIMEOUT_OPTIONS,
} as const;

const SUBCOMMANDS = ["remote", "core", "demo", "watch"] as const;
const ONLY_REMOTE = ["no-block", "subprocesses"] as const;
const ONLY_WATCH = Object.keys(WATCH_OPTIONS);
const ONLY_CORE = ["lib-search-path", "lib-search-root"] as const;

/** Parses `argv` (without the program name). Throws {@linkcode UsageError}. */
export function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseOptions(argv, OPTIONS);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e), "see 'pystack --help'");
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.version) return { kind: "version" };
  if (sub === undefined) {
    if (values.help) return { kind: "help", topic: "main" };
    return { kind: "demo", verbose: values.verbose?.length ?? 0, noColor: !!values["no-color"] };
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(
      `Unknown command '${sub}'`,
      "commands are: remote, core, watch, demo; see 'pystack --help'",
    );
  }
  const common = { verbose: values.verbose?.length ?? 0, noColor: !!values["no-color"] };
  if (sub === "demo") {
    if (values.help) return { kind: "help", topic: "demo" };
    rejectOptions(
      values,
      [
        ...ONLY_REMOTE,
        ...ONLY_CORE,
        ...ONLY_WATCH,
        "group",
        "exhaustive",
        "json",
        "locals",
        "locks",
        "tasks",
        "timeout",
        ...NATIVE_FLAGS,
      ],
      "demo",
    );
    if (rest.length > 0) {
      throw new UsageError(`Unexpected argument '${rest[0]}'`, "'pystack demo' takes no arguments");
    }
    return { kind: "demo", ...common };
  }
  const native = nativeModeOf(argv);
  if (sub === "core") return parseCore(values, rest, { ...common, native });
  if (sub === "watch") {
    if (values.help) return { kind: "help", topic: "watch" };
    rejectOptions(values, [...ONLY_CORE, "exhaustive", "locals"], "watch");
    return {
      ...parseWatch(values, rest, { ...common, native, pid: parsePid }),
      ...timeoutOf(values),
    };
  }
  if (values.help) return { kind: "help", topic: "remote" };
  rejectOptions(values, [...ONLY_CORE, ...ONLY_WATCH], "remote");
  if (rest.length === 0) {
    throw new UsageError("Missing the PID to inspect", "usage: pystack remote PID [options]");
  }
  if (rest.length > 1) {
    throw new UsageError(`Unexpected argument '${rest[1]}'`, "usage: pystack remote PID [options]");
  }
  const pid = parsePid(rest[0]!, "usage: pystack remote PID [options]");
  if (native !== undefined && values["no-block"]) {
    throw new UsageError(
      "Native stacks are only available in blocking mode: --no-block cannot be combined with " +
        "--native, --native-all or --native-last",
      "usage: pystack remote PID [options]",
    );
  }
  return {
    kind: "remote",
    pid,
    ...(native === undefined ? {} : { native }),
    block: !values["no-block"],
    exhaustive: !!values.exhaustive,
    json: !!values.json,
    ...(values.locals ? { locals: true } : {}),
    ...(values.group ? { group: true } : {}),
    ...(values.subprocesses ? { subprocesses: true } : {}),
    ...(values.locks ? { locks: true } : {}),
    ...(values.tasks ? { tasks: true } : {}),
    ...timeoutOf(values),
    ...common,
  };
}

/** A PID argument. Throws {@linkcode UsageError}. */
function parsePid(text: string, usage: string): number {
  const pid = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x3fffffff) {
    throw new UsageError(`Invalid PID '${text}': expected a positive integer`, usage);
  }
  return pid;
}

function parseCore(
  values: OptionValues<typeof OPTIONS>,
  rest: string[],
  { native, ...common }: CommonOptions & { native: NativeMode | undefined },
): Command {
  if (values.help) return { kind: "help", topic: "core" };
  rejectOptions(values, [...ONLY_REMOTE, ...ONLY_WATCH], "core");
  const usage = "usage: pystack core CORE [EXECUTABLE] [options]";
  if (rest.length === 0) throw new UsageError("Missing the core file to inspect", usage);
  if (rest.length > 2) throw new UsageError(`Unexpected argument '${rest[2]}'`, usage);
  const searchPath = values["lib-search-path"];
  const searchRoot = values["lib-search-root"];
  if (searchPath !== undefined && searchRoot !== undefined) {
    throw new UsageError("--lib-search-path and --lib-search-root cannot be combined", usage);
  }
  const command: Command = {
    kind: "core",
    core: rest[0]!,
    ...(native === undefined ? {} : { native }),
    exhaustive: !!values.exhaustive,
    json: !!values.json,
    ...(values.locals ? { locals: true } : {}),
    ...(values.group ? { group: true } : {}),
    ...(values.locks ? { locks: true } : {}),
    ...(values.tasks ? { tasks: true } : {}),
    ...timeoutOf(values),
    ...common,
  };
  if (rest[1] !== undefined) command.executable = rest[1];
  if (searchPath !== undefined) {
    command.libSearchPath = searchPath.split(":").filter((p) => p !== "");
  }
  if (searchRoot !== undefined) {
    const root = searchRoot.replace(/^~(?=\/|$)/, Deno.env.get("HOME") ?? "~");
    let isDir = false;
    try {
      isDir = Deno.statSync(root).isDirectory;
    } catch {
      // reported below
    }
    if (!isDir) throw new UsageError(`--lib-search-root ${searchRoot} is not a directory`, usage);
    command.libSearchRoot = root;
  }
  return command;
}

function rejectOptions(
  values: Record<string, unknown>,
  names: readonly string[],
  sub: string,
): void {
  for (const name of names) {
    if (values[name] !== undefined) {
      throw new UsageError(`Option --${name} does not apply to '${sub}'`, "see 'pystack --help'");
    }
  }
}

/** Help texts. */
export const HELP = {
  main: `pystack: print the Python stack of every thread of a running Python process

Usage:
  pystack remote PID [--no-block] [--locals] [--locks] [--tasks] [--exhaustive] [--json] [-v] [--no-color]
                     [--native | --native-all | --native-last] [--group] [--subprocesses] [--timeout S]
  pystack core CORE [EXECUTABLE] [--lib-search-path P1:P2 | --lib-search-root DIR]
               [--locals] [--locks] [--tasks] [--exhaustive] [--json] [-v] [--no-color]
               [--native | --native-all | --native-last] [--group] [--timeout S]
  pystack watch PID [--duration 5s | --samples N] [--interval 100ms] [--no-block]
                    [--native] [--json | --format text|json|collapsed|speedscope]
                    [--group] [--subprocesses] [--timeout S]
  pystack demo       start a deadlocked sample program and show its stacks (the default)
  pystack --version
  pystack --help | pystack remote --help | pystack core --help | pystack watch --help

Options:
  -v, --verbose   say how the interpreter was found and how long the target was paused (repeatable)
  --no-color      no colours (also when NO_COLOR is set or output is not a terminal)
  --timeout S     remote, core, watch: stop after S seconds (decimals allowed), print what was
                  read with a marker, exit 10; the target is released and runs on
  -h, --help      this help
  --version       print the version

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 no such process, 4 not permitted,
5 not a Python process, 6 unsupported Python version, 7 target exited while being read,
8 unreadable core file, 9 native frames asked for but libdw (elfutils) missing,
10 --timeout ran out (what was read is printed, with a marker); killed by SIGINT/SIGTERM:
130/143 (the target runs on).`,
  remote: `Usage: pystack remote PID [options]

Prints the Python stack of every thread of the live process PID (CPython 2.7 and 3.6 to 3.15).
By default every thread is paused for a consistent snapshot (a few milliseconds) and
always resumed; the target is never written to and never made to run code.

Options:
  --no-block      read without pausing the target (stacks may be inconsistent; marked)
  --locals        also show each frame's arguments and local variables, and Python thread names
  --locks         also show what each thread waits for, who holds it, and the deadlocks
  --tasks         also show the asyncio tasks, as a tree of who awaits whom (3.8+)
  --exhaustive    also scan anonymous mappings and the heap for the interpreter
  --group         threads with identical Python stacks printed once: 'N threads: TID (name), …'
  --subprocesses  also every descendant process that runs Python, each under 'Process PID: …'
  --json          print one JSON document (schema/pystack-report.schema.json); errors too
  --native        also show native (C, C++, Rust) frames, merged with the Python frames
  --native-all    --native, plus the threads that never ran Python
  --native-last   --native, but only the native frames after the last Python frame
                  (the three may be combined: the last one given wins; not with --no-block;
                  they need elfutils' libdw, package libdw1)
  --timeout S     stop after S seconds (e.g. 2, 0.5): the target is released, the threads read
                  so far are printed with a '(!) Timed out' marker, and the exit code is 10
  -v, --verbose   say how the interpreter was found and how long the target was paused
  --no-color      no colours`,
  core: `Usage: pystack core CORE [EXECUTABLE] [options]

Prints the Python stack of every thread recorded in the core dump CORE (made by the
kernel, gcore or systemd-coredump; gzip, zstd and lz4 compressed cores are read directly).
EXECUTABLE is the Python interpreter that produced it, when the one the core names
cannot be found.

Options:
  --lib-search-path P1:P2   directories to look for libraries that moved
  --lib-search-root DIR     a directory searched recursively for libraries that moved
  --locals                  also show arguments, local variables and Python thread names
  --locks                   also show what each thread waits for, who holds it, and the deadlocks
  --tasks                   also show the asyncio tasks, as a tree of who awaits whom (3.8+)
  --exhaustive              also scan anonymous mappings and the heap for the interpreter
  --group                   threads with identical Python stacks printed once
  --json                    print one JSON document (schema/pystack-report.schema.json)
  --native                  also show native (C, C++, Rust) frames, merged with the Python frames
  --native-all              --native, plus the threads that never ran Python
  --native-last             --native, but only the native frames after the last Python frame
                            (the last of the three given wins; they need libdw, package libdw1)
  --timeout S               stop after S seconds (e.g. 2, 0.5): the threads read so far are
                            printed with a '(!) Timed out' marker, and the exit code is 10
  -v, --verbose             say how the executable and interpreter were found
  --no-color                no colours`,
  watch: `Usage: pystack watch PID [options]

Takes snapshots of the live process PID for a while and prints, per thread, whether it is
stuck or progressing, its CPU share, its scheduler state (R, S, D) and its distinct stacks
by share of samples (the most common in full). The target is paused only for each
snapshot (--no-block: never) and always resumed; Ctrl-C ends sampling early and still
prints the summary.

A thread is ${STUCK_RULE}. A thread that started or ended during the watch is not stuck;
with fewer than 2 samples nothing is.

Options:
  --duration T    sample for T (5s by default; ms, s, m; a bare number is seconds)
  --samples N     take N samples instead (at most ${MAX_SAMPLES})
  --interval T    wait T between samples (100ms by default; 0 samples back to back)
  --no-block      read without pausing the target
  --native        also sample native frames (--native-all, --native-last as for remote)
  --group         threads whose summaries match (same verdict, same stacks) printed once
  --subprocesses  also every descendant process that runs Python
  --json          one JSON document (schema/pystack-watch.schema.json), = --format json
  --format F      text (default), json, collapsed (flame graph input: 'a;b;c COUNT' lines)
                  or speedscope (a file https://www.speedscope.app opens)
  --timeout S     stop sampling after S seconds (e.g. 2, 0.5), print the summary, exit 10
  -v, --verbose   say how long each snapshot paused the target
  --no-color      no colours`,
  demo: `Usage: pystack demo

Starts a small Python program whose threads deadlock over two locks while a third
waits, prints its stacks with 'pystack remote --locks' (which ends by naming the deadlock and
its two threads), and stops it.`,
} as const;
