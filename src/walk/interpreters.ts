/**
 * Walking every interpreter of the runtime (the main one and each
 * subinterpreter) and the thread states of each. Bounded and cycle-safe: a
 * corrupt interpreter costs its own threads and a warning, never the others.
 *
 * @module
 */

import { rethrowFatal } from "../errors.ts";
import type { InterpreterInfo } from "../model.ts";
import { readStruct, type StructView } from "../cpython/struct_view.ts";
import { type ThreadContext, type ThreadWalk, walkThreads } from "./threads.ts";

/** Most interpreters read from one runtime. */
export const MAX_INTERPRETERS = 4096;

/** Threads of every interpreter (see {@linkcode ThreadWalk}) and the interpreters found. */
export interface InterpretersWalk extends ThreadWalk {
  interpreters: InterpreterInfo[];
  /** `--timeout`: interpreters left unread, the time being up. */
  interpretersSkipped?: boolean;
}

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/**
 * The first interpreter of the runtime's list (the newest): `interpreters.head`
 * of `_PyRuntime` when it is known and readable, else the interpreter found.
 */
function listHead(ctx: ThreadContext): bigint {
  const layout = ctx.rt.layout.structs.runtime;
  if (ctx.runtime === undefined || layout?.fields["interpreters_head"] === undefined) {
    return ctx.interp;
  }
  try {
    const head = readStruct(ctx.mem, ctx.runtime, layout).ptr("interpreters_head");
    return head === 0n ? ctx.interp : head;
  } catch (e) {
    rethrowFatal(e);
    return ctx.interp;
  }
}

/**
 * Reads the thread states of every interpreter in the runtime's list, newest
 * interpreter first (as CPython links them; the main interpreter last), each
 * interpreter's threads newest first. `ctx.interp` is the interpreter that was
 * found and validated; when the list does not reach it (a corrupt list, or no
 * known `_PyRuntime`), it is read as well.
 */
export function walkInterpreters(ctx: ThreadContext): InterpretersWalk {
  const out: InterpretersWalk = {
    threads: [],
    newest: [],
    anchors: [],
    warnings: [],
    interpreters: [],
  };
  const layout = ctx.rt.layout.structs.interp;
  if (layout === undefined) throw new TypeError("Layout has no interpreter state");
  const seen = new Set<bigint>();
  const finalizing = runtimeFinalizing(ctx);
  const visit = (address: bigint): bigint => {
    seen.add(address);
    let next = 0n;
    let id = -1;
    let interp: StructView;
    try {
      interp = readStruct(ctx.mem, address, layout);
      next = interp.ptr("next");
      id = interp.has("id") ? interp.int("id") : 0;
    } catch (e) {
      rethrowFatal(e);
      out.warnings.push(
        `interpreter state at ${hex(address)} is unreadable: it and the interpreters after it ` +
          "in the list are not shown",
      );
      out.interpreters.push({ id, address, threadStates: 0, problem: "unreadable" });
      return 0n;
    }
    const info: InterpreterInfo = { id, address, threadStates: 0 };
    try {
      const walk = walkThreads({ ...ctx, interp: address });
      info.threadStates = walk.threads.length + (walk.unread ?? 0);
      if (walk.unread !== undefined) out.unread = (out.unread ?? 0) + walk.unread;
      const states = new Set(walk.threads.map((t) => t.threadStateAddress));
      const state = lifecycle(interp, states, finalizing);
      if (state !== undefined) info.state = state;
      if (walk.warnings.length > 0) info.problem = walk.warnings.join("; ");
      out.threads.push(...walk.threads);
      out.newest.push(...walk.newest);
      out.anchors.push(...walk.anchors);
      const label = id === 0 ? "the main interpreter" : `interpreter ${id}`;
      out.warnings.push(...walk.warnings.map((w) => `${label}: ${w}`));
    } catch (e) {
      rethrowFatal(e);
      info.problem = (e as Error).message;
      out.warnings.push(`interpreter ${id} at ${hex(address)}: ${(e as Error).message}`);
    }
    out.interpreters.push(info);
    return next;
  };
  for (let address = listHead(ctx); address !== 0n;) {
    if (ctx.deadline?.passed("interpreters")) {
      out.interpretersSkipped = true;
      return out;
    }
    if (seen.has(address)) {
      out.warnings.push(`the interpreter list loops back to ${hex(address)}`);
      break;
    }
    if (seen.size >= MAX_INTERPRETERS) {
      out.warnings.push(`stopped after ${MAX_INTERPRETERS} interpreters`);
      break;
    }
    address = visit(address);
  }
  if (!seen.has(ctx.interp)) {
    if (ctx.deadline?.passed("interpreters")) {
      out.interpretersSkipped = true;
      return out;
    }
    if (seen.size > 0) {
      out.warnings.push(
        `the interpreter list does not reach the interpreter found at ${hex(ctx.interp)}`,
      );
    }
    visit(ctx.interp);
  }
  return out;
}

/**
 * Whether the interpreter is being finalized or not yet fully created. Only
 * values that can be told apart from garbage count: a flag of exactly 1 (or
 * 0), a finalizing thread state that is one of the interpreter's own.
 */
export function lifecycle(
  interp: StructView,
  threadStates: ReadonlySet<bigint>,
  runtimeFinalizing?: bigint,
): InterpreterInfo["state"] {
  // The runtime's `_finalizing`: the thread state running Py_FinalizeEx (the main interpreter's).
  if (runtimeFinalizing !== undefined && threadStates.has(runtimeFinalizing)) return "finalizing";
  if (interp.has("finalizing_tstate")) {
    const tstate = interp.ptr("finalizing_tstate");
    if (tstate !== 0n && threadStates.has(tstate)) return "finalizing";
  }
  if (interp.has("finalizing") && interp.int("finalizing") === 1) return "finalizing";
  if (interp.has("initialized") && interp.int("initialized") === 0) return "initializing";
  return undefined;
}

/** The runtime's `_finalizing` thread state (3.7+), undefined when none or unknown. */
function runtimeFinalizing(ctx: ThreadContext): bigint | undefined {
  const layout = ctx.rt.layout.structs.runtime;
  if (ctx.runtime === undefined || layout?.fields.finalizing?.kind !== "ptr") return undefined;
  try {
    const tstate = readStruct(ctx.mem, ctx.runtime, layout).ptr("finalizing");
    return tstate === 0n ? undefined : tstate;
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/** `-v`: one line per interpreter found. */
export function logInterpreters(
  interpreters: readonly InterpreterInfo[],
  log: (message: string) => void,
): void {
  log(`${interpreters.length} interpreter${interpreters.length === 1 ? "" : "s"} found`);
  for (const i of interpreters) {
    const name = i.id === 0 ? "main interpreter" : `interpreter ${i.id}`;
    const problem = i.problem === undefined ? "" : ` (${i.problem})`;
    const state = i.state === undefined ? "" : `, ${i.state}`;
    log(`  ${name} at ${hex(i.address)}: ${i.threadStates} thread states${state}${problem}`);
  }
}
