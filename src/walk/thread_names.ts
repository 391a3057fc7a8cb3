/**
 * Python thread names (`threading.Thread.name`), read from the target's
 * `threading._active` dict (thread ident → `Thread`), whose idents are the
 * `thread_id` of the thread states. Bounded: a corrupt or missing module only
 * means no names.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import type { PyThread } from "../model.ts";
import { readStruct } from "../cpython/struct_view.ts";
import { TypeNames } from "../cpython/objects.ts";
import { DictReader } from "../cpython/dicts.ts";
import { printable } from "../cpython/repr_format.ts";
import { ValueRenderer } from "../cpython/values.ts";
import { rethrowFatal } from "../errors.ts";

/** Most `threading._active` entries read. */
export const MAX_ACTIVE_THREADS = 100_000;
/** Longest thread name kept (characters). */
export const MAX_THREAD_NAME = 256;

/** What {@linkcode addThreadNames} reads with. */
export interface ThreadNameContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  /** The interpreter state whose `sys.modules` holds `threading`. */
  interp: bigint;
  values?: ValueRenderer;
}

/**
 * Sets `pythonName` on each thread of `threads` that `threading` knows.
 * Returns a warning when the names could not be read, undefined otherwise
 * (also when `threading` was never imported: then there are no names to show).
 */
export function addThreadNames(ctx: ThreadNameContext, threads: PyThread[]): string | undefined {
  const { mem, rt } = ctx;
  const interpLayout = rt.layout.structs.interp;
  const threadLayout = rt.layout.structs.thread;
  const moduleLayout = rt.layout.structs.module;
  if (!interpLayout || !threadLayout || !moduleLayout || rt.values === undefined) return undefined;
  try {
    const types = new TypeNames(mem, rt);
    const dicts = new DictReader(mem, rt);
    const values = ctx.values ?? new ValueRenderer(mem, rt);
    const modules = readStruct(mem, ctx.interp, interpLayout).ptr("modules");
    if (modules === 0n) return undefined;
    const threading = dicts.lookup(modules, "threading", types);
    if (threading === undefined) return undefined;
    const globals = readStruct(mem, threading, moduleLayout).ptr("dict");
    const active = globals === 0n ? undefined : dicts.lookup(globals, "_active", types);
    if (active === undefined) return undefined;
    const byIdent = new Map<bigint, bigint>();
    for (const [key, thread] of dicts.items(active, MAX_ACTIVE_THREADS).items) {
      const ident = values.intValue(key);
      if (ident !== undefined) byIdent.set(BigInt.asUintN(64, ident), thread);
    }
    for (const t of threads) {
      // A thread being started carries its creator's ident until it runs: no name of its own.
      if (t.starting) continue;
      try {
        const ident = BigInt.asUintN(
          64,
          readStruct(mem, t.threadStateAddress, threadLayout).ptr("thread_id"),
        );
        const thread = byIdent.get(ident);
        if (thread === undefined) continue;
        // 2.7's `Thread.__name` is stored under its mangled name.
        const attribute = rt.values.py2 === undefined ? "_name" : "_Thread__name";
        const name = dicts.attribute(thread, attribute, types);
        const text = name === undefined ? undefined : values.strValue(name, MAX_THREAD_NAME);
        if (text !== undefined) t.pythonName = printable(text);
      } catch (e) {
        rethrowFatal(e);
      }
    }
    return undefined;
  } catch (e) {
    rethrowFatal(e);
    return `Python thread names unreadable: ${(e as Error).message}`;
  }
}
