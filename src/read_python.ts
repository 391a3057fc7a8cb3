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
