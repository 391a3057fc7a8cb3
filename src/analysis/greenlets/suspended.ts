/**
 * The one entry point the inspectors call: suspended greenlets, only when
 * greenlet's extension is mapped (no cost for other programs).
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
import type { MapEntry } from "../../elf/maps.ts";
import type { InterpreterInfo, PyThread } from "../../model.ts";
import { rethrowFatal } from "../../errors.ts";
import {
  greenletModuleMapped,
  type GreenletPrescan,
  type GreenletWalk,
  prescanGreenlets,
  readGreenlets,
} from "./greenlets.ts";
import { addGreenletLocals } from "./greenlet_locals.ts";

export type { GreenletPrescan, GreenletWalk } from "./greenlets.ts";

/** What {@linkcode suspendedGreenlets} needs. */
export interface SuspendedContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  interp: bigint;
  runtime: bigint | undefined;
  maps: readonly MapEntry[];
  /** Each thread's stack pointer (called only when greenlet is mapped). */
  stackPointers: () => ReadonlyMap<number, bigint>;
  /** Also read the variables of their frames (`--locals`). */
  locals: boolean;
  /** The threads walked: each gets the greenlet it runs (`greenlet`). */
  threads: PyThread[];
  /** The interpreters walked: greenlets are looked for in the main one's GC lists. */
  interpreters?: readonly InterpreterInfo[];
  log?: (message: string) => void;
}

/**
 * For a live target, before pausing it: the greenlet objects, found while it
 * runs, so that the pause covers little more than its youngest GC list.
 * Undefined when it does not use greenlet (or nothing could be found).
 */
export function prescanSuspendedGreenlets(
  ctx: Omit<SuspendedContext, "stackPointers" | "locals" | "threads" | "interpreters">,
): GreenletPrescan | undefined {
  if (!greenletModuleMapped(ctx.maps)) return undefined;
  try {
    return prescanGreenlets({ ...ctx, stackPointers: new Map() });
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/**
 * The suspended greenlets of the target, or undefined when it does not use
 * greenlet (`prescan`: see {@linkcode prescanSuspendedGreenlets}). Never
 * throws for what it reads: a failure becomes a warning.
 */
export function suspendedGreenlets(
  ctx: SuspendedContext,
  prescan?: GreenletPrescan,
): GreenletWalk | undefined {
  if (!greenletModuleMapped(ctx.maps)) return undefined;
  try {
    const interp = ctx.interpreters?.find((i) => i.id === 0)?.address ?? ctx.interp;
    const walk = readGreenlets({ ...ctx, interp, stackPointers: ctx.stackPointers() }, prescan);
    if (ctx.locals) walk.warnings.push(...addGreenletLocals(ctx, walk.greenlets));
    for (const thread of ctx.threads) {
      const running = walk.running.get(thread.tid);
      if (running !== undefined) thread.greenlet = running;
    }
    return walk;
  } catch (e) {
    rethrowFatal(e);
    return {
      greenlets: [],
      running: new Map(),
      warnings: [`greenlets unreadable: ${(e as Error).message}`],
    };
  }
}
