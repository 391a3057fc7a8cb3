/**
 * `--group`: threads whose Python stacks are identical, together.
 *
 * @module
 */

import type { PyThread } from "../model.ts";
import { pythonStackKey } from "./stack_key.ts";

/**
 * `items` in groups of equal `keyOf`, largest group first; groups of equal
 * size, and the items inside a group, keep the order they came in.
 *
 * @example
 * ```ts
 * import { groupBy } from "./group_threads.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(groupBy(["a1", "b1", "a2"], (s) => s[0]!), [["a1", "a2"], ["b1"]]);
 * ```
 */
export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return [...groups.values()].sort((a, b) => b.length - a.length);
}

/** Threads with identical Python stacks (file, function, line of every frame), largest group first. */
export function groupThreads<T extends Pick<PyThread, "frames">>(threads: readonly T[]): T[][] {
  return groupBy(threads, (t) => pythonStackKey(t.frames));
}

/** `N threads: TID (name), TID (name), …`. */
export function groupTitle(threads: readonly Pick<PyThread, "tid" | "name">[]): string {
  const who = threads.map((t) => `${t.tid}${t.name === undefined ? "" : ` (${t.name})`}`);
  return `${threads.length} thread${threads.length === 1 ? "" : "s"}: ${who.join(", ")}`;
}
