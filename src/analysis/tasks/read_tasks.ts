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
import { formatVersion, type PythonRuntime, type TaskRules } from "../../cpython/runtime.ts";
import type { AsyncTask, PyFrame, PyThread, TaskFrame } from "../../model.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { readCString, TypeNames } from "../../cpython/objects.ts";
import { DictReader } from "../../cpython/dicts.ts";
import { ValueRenderer } from "../../cpython/values.ts";
import { setKeys } from "../../cpython/sets.ts";
import { rethrowFatal } from "../../errors.ts";
import { CodeReader } from "../../walk/code_objects.ts";
import { walkFrames } from "../../walk/frames.ts";
import { VariableReader } from "../../walk/variables.ts";
import { type AsyncioDebug, findAsyncioDebug } from "./asyncio_debug.ts";

/** Words of the `_asyncio` module's state looked at for its sets of other tasks (3.14+). */
const STATE_WORDS = 64;
/** Most tasks read (CPython itself caps each 3.14 list at 65,536). */
export const MAX_TASKS = 1_000_000;
/** Most coroutines followed in one task's chain. */
export const MAX_CHAIN = 1024;
/** Most done-callbacks of one task looked at. */
const MAX_CALLBACKS = 4096;
/** Longest task name kept (characters). */
const MAX_NAME = 256;

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
}

/** One interpreter's part of {@linkcode TasksContext}. */
interface InterpreterContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  interp: bigint;
  interpreterId: number;
  /** This interpreter's thread states. */
  threads: readonly PyThread[];
  /** Every thread state of the process (a loop may run in any of them). */
  allThreads: readonly PyThread[];
}

/** The tasks found (undefined when this interpreter's tasks are not read), and why some may be missing. */
export interface TasksResult {
  tasks?: AsyncTask[];
  warnings: string[];
}

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** A task before its chain and edges are read. */
interface RawTask {
  id: bigint;
  /** OS thread id of the thread running its loop, when known. */
  thread?: number;
  /** The task its thread runs now. */
  current: boolean;
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
    const where = interpreters.length > 1 ? ` (interpreter ${id})` : "";
    const one: InterpreterContext = {
      mem: ctx.mem,
      rt: ctx.rt,
      interp: address,
      interpreterId: id,
      threads: ctx.threads.filter((t) => interpreters.length === 1 || t.interpreterId === id),
      allThreads: ctx.threads,
    };
    try {
      const result = new TaskReader(one, rules).read();
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

class TaskReader {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #rules: TaskRules;
  readonly #ctx: InterpreterContext;
  readonly #types: TypeNames;
  readonly #dicts: DictReader;
  readonly #values: ValueRenderer;
  readonly #codes: CodeReader;
  readonly #variables: VariableReader;
  #debug: AsyncioDebug | undefined;
  readonly #warnings: string[] = [];

  constructor(ctx: InterpreterContext, rules: TaskRules) {
    this.#ctx = ctx;
    this.#mem = ctx.mem;
    this.#rt = ctx.rt;
    this.#rules = rules;
    this.#types = new TypeNames(ctx.mem, ctx.rt);
    this.#dicts = new DictReader(ctx.mem, ctx.rt);
    this.#values = new ValueRenderer(ctx.mem, ctx.rt);
    this.#codes = new CodeReader(ctx.mem, ctx.rt);
    this.#variables = new VariableReader(ctx.mem, ctx.rt, this.#values);
  }

  #word(address: bigint): bigint {
    return new DataView(this.#mem.read(address, 8).buffer).getBigUint64(0, true);
  }

  /** The bytes of the task object at `id`, read once (every field is read from them). */
  readonly #taskBytes = new Map<bigint, DataView>();

  #taskView(id: bigint): DataView {
    let view = this.#taskBytes.get(id);
    if (view === undefined) {
      const size = this.#debug?.task.size ?? this.#rules.layout!.task.size;
      const bytes = this.#mem.read(id, size);
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#taskBytes.set(id, view);
    }
    return view;
  }

  /** A pointer field of the task at `id`. */
  #taskWord(id: bigint, offset: number): bigint {
    return this.#taskView(id).getBigUint64(offset, true);
  }

  /** Tasks of the pure-Python `Task` class (or of any class not derived from `_asyncio.Task`). */
  readonly #pyTasks = new Set<bigint>();

  /**
   * A field of a task: from the C struct, or, for a pure-Python task, its instance attribute
   * (`_name`, `_coro`, `_fut_waiter`, `_loop`); 0n when absent.
   */
  #taskField(id: bigint, field: "name" | "coro" | "fut_waiter" | "loop"): bigint {
    if (this.#pyTasks.has(id)) {
      return this.#dicts.attribute(id, `_${field}`, this.#types) ?? 0n;
    }
    if (this.#debug !== undefined) {
      if (field === "name" || field === "coro") return this.#taskWord(id, this.#debug.task[field]);
      return 0n; // not described by AsyncioDebug
    }
    return this.#taskWord(id, this.#rules.layout!.task[field]);
  }

  /** The attribute `name` of `obj`'s instance dict, else of its class or a base (bounded). */
  #attributeOrClass(obj: bigint, name: string): bigint | undefined {
    const own = this.#dicts.attribute(obj, name, this.#types);
    if (own !== undefined) return own;
    const typeLayout = this.#rt.layout.structs.type!;
    let type = this.#word(obj + BigInt(this.#rt.layout.structs.object!.fields.type!.offset));
    for (let depth = 0; depth < 32 && type !== 0n; depth++) {
      const t = readStruct(this.#mem, type, typeLayout);
      const dict = t.ptr("dict");
      const value = dict === 0n ? undefined : this.#dicts.lookup(dict, name, this.#types);
      if (value !== undefined) return value;
      type = t.ptr("base");
    }
    return undefined;
  }

  /** A pure-Python task: it has a `_coro` attribute and a `_state` (instance or class). */
  #isPendingPyTask(obj: bigint): boolean {
    if (this.#dicts.attribute(obj, "_coro", this.#types) === undefined) return false;
    const state = this.#attributeOrClass(obj, "_state");
    if (state === undefined || this.#values.strValue(state, 16) !== "PENDING") return false;
    this.#pyTasks.add(obj);
    return true;
  }

  #typeName(obj: bigint): string {
    const offset = this.#rt.layout.structs.object!.fields.type!.offset;
    return this.#types.of(this.#word(obj + BigInt(offset))).name;
  }

  /** Coroutine names (`gi_qualname`), by the address of the str. */
  readonly #names = new Map<bigint, string>();

  #qualname(address: bigint): string {
    let name = this.#names.get(address);
    if (name === undefined) {
      name = this.#values.strValue(address, MAX_NAME) ?? "???";
      if (this.#names.size < 100_000) this.#names.set(address, name);
    }
    return name;
  }

  #module(name: string): bigint | undefined {
    const interp = readStruct(this.#mem, this.#ctx.interp, this.#rt.layout.structs.interp!);
    const modules = interp.ptr("modules");
    return modules === 0n ? undefined : this.#dicts.lookup(modules, name, this.#types);
  }

  #moduleGlobal(module: bigint, name: string): bigint | undefined {
    const dict = readStruct(this.#mem, module, this.#rt.layout.structs.module!).ptr("dict");
    return dict === 0n ? undefined : this.#dicts.lookup(dict, name, this.#types);
  }

  read(): { tasks: AsyncTask[]; warnings: string[] } {
    const tasksModule = this.#module("asyncio.tasks");
    if (tasksModule === undefined) return { tasks: [], warnings: [] };
    const raw = this.#rules.registry === "thread_lists"
      ? this.#fromThreadLists()
      : this.#fromRegistry(tasksModule);
    const tasks = raw.map((r) => this.#readTask(r));
    if (this.#rules.awaitedBy === "callbacks") {
      this.#rebuildAwaitedBy(tasks, tasks);
    } else if (this.#pyTasks.size > 0) {
      // 3.14+ record who awaits native futures only: rebuild it for the pure-Python tasks.
      this.#rebuildAwaitedBy(tasks, tasks.filter((t) => this.#pyTasks.has(t.id)));
    }
    return { tasks, warnings: this.#warnings };
  }

  // ---- Finding the tasks ---------------------------------------------------------------------

  /** 3.8 to 3.13: `_all_tasks`, or `_scheduled_tasks` and `_eager_tasks`, of `asyncio.tasks`. */
  #fromRegistry(module: bigint): RawTask[] {
    const found: bigint[] = [];
    const names = this.#rules.registry === "all_tasks"
      ? ["_all_tasks"]
      : ["_scheduled_tasks", "_eager_tasks"];
    for (const name of names) {
      const registry = this.#moduleGlobal(module, name);
      if (registry === undefined) {
        this.#warnings.push(`asyncio.tasks.${name} not found`);
        continue;
      }
      found.push(...this.#weakSetOrSet(registry));
    }
    const pending = [...new Set(found)].filter((t) => this.#isPendingTask(t));
    // The task each loop runs now: `_current_tasks` maps loops to tasks.
    const current = new Set<bigint>();
    const currentTasks = this.#moduleGlobal(module, "_current_tasks");
    if (currentTasks !== undefined) {
      try {
        for (const [, task] of this.#dicts.items(currentTasks, MAX_TASKS).items) current.add(task);
      } catch (e) {
        rethrowFatal(e);
        this.#warnings.push(`asyncio.tasks._current_tasks unreadable: ${(e as Error).message}`);
      }
    }
    const loops = this.#runningLoops();
    return pending.slice(0, MAX_TASKS).map((id) => {
      const raw: RawTask = { id, current: current.has(id) };
      try {
        const thread = loops.get(this.#taskField(id, "loop"));
        if (thread !== undefined) raw.thread = thread;
      } catch (e) {
        rethrowFatal(e);
      }
      return raw;
    });
  }

  /** The objects of a WeakSet (its `data`, a set of weak references) or of a set. */
  #weakSetOrSet(obj: bigint): bigint[] {
    const type = this.#typeName(obj);
    if (type === "set") return setKeys(this.#mem, this.#rt, obj);
    const data = this.#dicts.attribute(obj, "data", this.#types);
    if (data === undefined) throw new TypeError(`a ${type} without data`);
    const weakref = this.#rt.layout.structs.weakref!;
    const objects: bigint[] = [];
    for (const ref of setKeys(this.#mem, this.#rt, data)) {
      try {
        const target = readStruct(this.#mem, ref, weakref).ptr("object");
        if (target !== 0n) objects.push(target);
      } catch (e) {
        rethrowFatal(e);
      }
    }
    return objects;
  }

  #isPendingTask(obj: bigint): boolean {
    try {
      if (!this.#isCTask(obj)) return this.#isPendingPyTask(obj);
      return this.#taskView(obj).getInt32(this.#rules.layout!.task.state, true) === 0;
    } catch (e) {
      rethrowFatal(e);
      return false;
    }
  }

  /** An `_asyncio.Task` or an instance of a subclass of it. */
  #isCTask(obj: bigint): boolean {
    const typeLayout = this.#rt.layout.structs.type!;
    let type = readStruct(this.#mem, obj, this.#rt.layout.structs.object!).ptr("type");
    for (let depth = 0; depth < 64 && type !== 0n; depth++) {
      if (this.#types.of(type).name === "_asyncio.Task") return true;
      type = readStruct(this.#mem, type, typeLayout).ptr("base");
    }
    return false;
  }

  /** Running loop → OS thread id, for each thread running an event loop (3.8 to 3.13). */
  #runningLoops(): Map<bigint, number> {
    const loops = new Map<bigint, number>();
    const threadLayout = this.#rt.layout.structs.thread!;
    for (const t of this.#ctx.allThreads) {
      try {
        let loop: bigint | undefined;
        if (this.#rules.runningLoop === "after_thread_state") {
          loop = this.#word(t.threadStateAddress + BigInt(threadLayout.size));
        } else {
          const dict = readStruct(this.#mem, t.threadStateAddress, threadLayout).ptr("dict");
          const value = dict === 0n
            ? undefined
            : this.#dicts.lookup(dict, "__asyncio_running_event_loop__", this.#types);
          // Up to 3.11 a `_RunningLoopHolder {HEAD; rl_loop; rl_pid}`; from 3.12 the loop.
          loop = value !== undefined && this.#rules.runningLoop === "dict_holder"
            ? this.#word(value + 16n)
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
  #fromThreadLists(): RawTask[] {
    const debug = findAsyncioDebug(this.#mem, this.#rt, this.#module("_asyncio"));
    if (typeof debug === "string") {
      this.#warnings.push(`asyncio tasks not found: ${debug}`);
      return [];
    }
    this.#debug = debug;
    const raw: RawTask[] = [];
    const seen = new Set<bigint>();
    const list = (head: bigint, where: string, thread: number | undefined, current: bigint) => {
      let node = this.#word(head);
      let count = 0;
      while (node !== head) {
        if (node === 0n) {
          this.#warnings.push(`the task list of ${where} is broken (a null link)`);
          return;
        }
        if (count++ >= MAX_TASKS || seen.has(node)) {
          this.#warnings.push(`the task list of ${where} does not end: stopped after ${count}`);
          return;
        }
        seen.add(node);
        const id = node - BigInt(debug.task.node);
        raw.push({ id, current: id === current, ...(thread === undefined ? {} : { thread }) });
        node = this.#word(node);
      }
    };
    for (const t of this.#ctx.threads) {
      const where = `thread ${t.tid}`;
      try {
        const current = this.#word(t.threadStateAddress + BigInt(debug.thread.runningTask));
        list(
          t.threadStateAddress + BigInt(debug.thread.tasksHead),
          where,
          t.tid === 0 ? undefined : t.tid,
          current,
        );
      } catch (e) {
        rethrowFatal(e);
        this.#warnings.push(`the task list of ${where} is unreadable: ${(e as Error).message}`);
      }
    }
    try {
      list(this.#ctx.interp + BigInt(debug.interp.tasksHead), "finished threads", undefined, 0n);
    } catch (e) {
      rethrowFatal(e);
      this.#warnings.push(`the interpreter's task list is unreadable: ${(e as Error).message}`);
    }
    raw.push(...this.#otherTasks(debug));
    return raw;
  }

  /**
   * 3.14+: tasks not derived from `_asyncio.Task` are kept apart: the pure-Python `Task`
   * registers itself in `asyncio.tasks._scheduled_tasks` (a WeakSet) and `_eager_tasks` (a set),
   * other classes through `_asyncio` in a WeakSet and a set of its module state that no module
   * attribute exposes (the state's words that point at one are looked into). Only pending
   * pure-Python-like tasks are kept; their thread is the one running their loop.
   */
  #otherTasks(debug: AsyncioDebug): RawTask[] {
    const sets: bigint[] = [];
    const tasksModule = this.#module("asyncio.tasks");
    for (const name of ["_scheduled_tasks", "_eager_tasks"]) {
      const registry = tasksModule === undefined
        ? undefined
        : this.#moduleGlobal(tasksModule, name);
      if (registry !== undefined) sets.push(registry);
    }
    const module = this.#module("_asyncio");
    const state = module === undefined
      ? 0n
      : readStruct(this.#mem, module, this.#rt.layout.structs.module_state!).ptr("state");
    if (state !== 0n) {
      const words = this.#mem.read(state, STATE_WORDS * 8);
      const view = new DataView(words.buffer, words.byteOffset, words.byteLength);
      for (let i = 0; i < STATE_WORDS; i++) {
        const p = view.getBigUint64(i * 8, true);
        if (p !== 0n && p % 8n === 0n) sets.push(p);
      }
    }
    const found = new Set<bigint>();
    for (const p of sets) {
      try {
        const type = this.#typeName(p);
        if (type !== "WeakSet" && type !== "set") continue;
        for (const t of this.#weakSetOrSet(p)) {
          if (!this.#isCTask(t) && this.#isPendingPyTask(t)) found.add(t);
        }
      } catch (e) {
        rethrowFatal(e);
      }
    }
    if (found.size === 0) return [];
    const loops = new Map<bigint, number>();
    const current = new Set<bigint>();
    for (const t of this.#ctx.allThreads) {
      try {
        const loop = this.#word(t.threadStateAddress + BigInt(debug.thread.runningLoop));
        if (loop !== 0n && t.tid !== 0) loops.set(loop, t.tid);
        current.add(this.#word(t.threadStateAddress + BigInt(debug.thread.runningTask)));
      } catch (e) {
        rethrowFatal(e);
      }
    }
    return [...found].slice(0, MAX_TASKS).map((id) => {
      const thread = loops.get(this.#taskField(id, "loop"));
      return { id, current: current.has(id), ...(thread === undefined ? {} : { thread }) };
    });
  }

  // ---- One task --------------------------------------------------------------------------------

  #readTask(raw: RawTask): AsyncTask {
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
      task.name = this.#taskName(this.#taskField(raw.id, "name"));
    } catch (e) {
      rethrowFatal(e);
      task.partial = `its name is unreadable`;
    }
    try {
      const coro = this.#taskField(raw.id, "coro");
      this.#chain(task, coro);
    } catch (e) {
      rethrowFatal(e);
      task.partial = `its coroutine is unreadable: ${(e as Error).message}`;
    }
    if (task.awaiting === undefined && this.#rules.layout !== undefined && !task.current) {
      // What the task's last step blocked on (cleared when it runs again).
      try {
        const waiter = this.#taskField(raw.id, "fut_waiter");
        if (waiter !== 0n) task.awaiting = { type: this.#typeName(waiter), address: waiter };
      } catch (e) {
        rethrowFatal(e);
      }
    }
    if (this.#debug !== undefined) this.#storedAwaitedBy(task);
    return task;
  }

  /** A task's name: a `str`, or from 3.12 an int N standing for `Task-N`. */
  #taskName(obj: bigint): string {
    const text = this.#values.strValue(obj, MAX_NAME);
    if (text !== undefined) return text;
    const n = this.#values.intValue(obj);
    if (n !== undefined) return `Task-${n}`;
    throw new TypeError(`task name at ${hex(obj)} is neither a str nor an int`);
  }

  /** Follows the coroutine chain from `coro`: frames outermost first, then what it awaits. */
  #chain(task: AsyncTask, coro: bigint): void {
    const genLayout = this.#rt.layout.structs.gen!;
    const seen = new Set<bigint>();
    let obj = coro;
    let last: PyFrame | undefined;
    while (obj !== 0n) {
      if (seen.has(obj) || seen.size >= MAX_CHAIN) {
        task.partial = `its coroutine chain loops back to ${hex(obj)}`;
        return;
      }
      seen.add(obj);
      const type = this.#typeName(obj);
      if (type === "_asyncio.FutureIter") {
        const future = this.#word(obj + BigInt(this.#futureIterOffset()));
        task.awaiting = { type: this.#typeName(future), address: future };
        const until = last === undefined ? undefined : this.#sleepDeadline(last);
        if (until !== undefined) task.awaiting.sleepUntil = until;
        return;
      }
      if (type !== "coroutine" && type !== "generator") {
        task.awaiting = { type, address: obj };
        return;
      }
      const gen = readStruct(this.#mem, obj, genLayout);
      const frame = gen.has("iframe") ? gen.addressOf("iframe") : gen.ptr("frame");
      if (frame === 0n) return; // finished
      const name = this.#qualname(gen.ptr("qualname"));
      const walked = walkFrames(
        { mem: this.#mem, rt: this.#rt, codes: this.#codes, types: this.#types },
        frame,
      ).frames;
      // A suspended coroutine's frame links to nothing; a running one to its caller's.
      const own = walked.at(-1);
      last = own;
      task.coroutineStack.push(
        {
          function: name,
          file: own?.file ?? "???",
          line: own?.location.line ?? 0,
        } satisfies TaskFrame,
      );
      const running = this.#rules.executingState !== undefined
        ? gen.int("frame_state") === this.#rules.executingState
        : walked.length > 1 || task.current;
      if (running) return; // its awaitee is not on its stack: it is running
      obj = this.#awaitee(frame);
    }
  }

  /**
   * The deadline of `asyncio.sleep` suspended in `frame`, in loop time: its local `h`, the
   * `TimerHandle` that will wake it, keeps it in the `__slots__` attribute `_when`.
   */
  /** Offset of `_when` in instances of each `TimerHandle` type (0: none). */
  readonly #whenOffsets = new Map<bigint, number>();

  #sleepDeadline(frame: PyFrame): number | undefined {
    if (frame.function !== "sleep" || !/[/\\]asyncio[/\\]tasks\.py$/.test(frame.file)) {
      return undefined;
    }
    try {
      const structs = this.#rt.layout.structs;
      const handle = this.#variables.local(frame, "h");
      if (handle === undefined || this.#typeName(handle) !== "TimerHandle") return undefined;
      const type = this.#word(handle + BigInt(structs.object!.fields.type!.offset));
      let offset = this.#whenOffsets.get(type);
      if (offset === undefined) {
        offset = 0;
        const descriptor = this.#attributeOrClass(handle, "_when");
        if (descriptor !== undefined && this.#typeName(descriptor) === "member_descriptor") {
          const member = readStruct(this.#mem, descriptor, structs.memberdescr!).ptr("member");
          const found = readStruct(this.#mem, member, structs.memberdef!).int("offset");
          if (found >= 16 && found <= 4096 && found % 8 === 0) offset = found;
        }
        this.#whenOffsets.set(type, offset);
      }
      if (offset === 0) return undefined;
      const when = this.#word(handle + BigInt(offset));
      if (this.#typeName(when) !== "float") return undefined;
      return readStruct(this.#mem, when, structs.float!).f64("value");
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  #futureIterOffset(): number {
    // `futureiterobject {PyObject_HEAD; FutureObj *future; }` in every version.
    return this.#rules.layout?.futureIterFuture ?? 16;
  }

  /** The top of a suspended frame's value stack: what it awaits (0n when nothing). */
  #awaitee(frame: bigint): bigint {
    const f = readStruct(this.#mem, frame, this.#rt.layout.structs.frame!);
    switch (this.#rules.awaitee) {
      case "stack_top": {
        const top = f.ptr("stack_top");
        return top === 0n ? 0n : this.#word(top - 8n);
      }
      case "value_stack": {
        const depth = f.int("stack_depth");
        return depth <= 0 || depth > 1 << 20
          ? 0n
          : this.#word(f.ptr("value_stack") + BigInt((depth - 1) * 8));
      }
      case "stacktop_index": {
        const top = f.int("stacktop");
        return top <= 0 || top > 1 << 20
          ? 0n
          : this.#word(f.addressOf("localsplus") + BigInt((top - 1) * 8));
      }
      case "stackpointer": {
        const sp = f.ptr("stacktop");
        if (sp <= f.addressOf("localsplus")) return 0n;
        let ref = this.#word(sp - 8n);
        // 3.15 (seen on 3.15.2) suspends with a null reference above the awaited object.
        if ((ref & ~3n) === 0n && sp - 8n > f.addressOf("localsplus")) ref = this.#word(sp - 16n);
        // A tagged int (low bits 3) is not an object.
        return (ref & 3n) === 3n ? 0n : ref & ~3n;
      }
    }
  }

  // ---- Who awaits whom -----------------------------------------------------------------------

  /** 3.14+: `task_awaited_by`, one waiter or a set of them. */
  #storedAwaitedBy(task: AsyncTask): void {
    const d = this.#debug!;
    try {
      if (this.#pyTasks.has(task.id)) {
        // A pure-Python future keeps them in `__asyncio_awaited_by` (a set, or None).
        const awaited = this.#dicts.attribute(task.id, "_Future__asyncio_awaited_by", this.#types);
        if (awaited !== undefined && this.#typeName(awaited) === "set") {
          task.awaitedBy = setKeys(this.#mem, this.#rt, awaited);
        }
        return;
      }
      const awaitedBy = this.#taskWord(task.id, d.task.awaitedBy);
      if (awaitedBy === 0n) return;
      const isSet = this.#taskView(task.id).getUint8(d.task.awaitedByIsSet) !== 0;
      task.awaitedBy = isSet ? setKeys(this.#mem, this.#rt, awaitedBy) : [awaitedBy];
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
  #rebuildAwaitedBy(tasks: AsyncTask[], children: AsyncTask[]): void {
    const ids = new Set(tasks.map((t) => t.id));
    const waitingOn = new Map<bigint, bigint[]>();
    for (const t of tasks) {
      if (t.current) continue;
      try {
        const waiter = this.#taskField(t.id, "fut_waiter");
        if (waiter !== 0n) waitingOn.set(waiter, [...(waitingOn.get(waiter) ?? []), t.id]);
      } catch (e) {
        rethrowFatal(e);
      }
    }
    for (const t of children) {
      const parents = new Set<bigint>([...t.awaitedBy, ...(waitingOn.get(t.id) ?? [])]);
      try {
        for (const callback of this.#callbacks(t.id)) {
          for (const parent of this.#parentsThrough(callback, waitingOn)) {
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
  #callbacks(task: bigint): bigint[] {
    const layout = this.#rules.layout!;
    const callbacks: bigint[] = [];
    const python = this.#pyTasks.has(task);
    const first = python ? 0n : this.#taskWord(task, layout.task.callback0);
    if (first !== 0n) callbacks.push(first);
    const list = python
      ? this.#dicts.attribute(task, "_callbacks", this.#types) ?? 0n
      : this.#taskWord(task, layout.task.callbacks);
    if (list === 0n || this.#typeName(list) !== "list") return callbacks;
    const l = readStruct(this.#mem, list, this.#rt.layout.structs.list!);
    const size = l.int("size");
    if (size < 0 || size > MAX_CALLBACKS) throw new TypeError(`${size} callbacks`);
    const items = l.ptr("item");
    const tuple = this.#rt.layout.structs.tuple!;
    for (let i = 0; i < size; i++) {
      const pair = this.#word(items + BigInt(i * 8));
      if (pair === 0n) continue;
      callbacks.push(this.#word(readStruct(this.#mem, pair, tuple).addressOf("item")));
    }
    return callbacks;
  }

  #parentsThrough(callback: bigint, waitingOn: Map<bigint, bigint[]>): bigint[] {
    const type = this.#typeName(callback);
    const structs = this.#rt.layout.structs;
    if (type === "builtin_function_or_method") {
      // 3.10+: `task_wakeup`, bound to the waiting task.
      const f = readStruct(this.#mem, callback, structs.cfunction!);
      const ml = f.ptr("ml");
      const name = ml === 0n
        ? ""
        : readCString(this.#mem, readStruct(this.#mem, ml, structs.methoddef!).ptr("name"));
      return name === "task_wakeup" ? [f.ptr("self")] : [];
    }
    if (type === "_asyncio.TaskWakeupMethWrapper") {
      return [this.#word(callback + BigInt(this.#rules.layout!.wakeupWrapperTask ?? 16))];
    }
    if (type === "method") {
      const m = readStruct(this.#mem, callback, structs.method!);
      const self = m.ptr("self");
      const parent = this.#typeName(self) === "TaskGroup"
        ? this.#dicts.attribute(self, "_parent_task", this.#types)
        : undefined;
      return parent === undefined ? [self] : [parent];
    }
    if (type === "functools.partial") {
      // `wait_for` up to 3.11: `partial(_release_waiter, waiter)`; the parent waits on `waiter`.
      const offset = this.#rules.layout?.partialArgs;
      if (offset === undefined) return [];
      const args = this.#word(callback + BigInt(offset));
      const t = readStruct(this.#mem, args, structs.tuple!);
      if (t.int("size") < 1) return [];
      return waitingOn.get(this.#word(t.addressOf("item"))) ?? [];
    }
    if (type === "function") {
      // gather's `_done_callback`, wait's `_on_completion`, shield's `_inner_done_callback`:
      // a closure cell holds the future the parent task waits on.
      const closure = readStruct(this.#mem, callback, structs.function_closure!).ptr("closure");
      if (closure === 0n) return [];
      const t = readStruct(this.#mem, closure, structs.tuple!);
      const size = t.int("size");
      if (size < 0 || size > 256) return [];
      const parents: bigint[] = [];
      for (let i = 0; i < size; i++) {
        const cell = this.#word(t.addressOf("item") + BigInt(i * 8));
        const value = cell === 0n ? 0n : readStruct(this.#mem, cell, structs.cell!).ptr("ref");
        parents.push(...(waitingOn.get(value) ?? []));
      }
      return parents;
    }
    return [];
  }
}
