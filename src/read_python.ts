/**
 * The Python side of an inspection, the same for a live process and a core:
 * every thread's frames, the exception it handles and, with `--locals`, its
 * variables; each step only while the deadline allows.
 *
 * @module
 */

import type { MemoryReader } from "./memory/memory_reader.ts";
import type { PythonLocation } from "./walk/locate_python.ts";
import { type InterpretersWalk, walkInterpreters } from "./walk/interpreters.ts";
import type { ThreadContext } from "./walk/threads.ts";
import { addExceptions } from "./analysis/exceptions/thread_exceptions.ts";
import { part, type Parts } from "./parts/parts.ts";
import type { Deadline } from "./deadline.ts";

/** What {@linkcode readPython} reads besides the frames. */
export interface ReadPythonOptions {
  /** Also read arguments and local variables (the `locals` part must be loaded). */
  locals?: boolean;
  /** The native mode: with `all`, every OS thread is shown (no thread is left out). */
  native?: string;
  deadline?: Deadline;
}

/** The Python stacks of every thread: frames, exceptions, and with `locals` the variables. */
export function readPython(
  located: PythonLocation,
  mem: MemoryReader,
  options: ReadPythonOptions,
  parts: Parts,
  threads: Pick<ThreadContext, "tids" | "namespace" | "byPthread">,
): { walk: InterpretersWalk; localsWarnings: string[] } {
  const deadline = options.deadline;
  const walk = walkInterpreters({
    ...located,
    mem,
    ...threads,
    ...(deadline === undefined ? {} : { deadline }),
  });
  const unlisted = options.native === "all" ? undefined : unlistedAtShutdown(walk, threads.tids);
  if (unlisted !== undefined) walk.warnings.push(unlisted);
  // No thread at all, and no other word of why (the shutdown's above is one).
  const none = noThreadStates(walk);
  if (none !== undefined) walk.warnings.push(none);
  if (!deadline?.passed("exceptions")) addExceptions({ ...located, mem }, walk.threads);
  const localsWarnings = options.locals && !deadline?.passed("locals")
    ? part(parts, "locals").addLocals(
      { ...located, mem, interpreters: walk.interpreters },
      walk.threads,
      deadline,
    )
    : [];
  return { walk, localsWarnings };
}

/**
 * While an interpreter shuts down, the threads whose states it has already removed (daemon
 * threads lose theirs) are still threads of the process: said, not silently dropped.
 */
export function unlistedAtShutdown(
  walk: Pick<InterpretersWalk, "interpreters" | "threads">,
  tids: ReadonlySet<number>,
): string | undefined {
  const shutting = walk.interpreters.filter((i) => i.state === "finalizing");
  if (shutting.length === 0) return undefined;
  const shown = new Set(walk.threads.map((t) => t.tid));
  const unlisted = [...tids].filter((tid) => !shown.has(tid)).sort((a, b) => a - b);
  if (unlisted.length === 0) return undefined;
  const which = shutting.map((i) => i.id === 0 ? "the main interpreter" : `interpreter ${i.id}`);
  const one = unlisted.length === 1;
  return `${which.join(" and ")} ${shutting.length === 1 ? "is" : "are"} shutting down: ` +
    `thread${one ? "" : "s"} ${unlisted.join(", ")} of the process ${one ? "has" : "have"} ` +
    "no Python thread state and " + (one ? "is" : "are") + " not shown (daemon threads lose " +
    "theirs at shutdown; a thread that never ran Python has none); --native-all shows every " +
    "thread";
}

/**
 * Why a walk that met no trouble shows no thread at all, said as a warning (an empty report
 * with nothing said would read as a tool that failed): the interpreter is being created (a
 * process caught as it starts, or just after an `exec`), or finalized, or has no thread state.
 */
export function noThreadStates(
  walk: Pick<
    InterpretersWalk,
    "interpreters" | "threads" | "warnings" | "unread" | "interpretersSkipped"
  >,
): string | undefined {
  if (
    walk.threads.length > 0 || walk.unread !== undefined || walk.warnings.length > 0 ||
    walk.interpretersSkipped
  ) {
    return undefined;
  }
  const main = walk.interpreters.find((i) => i.id === 0) ?? walk.interpreters[0];
  const why = main?.state === "initializing"
    ? ": the interpreter is still being created (the process is starting, or has just exec'd)"
    : main?.state === "finalizing"
    ? ": the interpreter is being finalized (the process is exiting)"
    : "";
  return `no Python thread state to show${why}`;
}

/**
 * The warnings of an inspection's readers, in the order reports give them (after what the
 * caller says of the target itself): locating, the walk, locals, greenlets, tasks, native
 * frames, locks.
 */
export function readerWarnings(from: {
  located?: { warnings: string[] } | undefined;
  walk: { warnings: string[] };
  localsWarnings: string[];
  greenlets?: { warnings: string[] } | undefined;
  tasks?: { warnings: string[] } | undefined;
  nativeWarnings: string[];
  locks?: { warnings: string[] } | undefined;
}): string[] {
  return [
    ...(from.located?.warnings ?? []),
    ...from.walk.warnings,
    ...from.localsWarnings,
    ...(from.greenlets?.warnings ?? []),
    ...(from.tasks?.warnings ?? []),
    ...from.nativeWarnings,
    ...(from.locks?.warnings ?? []),
  ];
}
