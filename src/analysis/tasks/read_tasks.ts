/**
 * `--tasks`: the pending asyncio tasks of an interpreter, read from memory.
 *
 * Where tasks are registered, how a task leads to its coroutines and how "awaited by" is known
 * depend on the version (`TaskRules` in `src/cpython/runtime.ts`): up to 3.13 the registry is a
 * module attribute of `asyncio.tasks` and "awaited by" is rebuilt from the done-callbacks of
 * the awaited tasks; from 3.14 tasks sit in per-thread lists and record who awaits them, all
 * described by the `AsyncioDebug` section (reached through the `_asyncio` module's state).
 * Every loop is bounded; a task that cannot be read whole keeps what was read and a marker.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import { formatVersion, type PythonRuntime } from "../../cpython/runtime.ts";
import type { AsyncTask, PyThread } from "../../model.ts";
import { rethrowFatal } from "../../errors.ts";
import {
  hex,
  type InterpreterContext,
  MAX_NAME,
  type RawTask,
  TaskObjects,
} from "./task_objects.ts";
import { fromRegistry, fromThreadLists } from "./find_tasks.ts";
import { readChain } from "./coroutine_chain.ts";
import { rebuildAwaitedBy, storedAwaitedBy } from "./awaited_by.ts";

/** What {@linkcode readTasks} reads with. */
export interface TasksContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  /** The interpreter state whose `sys.modules` holds asyncio (when `interpreters` is empty). */
  interp: bigint;
  /** Every interpreter of the process (each has its own asyncio; the main one is id 0). */
  interpreters?: readonly { id: number; address: bigint }[];
  /** The walked thread states, of every interpreter (address → OS thread id). */
  threads: readonly PyThread[];
  /** Read while the target runs (`--no-block`): a list may change under the reader. */
  nonBlocking?: boolean;
}

/** The tasks found (undefined when the interpreter's tasks are not read), and what went wrong. */
export interface TasksResult {
  tasks?: AsyncTask[];
  warnings: string[];
}

/**
 * Reads every pending task of every interpreter (each has its own asyncio from 3.12). Returns
 * no tasks (and no warning) when asyncio was never imported; a warning when a registry could
 * not be read; no `tasks` at all, with a warning saying why, for an interpreter whose tasks
 * are not read (before 3.8, free-threaded from 3.14).
 */
export function readTasks(ctx: TasksContext): TasksResult {
  const rules = ctx.rt.tasks;
  if (rules === undefined || ctx.rt.values === undefined) {
    const version = formatVersion(ctx.rt.version);
    const why = ctx.rt.values?.refcount === "split"
      ? `free-threaded builds from 3.14 are not read yet (Python ${version})`
      : `it reads Python 3.8 and later (this is Python ${version})`;
    return { warnings: [`--tasks shows no tasks: ${why}`] };
  }
  const interpreters = ctx.interpreters !== undefined && ctx.interpreters.length > 0
    ? [...ctx.interpreters].sort((a, b) => a.id - b.id)
    : [{ id: 0, address: ctx.interp }];
  const tasks: AsyncTask[] = [];
  const warnings: string[] = [];
  const seen = new Set<bigint>();
  for (const { id, address } of interpreters) {
    const where = (interpreters.length > 1 ? ` (interpreter ${id})` : "") +
      (ctx.nonBlocking === true ? " (read while the target ran: --no-block)" : "");
    const one: InterpreterContext = {
      mem: ctx.mem,
      rt: ctx.rt,
      interp: address,
      interpreterId: id,
      threads: ctx.threads.filter((t) => interpreters.length === 1 || t.interpreterId === id),
      allThreads: ctx.threads,
      ...(ctx.nonBlocking === true ? { nonBlocking: true } : {}),
    };
    try {
      const result = readInterpreter(new TaskObjects(one, rules));
      // Up to 3.11 the registry is one object that every interpreter's asyncio shares.
      for (const t of result.tasks ?? []) {
        if (seen.has(t.id)) continue;
        seen.add(t.id);
        if (id !== 0) t.interpreterId = id;
        tasks.push(t);
      }
      warnings.push(...result.warnings.map((w) => w + where));
    } catch (e) {
      rethrowFatal(e);
      warnings.push(`asyncio tasks unreadable${where}: ${(e as Error).message}`);
    }
  }
  return { tasks, warnings };
}

/** The pending tasks of one interpreter, with their chains and who awaits them. */
function readInterpreter(o: TaskObjects): { tasks: AsyncTask[]; warnings: string[] } {
  const tasksModule = o.module("asyncio.tasks");
  if (tasksModule === undefined) return { tasks: [], warnings: [] };
  const raw = o.rules.registry === "thread_lists"
    ? fromThreadLists(o)
    : fromRegistry(o, tasksModule);
  const tasks = raw.map((r) => readTask(o, r));
  if (o.rules.awaitedBy === "callbacks") {
    rebuildAwaitedBy(o, tasks, tasks);
  } else if (o.pyTasks.size > 0) {
    // 3.14+ record who awaits native futures only: rebuild it for the pure-Python tasks.
    rebuildAwaitedBy(o, tasks, tasks.filter((t) => o.pyTasks.has(t.id)));
  }
  return { tasks, warnings: o.warnings };
}

/** One task: its name, its coroutine chain, what it awaits, who awaits it (3.14+). */
function readTask(o: TaskObjects, raw: RawTask): AsyncTask {
  const task: AsyncTask = {
    id: raw.id,
    name: "???",
    state: "pending", // only pending tasks are listed (3.14+ lists hold no other)
    current: raw.current,
    coroutineStack: [],
    awaitedBy: [],
    ...(raw.thread === undefined ? {} : { thread: raw.thread }),
  };
  try {
    task.name = taskName(o, o.taskField(raw.id, "name"));
  } catch (e) {
    rethrowFatal(e);
    task.partial = `its name is unreadable`;
  }
  try {
    const coro = o.taskField(raw.id, "coro");
    readChain(o, task, coro);
  } catch (e) {
    rethrowFatal(e);
    task.partial = `its coroutine is unreadable: ${(e as Error).message}`;
  }
  if (task.awaiting === undefined && o.rules.layout !== undefined && !task.current) {
    // What the task's last step blocked on (cleared when it runs again).
    try {
      const waiter = o.taskField(raw.id, "fut_waiter");
      if (waiter !== 0n) task.awaiting = { type: o.typeName(waiter), address: waiter };
    } catch (e) {
      rethrowFatal(e);
    }
  }
  if (o.debug !== undefined) storedAwaitedBy(o, task);
  return task;
}

/** A task's name: a `str`, or from 3.12 an int N standing for `Task-N`. */
function taskName(o: TaskObjects, obj: bigint): string {
  const text = o.values.strValue(obj, MAX_NAME);
  if (text !== undefined) return text;
  const n = o.values.intValue(obj);
  if (n !== undefined) return `Task-${n}`;
  throw new TypeError(`task name at ${hex(obj)} is neither a str nor an int`);
}
