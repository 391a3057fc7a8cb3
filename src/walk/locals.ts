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
  /** The interpreter state the threads belong to (when `interpreters` is not given). */
  interp: bigint;
  /**
   * Every interpreter walked, by id: each thread's Python name is then looked up in the
   * `threading` module of its own interpreter (a subinterpreter has its own).
   */
  interpreters?: readonly { id: number; address: bigint }[];
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
  const warnings = new Set<string>();
  for (const [interp, own] of byInterpreter(ctx, threads)) {
    const warning = addThreadNames({ ...ctx, interp, values }, own);
    if (warning !== undefined) warnings.add(warning);
  }
  return [...warnings];
}

/**
 * The threads of each interpreter state. A thread whose interpreter is not among
 * `ctx.interpreters` gets no name: the names of another interpreter's `threading` would be
 * wrong for it.
 */
function byInterpreter(ctx: LocalsContext, threads: PyThread[]): Map<bigint, PyThread[]> {
  if (ctx.interpreters === undefined) return new Map([[ctx.interp, threads]]);
  const address = new Map(ctx.interpreters.map((i) => [i.id, i.address]));
  const out = new Map<bigint, PyThread[]>();
  for (const t of threads) {
    const interp = address.get(t.interpreterId);
    if (interp === undefined) continue;
    const own = out.get(interp) ?? [];
    own.push(t);
    out.set(interp, own);
  }
  return out;
}
