/**
 * Which OS thread each Python thread state belongs to, as pystack's PID
 * namespace numbers it (the host's, for a process in a container), and as
 * the target's own namespace numbers it when that differs.
 *
 * Three sources, best first:
 * - registers: a thread's `fs_base` is its `pthread_t` (glibc, x86-64), the
 *   value CPython keeps in `thread_id`; the tracer (live) and `NT_PRSTATUS`
 *   (cores) give `fs_base` with the id pystack sees;
 * - `native_thread_id` (3.11+), which holds the id in the target's namespace;
 * - the `tid` field of glibc's `struct pthread` (before 3.11), also the
 *   target's namespace.
 * Ids of the target's namespace are translated with the `NSpid:` map.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { NamespaceTids } from "../process/namespace_tids.ts";
import { findTidOffset, tidAt } from "./pthread_tids.ts";

/** What is known about the target's threads beyond its memory. */
export interface TidSources {
  /** The thread ids pystack sees (`/proc/PID/task`, or the core's `NT_PRSTATUS`). */
  tids: ReadonlySet<number>;
  /** Host and in-namespace ids of a live target (`/proc/PID/task/TID/status`). */
  namespace?: NamespaceTids;
  /** `pthread_t` (= `fs_base`) of each thread → its id, from registers. */
  byPthread?: ReadonlyMap<bigint, number>;
}

/** One thread state's fields that identify its thread. */
export interface ThreadIdFields {
  /** `thread_id`: the thread's `pthread_t`. */
  pthread: bigint;
  /** `native_thread_id` (3.11+). */
  nativeThreadId?: number;
}

/** A thread's id as pystack sees it, and its id in its own namespace when different. */
export interface ThreadId {
  /** 0 when the thread has finished (its `struct pthread` says so). */
  tid: number;
  nsTid?: number;
}

/** Resolves the ids of `threads` (in order); appends to `warnings` what could not be. */
export function resolveThreadIds(
  mem: MemoryReader,
  sources: TidSources,
  threads: readonly ThreadIdFields[],
  warnings: string[],
): ThreadId[] {
  const { namespace, byPthread } = sources;
  const fromInner = (inner: number): ThreadId => {
    if (inner === 0) return { tid: 0 };
    const host = namespace?.toHost(inner);
    // Not among the threads of a process in another namespace: the thread is gone (its id
    // there means nothing here).
    if (host === undefined) return namespace?.nested ? { tid: 0, nsTid: inner } : { tid: inner };
    return host === inner ? { tid: host } : { tid: host, nsTid: inner };
  };
  const fromRegisters = (host: number, recorded: number | undefined): ThreadId => {
    const inner = namespace?.toInner(host) ?? recorded ?? host;
    return inner === host || inner === 0 ? { tid: host } : { tid: host, nsTid: inner };
  };
  let offset: number | undefined | null = null; // null: not searched yet
  const pthreadOffset = () => {
    if (offset === null) {
      const pthreads = threads.map((t) => t.pthread);
      offset = findTidOffset(mem, pthreads, namespace?.innerTids() ?? sources.tids);
      if (offset === undefined) {
        warnings.push("could not find thread ids in glibc's struct pthread; showing 0");
      }
    }
    return offset;
  };
  return threads.map((t): ThreadId => {
    const registered = byPthread?.get(t.pthread);
    if (t.nativeThreadId !== undefined) {
      if (namespace?.nested) return fromInner(t.nativeThreadId);
      if (registered !== undefined) return fromRegisters(registered, t.nativeThreadId);
      return fromInner(t.nativeThreadId);
    }
    if (registered !== undefined) return fromRegisters(registered, undefined);
    const at = pthreadOffset();
    return at === undefined ? { tid: 0 } : fromInner(tidAt(mem, t.pthread, at));
  });
}
