/**
 * What a futex a thread sleeps on belongs to, from plain inputs: the address,
 * where the GILs are, the process's threads and the two words read at the
 * address. Pure: the caller reads memory. Rules (glibc, x86-64):
 *
 * - inside a GIL's condition variable or mutex: waiting for that GIL;
 *   inside its `switch_cond`/`switch_mutex`: handing it over (not a wait for a resource);
 * - `*addr` is a thread's id and `addr` lies in that thread's `struct pthread`
 *   (its `fs_base` is the `pthread_t`): `pthread_join` of that thread (`exact`; glibc up to
 *   2.4x waits on `pd->tid`); `addr` in another thread's `struct pthread` with any value:
 *   `pthread_join` too, not `exact` (newer glibc waits on a join-state word there);
 * - `*addr` is 1 or 2 (a locked `pthread_mutex_t`), and `__owner` (`addr + 8`) is
 *   a thread of the process: a mutex held by that thread (recorded in the mutex);
 *   with a `__owner` that is not a thread: a mutex whose owner is unknown;
 * - anything else: an unknown futex (a semaphore, a condition variable…).
 *
 * @module
 */

/** A GIL and where its waiters sleep. */
export interface GilRegion {
  /** Address of the `_gil_runtime_state`. */
  address: bigint;
  /** `[start, end)` of `cond` and `mutex`: GIL waiters sleep there. */
  wait: readonly [bigint, bigint];
  /** `[start, end)` of `switch_cond` and `switch_mutex`: a dropper waits for a taker. */
  handover: readonly [bigint, bigint];
  /** The interpreters using it. */
  interpreterIds: number[];
  /** Thread id of its holder, 0 when not held, undefined when unknown. */
  holderTid: number | undefined;
}

/** One thread of the process, as the rules need it. */
export interface ThreadFacts {
  tid: number;
  /** `fs_base`: the thread's `pthread_t` under glibc. */
  fsBase?: bigint;
}

/** Words read at the futex: `*(u32*)addr` and `*(i32*)(addr + 8)`; undefined when unreadable. */
export interface FutexWords {
  word?: number;
  owner?: number;
}

/** What a futex is. */
export type FutexFact =
  | { kind: "gil"; gil: GilRegion }
  | { kind: "gil_handover"; gil: GilRegion }
  | { kind: "pthread_join"; tid: number; exact: boolean }
  | { kind: "pthread_mutex"; ownerTid?: number; ownerRaw: number }
  | { kind: "unknown" };

/** Largest `struct pthread` considered (glibc 2.36: 2368 bytes). */
const MAX_PTHREAD_SIZE = 0x1000n;
/** `pthread_mutex_t.__owner`. */
export const MUTEX_OWNER_OFFSET = 8n;

/**
 * Classifies the futex at `address`.
 *
 * @example A waiter of a pthread mutex held by thread 31310
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyFutex } from "./futex_rules.ts";
 * const fact = classifyFutex(0x5000n, { word: 2, owner: 31310 }, {
 *   gils: [],
 *   threads: [{ tid: 31310 }, { tid: 31311 }],
 * });
 * assert.deepEqual(fact, { kind: "pthread_mutex", ownerTid: 31310, ownerRaw: 31310 });
 * ```
 */
export function classifyFutex(
  address: bigint,
  words: FutexWords,
  where: { gils: readonly GilRegion[]; threads: readonly ThreadFacts[]; waiter?: number },
): FutexFact {
  for (const gil of where.gils) {
    if (address >= gil.wait[0] && address < gil.wait[1]) return { kind: "gil", gil };
    if (address >= gil.handover[0] && address < gil.handover[1]) {
      return { kind: "gil_handover", gil };
    }
  }
  if (words.word !== undefined && words.word > 0) {
    const joined = where.threads.find((t) =>
      t.tid === words.word && t.fsBase !== undefined && t.fsBase !== 0n &&
      address >= t.fsBase && address - t.fsBase < MAX_PTHREAD_SIZE
    );
    if (joined !== undefined) return { kind: "pthread_join", tid: joined.tid, exact: true };
  }
  const inside = where.threads.find((t) =>
    t.tid !== where.waiter && t.fsBase !== undefined && t.fsBase !== 0n &&
    address >= t.fsBase && address - t.fsBase < MAX_PTHREAD_SIZE
  );
  if (inside !== undefined) return { kind: "pthread_join", tid: inside.tid, exact: false };
  if ((words.word === 1 || words.word === 2) && words.owner !== undefined) {
    const owner = where.threads.find((t) => t.tid === words.owner);
    return owner === undefined
      ? { kind: "pthread_mutex", ownerRaw: words.owner }
      : { kind: "pthread_mutex", ownerTid: owner.tid, ownerRaw: words.owner };
  }
  return { kind: "unknown" };
}

/**
 * The GIL regions of a `_gil_runtime_state` at `address` whose `locked` field
 * is at `lockedOffset` (16 in GIL builds): `cond` follows `locked` and
 * `switch_number`, then `mutex`, `switch_cond`, `switch_mutex`.
 */
export function gilRegion(
  address: bigint,
  lockedOffset: number,
  facts: { interpreterIds: number[]; holderTid: number | undefined },
): GilRegion {
  const cond = address + BigInt(lockedOffset + 16);
  const switchCond = cond + 48n + 40n;
  return {
    address,
    wait: [cond, switchCond],
    handover: [switchCond, switchCond + 48n + 40n],
    ...facts,
  };
}
