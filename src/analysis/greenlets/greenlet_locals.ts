/**
 * `--locals` for suspended greenlets: the same reader as for threads.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
import type { GreenletStack } from "../../model.ts";
import { formatVersion } from "../../cpython/runtime.ts";
import { VariableReader } from "../../walk/variables.ts";

/** Sets `variables` on every frame of `stacks`; returns warnings. */
export function addGreenletLocals(
  ctx: { mem: MemoryReader; rt: PythonRuntime },
  stacks: readonly GreenletStack[],
): string[] {
  if (stacks.length === 0) return [];
  if (ctx.rt.values === undefined) {
    return [`--locals of greenlets is not supported for Python ${formatVersion(ctx.rt.version)}`];
  }
  const reader = new VariableReader(ctx.mem, ctx.rt);
  for (const frame of stacks.flatMap((s) => s.frames)) {
    const variables = reader.read(frame);
    if (variables !== undefined) frame.variables = variables;
  }
  return [];
}
