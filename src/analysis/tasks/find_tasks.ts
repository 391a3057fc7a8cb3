/**
 * Finding an interpreter's pending asyncio tasks (`--tasks`): up to 3.13 in the registry
 * `asyncio.tasks` exposes (`_all_tasks`, or `_scheduled_tasks` and `_eager_tasks`), their
 * threads by the running loop of each thread; from 3.14 in each thread's list and the
 * interpreter's (described by `AsyncioDebug`), and other task classes in their own sets.
 *
 * @module
 */

import { readStruct } from "../../cpython/struct_view.ts";
import { rethrowFatal } from "../../errors.ts";
import { type AsyncioDebug, findAsyncioDebug } from "./asyncio_debug.ts";
import { MAX_TASKS, type RawTask, type TaskObjects } from "./task_objects.ts";

/** Words of the `_asyncio` module's state looked at for its sets of other tasks (3.14+). */
const STATE_WORDS = 64;

/** 3.8 to 3.13: `_all_tasks`, or `_scheduled_tasks` and `_eager_tasks`, of `asyncio.tasks`. */
export function fromRegistry(o: TaskObjects, module: bigint): RawTask[] {
  const found: bigint[] = [];
  const names = o.rules.registry === "all_tasks"
    ? ["_all_tasks"]
    : ["_scheduled_tasks", "_eager_tasks"];
  for (const name of names) {
    const registry = o.moduleGlobal(module, name);
    if (registry === undefined) {
      o.warnings.push(`asyncio.tasks.${name} not found`);
      continue;
    }
    found.push(...o.weakSetOrSet(registry));
  }
  const pending = [...new Set(found)].filter((t) => o.isPendingTask(t));
  // The task each loop runs now: `_current_tasks` maps loops to tasks.
  const current = new Set<bigint>();
  const currentTasks = o.moduleGlobal(module, "_current_tasks");
  if (currentTasks !== undefined) {
    try {
      for (const [, task] of o.dicts.items(currentTasks, MAX_TASKS).items) current.add(task);
    } catch (e) {
      rethrowFatal(e);
      o.warnings.push(`asyncio.tasks._current_tasks unreadable: ${(e as Error).message}`);
    }
  }
  const loops = runningLoops(o);
  if (pending.length > MAX_TASKS) o.warnings.push(`stopped after ${MAX_TASKS} tasks`);
  return pending.slice(0, MAX_TASKS).map((id) => {
    const raw: RawTask = { id, current: current.has(id) };
    try {
      const thread = loops.get(o.taskField(id, "loop"));
      if (thread !== undefined) raw.thread = thread;
    } catch (e) {
      rethrowFatal(e);
    }
    return raw;
  });
}

/** Running loop → OS thread id, for each thread running an event loop (3.8 to 3.13). */
function runningLoops(o: TaskObjects): Map<bigint, number> {
  const loops = new Map<bigint, number>();
  const threadLayout = o.rt.layout.structs.thread!;
  for (const t of o.ctx.allThreads) {
    try {
      let loop: bigint | undefined;
      if (o.rules.runningLoop === "after_thread_state") {
        loop = o.word(t.threadStateAddress + BigInt(threadLayout.size));
      } else {
        const dict = readStruct(o.mem, t.threadStateAddress, threadLayout).ptr("dict");
        const value = dict === 0n
          ? undefined
          : o.dicts.lookup(dict, "__asyncio_running_event_loop__", o.types);
        // Up to 3.11 a `_RunningLoopHolder {HEAD; rl_loop; rl_pid}`; from 3.12 the loop.
        loop = value !== undefined && o.rules.runningLoop === "dict_holder"
          ? o.word(value + 16n)
          : value;
      }
      if (loop !== undefined && loop !== 0n && t.tid !== 0) loops.set(loop, t.tid);
    } catch (e) {
      rethrowFatal(e);
    }
  }
  return loops;
}

/** 3.14+: each thread's list of tasks, then the interpreter's (finished threads' tasks). */
export function fromThreadLists(o: TaskObjects): RawTask[] {
  const debug = findAsyncioDebug(o.mem, o.rt, o.module("_asyncio"));
  if (typeof debug === "string") {
    o.warnings.push(`asyncio tasks not found: ${debug}`);
    return [];
  }
  o.debug = debug;
  const raw: RawTask[] = [];
  const seen = new Set<bigint>();
  const list = (head: bigint, where: string, thread: number | undefined, current: bigint) => {
    let node = o.word(head);
    let count = 0;
    while (node !== head) {
      if (node === 0n) {
        o.warnings.push(`the task list of ${where} is broken (a null link)`);
        return;
      }
      if (count++ >= MAX_TASKS || seen.has(node)) {
        o.warnings.push(
          `the task list of ${where} does not end: stopped after ${count}`,
        );
        return;
      }
      seen.add(node);
      const id = node - BigInt(debug.task.node);
      raw.push({ id, current: id === current, ...(thread === undefined ? {} : { thread }) });
      node = o.word(node);
    }
  };
  for (const t of o.ctx.threads) {
    const where = `thread ${t.tid}`;
    try {
      const current = o.word(t.threadStateAddress + BigInt(debug.thread.runningTask));
      list(
        t.threadStateAddress + BigInt(debug.thread.tasksHead),
        where,
        t.tid === 0 ? undefined : t.tid,
        current,
      );
    } catch (e) {
      rethrowFatal(e);
      o.warnings.push(`the task list of ${where} is unreadable: ${(e as Error).message}`);
    }
  }
  try {
    list(o.ctx.interp + BigInt(debug.interp.tasksHead), "finished threads", undefined, 0n);
  } catch (e) {
    rethrowFatal(e);
    o.warnings.push(`the interpreter's task list is unreadable: ${(e as Error).message}`);
  }
  raw.push(...otherTasks(o, debug));
  return raw;
}

/**
 * 3.14+: tasks not derived from `_asyncio.Task` are kept apart: the pure-Python `Task`
 * registers itself in `asyncio.tasks._scheduled_tasks` (a WeakSet) and `_eager_tasks` (a set),
 * other classes through `_asyncio` in a WeakSet and a set of its module state that no module
 * attribute exposes (the state's words that point at one are looked into). Only pending
 * pure-Python-like tasks are kept; their thread is the one running their loop.
 */
function otherTasks(o: TaskObjects, debug: AsyncioDebug): RawTask[] {
  const sets: bigint[] = [];
  const tasksModule = o.module("asyncio.tasks");
  for (const name of ["_scheduled_tasks", "_eager_tasks"]) {
    const registry = tasksModule === undefined ? undefined : o.moduleGlobal(tasksModule, name);
    if (registry !== undefined) sets.push(registry);
  }
  const module = o.module("_asyncio");
  const state = module === undefined
    ? 0n
    : readStruct(o.mem, module, o.rt.layout.structs.module_state!).ptr("state");
  if (state !== 0n) {
    const words = o.mem.read(state, STATE_WORDS * 8);
    const view = new DataView(words.buffer, words.byteOffset, words.byteLength);
    for (let i = 0; i < STATE_WORDS; i++) {
      const p = view.getBigUint64(i * 8, true);
      if (p !== 0n && p % 8n === 0n) sets.push(p);
    }
  }
  const found = new Set<bigint>();
  for (const p of sets) {
    try {
      const type = o.typeName(p);
      if (type !== "WeakSet" && type !== "set") continue;
      for (const t of o.weakSetOrSet(p)) {
        if (!o.isCTask(t) && o.isPendingPyTask(t)) found.add(t);
      }
    } catch (e) {
      rethrowFatal(e);
    }
  }
  if (found.size === 0) return [];
  const loops = new Map<bigint, number>();
  const current = new Set<bigint>();
  for (const t of o.ctx.allThreads) {
    try {
      const loop = o.word(t.threadStateAddress + BigInt(debug.thread.runningLoop));
      if (loop !== 0n && t.tid !== 0) loops.set(loop, t.tid);
      current.add(o.word(t.threadStateAddress + BigInt(debug.thread.runningTask)));
    } catch (e) {
      rethrowFatal(e);
    }
  }
  if (found.size > MAX_TASKS) o.warnings.push(`stopped after ${MAX_TASKS} tasks`);
  return [...found].slice(0, MAX_TASKS).map((id) => {
    const thread = loops.get(o.taskField(id, "loop"));
    return { id, current: current.has(id), ...(thread === undefined ? {} : { thread }) };
  });
}
