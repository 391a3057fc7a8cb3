/**
 * The exception each thread is handling or raising, with its chain: read from
 * the thread state (see `ExceptionRules` in `src/cpython/runtime.ts`) and
 * described by `src/cpython/exceptions.ts`.
 *
 * The shown exception is the one in flight when there is one (`Raising`),
 * else the one the innermost handler handles (`Handling`). Its chain follows
 * `__cause__` (or, unless suppressed, `__context__`) from each exception to
 * the next, then the exceptions of enclosing handlers not already shown, at
 * most {@linkcode MAX_CHAIN}, each object once.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
import type { ChainedException, PyThread, ThreadException } from "../../model.ts";
import { ExceptionReader } from "../../cpython/exceptions.ts";
import { readStruct, type StructView } from "../../cpython/struct_view.ts";
import { ValueRenderer } from "../../cpython/values.ts";
import { DictReader } from "../../cpython/dicts.ts";
import { TypeNames } from "../../cpython/objects.ts";
import { rethrowFatal } from "../../errors.ts";

/** Most exceptions shown after the first. */
export const MAX_CHAIN = 5;
/** Most `_PyErr_StackItem`s followed from a thread state. */
export const MAX_HANDLERS = 1000;

/** An exception as a thread state holds it: the value, and its type and traceback when apart. */
export interface HeldException {
  value: bigint;
  type?: bigint;
  traceback?: bigint;
}

/** What {@linkcode addExceptions} reads with. */
export interface ExceptionContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  values?: ValueRenderer;
}

/** Sets `exception` on every thread that is handling or raising one. */
export function addExceptions(ctx: ExceptionContext, threads: PyThread[]): void {
  if (ctx.rt.exceptions === undefined) return;
  const reader = new ExceptionReader(ctx.mem, ctx.rt, {
    values: ctx.values ?? new ValueRenderer(ctx.mem, ctx.rt),
  });
  for (const thread of threads) {
    const exception = readThreadException(ctx, reader, thread.threadStateAddress);
    if (exception !== undefined) thread.exception = exception;
  }
}

/** The exception the thread state at `tstate` handles or raises; undefined for none. */
export function readThreadException(
  ctx: ExceptionContext,
  reader: ExceptionReader,
  tstate: bigint,
): ThreadException | undefined {
  const layout = ctx.rt.layout.structs.thread;
  if (layout === undefined) return undefined;
  let ts: StructView;
  try {
    ts = readStruct(ctx.mem, tstate, layout);
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
  const raising = inFlight(ctx, reader, ts);
  const handled = handledExceptions(ctx, reader, ts);
  const first = raising ?? handled.shift();
  if (first === undefined) return undefined;
  return exceptionWithChain(reader, first, handled, raising === undefined ? "handling" : "raising");
}

/** `first` described, with its chain (see the module's documentation). */
export function exceptionWithChain(
  reader: ExceptionReader,
  first: HeldException,
  outer: HeldException[],
  state: ThreadException["state"],
): ThreadException {
  const primary: ThreadException = {
    ...reader.describe(first.value, hints(first)),
    state,
    chain: [],
  };
  const { chain, truncated } = chainOf(reader, first, outer);
  primary.chain = chain;
  if (truncated) primary.chainTruncated = true;
  return primary;
}

/** What {@linkcode readLastException} reads with. */
export interface LastExceptionContext extends ExceptionContext {
  /** The interpreter state whose `sys` is read. */
  interp: bigint;
}

/**
 * The last exception no handler caught, that `sys` keeps (`sys.last_exc`, else
 * `sys.last_value` with `sys.last_type` and `sys.last_traceback`): the interpreter sets it when
 * it prints an uncaught exception, so a core of a process that crashed after that (while it
 * exited, say) still says what ended the program. Undefined when there is none or it cannot be
 * read; `key` names the attribute read.
 */
export function readLastException(
  ctx: LastExceptionContext,
): { exception: ThreadException; key: string } | undefined {
  const layout = ctx.rt.layout.structs.interp;
  if (layout === undefined || !layout.fields["sysdict"]) return undefined;
  const values = ctx.values ?? new ValueRenderer(ctx.mem, ctx.rt);
  const reader = new ExceptionReader(ctx.mem, ctx.rt, { values });
  try {
    const sysdict = readStruct(ctx.mem, ctx.interp, layout).ptr("sysdict");
    if (sysdict === 0n) return undefined;
    const dicts = new DictReader(ctx.mem, ctx.rt);
    const types = new TypeNames(ctx.mem, ctx.rt);
    const names = dicts.lookupAll(
      sysdict,
      ["last_exc", "last_value", "last_type", "last_traceback"],
      types,
    );
    for (const key of ["last_exc", "last_value"]) {
      const value = names.get(key);
      if (value === undefined || reader.isNone(value)) continue;
      const held: HeldException = { value };
      if (key === "last_value") {
        const type = names.get("last_type");
        const traceback = names.get("last_traceback");
        if (type !== undefined) held.type = type;
        if (traceback !== undefined) held.traceback = traceback;
      }
      return { exception: exceptionWithChain(reader, held, [], "uncaught"), key: `sys.${key}` };
    }
  } catch (e) {
    rethrowFatal(e);
  }
  return undefined;
}

function hints(held: HeldException): { type?: bigint; traceback?: bigint } {
  return {
    ...(held.type === undefined ? {} : { type: held.type }),
    ...(held.traceback === undefined ? {} : { traceback: held.traceback }),
  };
}

/** The exception in flight, if any. */
function inFlight(
  ctx: ExceptionContext,
  reader: ExceptionReader,
  ts: StructView,
): HeldException | undefined {
  if (ctx.rt.exceptions?.raising === "current_exception") {
    const value = ts.ptr("current_exception");
    return reader.isNone(value) ? undefined : { value };
  }
  const type = ts.ptr("curexc_type");
  if (type === 0n) return undefined;
  return { value: ts.ptr("curexc_value"), type, traceback: ts.ptr("curexc_traceback") };
}

/** The exceptions being handled, the innermost handler's first. */
function handledExceptions(
  ctx: ExceptionContext,
  reader: ExceptionReader,
  ts: StructView,
): HeldException[] {
  if (ctx.rt.exceptions?.handled === "thread_state") {
    const type = ts.ptr("exc_type");
    if (type === 0n || reader.isNone(type)) return [];
    return [{ value: ts.ptr("exc_value"), type, traceback: ts.ptr("exc_traceback") }];
  }
  const layout = ctx.rt.layout.structs.err_stackitem;
  if (layout === undefined) return [];
  const out: HeldException[] = [];
  const seen = new Set<bigint>();
  let item = ts.ptr("exc_info");
  for (let i = 0; i < MAX_HANDLERS && item !== 0n && !seen.has(item); i++) {
    seen.add(item);
    let it: StructView;
    try {
      it = readStruct(ctx.mem, item, layout);
    } catch (e) {
      rethrowFatal(e);
      break;
    }
    const value = it.ptr("exc_value");
    const type = it.has("exc_type") ? it.ptr("exc_type") : undefined;
    // A generator or handler slot that handles nothing holds NULL or None.
    if (!reader.isNone(value) || (type !== undefined && !reader.isNone(type))) {
      const held: HeldException = { value };
      if (type !== undefined) held.type = type;
      if (it.has("exc_traceback")) held.traceback = it.ptr("exc_traceback");
      out.push(held);
    }
    item = it.ptr("previous_item");
  }
  return out;
}

/** The exceptions linked to `first`, innermost first; see the module's documentation. */
function chainOf(
  reader: ExceptionReader,
  first: HeldException,
  outer: HeldException[],
): { chain: ChainedException[]; truncated: boolean } {
  const seen = new Set<bigint>([first.value]);
  const chain: ChainedException[] = [];
  const pending = [...outer];
  let current = first.value;
  const next = (): { held: HeldException; relation: ChainedException["relation"] } | undefined => {
    const links = reader.links(current);
    if (links.cause !== 0n && !seen.has(links.cause)) {
      return { held: { value: links.cause }, relation: "cause" };
    }
    if (links.cause === 0n && !links.suppressContext && links.context !== 0n) {
      if (!seen.has(links.context)) return { held: { value: links.context }, relation: "context" };
    }
    while (pending.length > 0) {
      const held = pending.shift()!;
      if (!seen.has(held.value)) return { held, relation: "outer" };
    }
    return undefined;
  };
  for (let link = next(); link !== undefined; link = next()) {
    if (chain.length >= MAX_CHAIN) return { chain, truncated: true };
    seen.add(link.held.value);
    chain.push({ ...reader.describe(link.held.value, hints(link.held)), relation: link.relation });
    current = link.held.value;
  }
  return { chain, truncated: false };
}
