/**
 * Thread ids across PID namespaces. A process in a container has one id per
 * PID namespace it is visible in: the host's (ours, as `/proc` shows it) and
 * the container's (what the process itself, its `struct pthread` and
 * CPython's `native_thread_id` record). The kernel lists them, outermost
 * first, on the `NSpid:` line of `/proc/PID/task/TID/status`.
 *
 * @module
 */

/**
 * The ids on the `NSpid:` line of a `/proc/.../status` text, outermost
 * namespace first (the last one is the id inside the process's own
 * namespace); undefined when the line is missing or malformed.
 *
 * @example A thread of a container
 * ```ts
 * import { parseNsPid } from "./namespace_tids.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseNsPid("Name:\tpython3\nNSpid:\t30141\t10\n"), [30141, 10]);
 * ```
 */
export function parseNsPid(status: string): number[] | undefined {
  const line = /^NSpid:[ \t]*([^\n]*)$/m.exec(status)?.[1];
  if (line === undefined) return undefined;
  const fields = line.trim().split(/[ \t]+/);
  if (fields.length === 0 || fields.length > MAX_NAMESPACE_DEPTH) return undefined;
  const ids = fields.map(Number);
  return ids.every((id) => Number.isInteger(id) && id > 0) ? ids : undefined;
}

/** The kernel nests PID namespaces 32 deep at most. */
const MAX_NAMESPACE_DEPTH = 33;

/**
 * The thread ids of one process as pystack sees them (`host`) and as the
 * process sees them in its own PID namespace (`inner`). In the same
 * namespace both are the same.
 */
export class NamespaceTids {
  readonly #toHost = new Map<number, number>();
  readonly #toInner = new Map<number, number>();
  /** True when some thread's id differs between the two views. */
  readonly nested: boolean;

  /** From pairs of `[hostTid, innerTid]`. */
  constructor(pairs: Iterable<readonly [number, number]>) {
    let nested = false;
    for (const [host, inner] of pairs) {
      this.#toHost.set(inner, host);
      this.#toInner.set(host, inner);
      if (host !== inner) nested = true;
    }
    this.nested = nested;
  }

  /**
   * Reads the `NSpid:` line of every thread `hostTids` of `pid`. A thread
   * whose status cannot be read (it exited) or has no `NSpid:` line (a
   * kernel older than 4.1) is taken to have the same id in both views.
   */
  static read(pid: number, hostTids: Iterable<number>): NamespaceTids {
    const pairs: [number, number][] = [];
    for (const tid of hostTids) {
      let ids: number[] | undefined;
      try {
        ids = parseNsPid(Deno.readTextFileSync(`/proc/${pid}/task/${tid}/status`));
      } catch {
        ids = undefined;
      }
      // ids[0] is the id in the namespace of the /proc we read: ours.
      pairs.push([tid, ids?.at(-1) ?? tid]);
    }
    return new NamespaceTids(pairs);
  }

  /** The host id of the thread whose id in its own namespace is `inner`. */
  toHost(inner: number): number | undefined {
    return this.#toHost.get(inner);
  }

  /** The id, in its own namespace, of the thread whose host id is `host`. */
  toInner(host: number): number | undefined {
    return this.#toInner.get(host);
  }

  /** Every id inside the process's namespace. */
  innerTids(): Set<number> {
    return new Set(this.#toHost.keys());
  }
}
