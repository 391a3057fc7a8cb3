/**
 * `--tasks` in `--json`: the report's `tasks` array, one object per pending task (see
 * `schema/pystack-report.schema.json`, `$defs/task`).
 *
 * @module
 */

import type { AsyncTask } from "../model.ts";

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** One task as JSON: addresses as `"0x…"` strings, unknowns as null. */
export interface JsonTask {
  [key: string]: string | number | boolean | null | object;
  id: string;
  name: string;
  state: string;
  thread: number | null;
  current: boolean;
  coroutineStack: { function: string; file: string; line: number }[];
  awaitedBy: string[];
  awaiting: {
    type: string;
    address: string;
    sleepUntil?: number;
    on?: { what: string; address: string };
  } | null;
  partial: string | null;
  interpreterId: number;
}

/**
 * The JSON objects of `tasks`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tasksJson } from "./tasks_json.ts";
 * const [task] = tasksJson([{ id: 16n, name: "Task-1", state: "pending", current: true,
 *   coroutineStack: [{ function: "main", file: "/app.py", line: 3 }], awaitedBy: [32n] }]);
 * assert.equal(task!.id, "0x10");
 * assert.equal(task!.thread, null);
 * assert.deepEqual(task!.awaitedBy, ["0x20"]);
 * ```
 */
export function tasksJson(tasks: readonly AsyncTask[]): JsonTask[] {
  return tasks.map((t) => ({
    id: hex(t.id),
    name: t.name,
    state: t.state,
    thread: t.thread ?? null,
    current: t.current,
    coroutineStack: t.coroutineStack.map((f) => ({
      function: f.function,
      file: f.file,
      line: f.line,
    })),
    awaitedBy: t.awaitedBy.map(hex),
    awaiting: t.awaiting === undefined ? null : {
      type: t.awaiting.type,
      address: hex(t.awaiting.address),
      ...(t.awaiting.sleepUntil === undefined ? {} : { sleepUntil: t.awaiting.sleepUntil }),
      ...(t.awaiting.on === undefined
        ? {}
        : { on: { what: t.awaiting.on.what, address: hex(t.awaiting.on.address) } }),
    },
    partial: t.partial ?? null,
    interpreterId: t.interpreterId ?? 0,
  }));
}
