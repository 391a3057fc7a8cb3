/**
 * `--locals`: adds frame variables and Python thread names to walked threads.
 * Live processes call it while the target is paused, so the values are a
 * consistent snapshot.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import type { PyThread } from "../model.ts";
import { ValueRenderer } from "../cpython/values.ts";
import { formatVersion } from "../cpython/runtime.ts";
import { VariableReader } from "./variables.ts";
import { addThreadNames } from "./thread_names.ts";
import type { Deadline } from "../deadline.ts";

/** What {@linkcode addLocals} reads with. */
export interface LocalsContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  /** The interpreter state the threads belong to. */
  interp: bigint;
}

/**
 * Sets `variables` on every frame and `pythonName` on every thread that has
 * one. Returns warnings (a version whose objects are not read, unreadable
 * thread names); corrupt objects never throw, they render as `<invalid …>`.
 * Once `deadline` (`--timeout`) has passed, the threads left get no variables.
 */
export function addLocals(
  ctx: LocalsContext,
  threads: PyThread[],
  deadline?: Deadline,
): string[] {
  if (ctx.rt.values === undefined) {
    return [`--locals is not supported for Python ${formatVersion(ctx.rt.version)}`];
  }
  const values = new ValueRenderer(ctx.mem, ctx.rt);
  const reader = new VariableReader(ctx.mem, ctx.rt, values);
  for (const thread of threads) {
    if (deadline?.passed("locals")) return [];
    reader.addTo([thread]);
  }
  const warning = addThreadNames({ ...ctx, values }, threads);
  return warning === undefined ? [] : [warning];
}
