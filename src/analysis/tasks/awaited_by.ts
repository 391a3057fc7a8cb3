/**
 * Who awaits each task (`--tasks`): stored in the task from 3.14 (`task_awaited_by`); up to 3.13
 * (and for pure-Python tasks on 3.14+) rebuilt from what tasks wait on and from the
 * done-callbacks of the awaited tasks.
 *
 * @module
 */

import type { AsyncTask } from "../../model.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { readCString } from "../../cpython/objects.ts";
import { setKeys } from "../../cpython/sets.ts";
import { rethrowFatal } from "../../errors.ts";
import type { TaskObjects } from "./task_objects.ts";

/** Most done-callbacks of one task looked at. */
const MAX_CALLBACKS = 4096;

/** 3.14+: `task_awaited_by`, one waiter or a set of them. */
export function storedAwaitedBy(o: TaskObjects, task: AsyncTask): void {
  const d = o.debug!;
  try {
    if (o.pyTasks.has(task.id)) {
      // A pure-Python future keeps them in `__asyncio_awaited_by` (a set, or None).
      const awaited = o.dicts.attribute(task.id, "_Future__asyncio_awaited_by", o.types);
      if (awaited !== undefined && o.typeName(awaited) === "set") {
        task.awaitedBy = setKeys(o.mem, o.rt, awaited);
      }
      return;
    }
    const awaitedBy = o.taskWord(task.id, d.task.awaitedBy);
    if (awaitedBy === 0n) return;
    const isSet = o.taskView(task.id).getUint8(d.task.awaitedByIsSet) !== 0;
    task.awaitedBy = isSet ? setKeys(o.mem, o.rt, awaitedBy) : [awaitedBy];
  } catch (e) {
    rethrowFatal(e);
    task.partial ??= "who awaits it is unreadable";
  }
}

/**
 * Up to 3.13: a task T awaits X when T's `fut_waiter` is X, or when one of X's done-callbacks
 * leads to T: the wake-up of T itself (`await X`), a function whose closure holds a future T
 * waits on (`gather`, `wait`, `shield`), a `functools.partial` whose first argument is one
 * (`wait_for` up to 3.11), a bound `TaskGroup._on_task_done` (its parent task).
 */
export function rebuildAwaitedBy(o: TaskObjects, tasks: AsyncTask[], children: AsyncTask[]): void {
  const ids = new Set(tasks.map((t) => t.id));
  const waitingOn = new Map<bigint, bigint[]>();
  for (const t of tasks) {
    if (t.current) continue;
    try {
      const waiter = o.taskField(t.id, "fut_waiter");
      if (waiter !== 0n) waitingOn.set(waiter, [...(waitingOn.get(waiter) ?? []), t.id]);
    } catch (e) {
      rethrowFatal(e);
    }
  }
  for (const t of children) {
    const parents = new Set<bigint>([...t.awaitedBy, ...(waitingOn.get(t.id) ?? [])]);
    try {
      for (const callback of callbacks(o, t.id)) {
        for (const parent of parentsThrough(o, callback, waitingOn)) {
          if (ids.has(parent) && parent !== t.id) parents.add(parent);
        }
      }
    } catch (e) {
      rethrowFatal(e);
      t.partial ??= "its done-callbacks are unreadable";
    }
    t.awaitedBy = [...parents];
  }
}

/** The done-callbacks of a task: `task_callback0`, then the `(callback, context)` list. */
function callbacks(o: TaskObjects, task: bigint): bigint[] {
  const layout = o.rules.layout!;
  const callbacks: bigint[] = [];
  const python = o.pyTasks.has(task);
  const first = python ? 0n : o.taskWord(task, layout.task.callback0);
  if (first !== 0n) callbacks.push(first);
  const list = python
    ? o.dicts.attribute(task, "_callbacks", o.types) ?? 0n
    : o.taskWord(task, layout.task.callbacks);
  if (list === 0n || o.typeName(list) !== "list") return callbacks;
  const l = readStruct(o.mem, list, o.rt.layout.structs.list!);
  const size = l.int("size");
  if (size < 0 || size > MAX_CALLBACKS) throw new TypeError(`${size} callbacks`);
  const items = l.ptr("item");
  const tuple = o.rt.layout.structs.tuple!;
  for (let i = 0; i < size; i++) {
    const pair = o.word(items + BigInt(i * 8));
    if (pair === 0n) continue;
    callbacks.push(o.word(readStruct(o.mem, pair, tuple).addressOf("item")));
  }
  return callbacks;
}

function parentsThrough(
  o: TaskObjects,
  callback: bigint,
  waitingOn: Map<bigint, bigint[]>,
): bigint[] {
  const type = o.typeName(callback);
  const structs = o.rt.layout.structs;
  if (type === "builtin_function_or_method") {
    // 3.10+: `task_wakeup`, bound to the waiting task.
    const f = readStruct(o.mem, callback, structs.cfunction!);
    const ml = f.ptr("ml");
    const name = ml === 0n
      ? ""
      : readCString(o.mem, readStruct(o.mem, ml, structs.methoddef!).ptr("name"));
    return name === "task_wakeup" ? [f.ptr("self")] : [];
  }
  if (type === "_asyncio.TaskWakeupMethWrapper") {
    return [o.word(callback + BigInt(o.rules.layout!.wakeupWrapperTask ?? 16))];
  }
  if (type === "method") {
    const m = readStruct(o.mem, callback, structs.method!);
    const self = m.ptr("self");
    const parent = o.typeName(self) === "TaskGroup"
      ? o.dicts.attribute(self, "_parent_task", o.types)
      : undefined;
    return parent === undefined ? [self] : [parent];
  }
  if (type === "functools.partial") {
    // `wait_for` up to 3.11: `partial(_release_waiter, waiter)`; the parent waits on `waiter`.
    const offset = o.rules.layout?.partialArgs;
    if (offset === undefined) return [];
    const args = o.word(callback + BigInt(offset));
    const t = readStruct(o.mem, args, structs.tuple!);
    if (t.int("size") < 1) return [];
    return waitingOn.get(o.word(t.addressOf("item"))) ?? [];
  }
  if (type === "function") {
    // gather's `_done_callback`, wait's `_on_completion`, shield's `_inner_done_callback`:
    // a closure cell holds the future the parent task waits on.
    const closure = readStruct(o.mem, callback, structs.function_closure!).ptr("closure");
    if (closure === 0n) return [];
    const t = readStruct(o.mem, closure, structs.tuple!);
    const size = t.int("size");
    if (size < 0 || size > 256) return [];
    const parents: bigint[] = [];
    for (let i = 0; i < size; i++) {
      const cell = o.word(t.addressOf("item") + BigInt(i * 8));
      const value = cell === 0n ? 0n : o.values.cellContents(cell);
      parents.push(...(waitingOn.get(value) ?? []));
    }
    return parents;
  }
  return [];
}
