/**
 * Reading asyncio's objects for `--tasks` (see `read_tasks.ts`): words, type names, modules,
 * task fields (of the C struct, or a pure-Python task's attributes), instance or class
 * attributes, WeakSets, and what kind of task an object is. One per interpreter read.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime, TaskRules } from "../../cpython/runtime.ts";
import type { PyThread } from "../../model.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { TypeNames } from "../../cpython/objects.ts";
import { DictReader } from "../../cpython/dicts.ts";
import { ValueRenderer } from "../../cpython/values.ts";
import { setKeys } from "../../cpython/sets.ts";
import { rethrowFatal } from "../../errors.ts";
import { CodeReader } from "../../walk/code_objects.ts";
import { VariableReader } from "../../walk/variables.ts";
import type { AsyncioDebug } from "./asyncio_debug.ts";

/** Longest task or coroutine name kept (characters). */
export const MAX_NAME = 256;
/** Most tasks read (CPython itself caps each 3.14 list at 65,536). */
export const MAX_TASKS = 1_000_000;

/** One interpreter's part of what `readTasks` reads with. */
export interface InterpreterContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  interp: bigint;
  interpreterId: number;
  /** This interpreter's thread states. */
  threads: readonly PyThread[];
  /** Every thread state of the process (a loop may run in any of them). */
  allThreads: readonly PyThread[];
  /** Read while the target runs (`--no-block`). */
  nonBlocking?: boolean;
}

/** A task before its chain and edges are read. */
export interface RawTask {
  id: bigint;
  /** OS thread id of the thread running its loop, when known. */
  thread?: number;
  /** The task its thread runs now. */
  current: boolean;
}

/** `0x…` */
export function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** The objects of one interpreter's asyncio, read with caches. */
export class TaskObjects {
  readonly mem: MemoryReader;
  readonly rt: PythonRuntime;
  readonly rules: TaskRules;
  readonly ctx: InterpreterContext;
  readonly types: TypeNames;
  readonly dicts: DictReader;
  readonly values: ValueRenderer;
  readonly codes: CodeReader;
  readonly variables: VariableReader;
  debug: AsyncioDebug | undefined;
  readonly warnings: string[] = [];

  constructor(ctx: InterpreterContext, rules: TaskRules) {
    this.ctx = ctx;
    this.mem = ctx.mem;
    this.rt = ctx.rt;
    this.rules = rules;
    this.types = new TypeNames(ctx.mem, ctx.rt);
    this.dicts = new DictReader(ctx.mem, ctx.rt);
    this.values = new ValueRenderer(ctx.mem, ctx.rt);
    this.codes = new CodeReader(ctx.mem, ctx.rt);
    this.variables = new VariableReader(ctx.mem, ctx.rt, this.values);
  }

  word(address: bigint): bigint {
    return new DataView(this.mem.read(address, 8).buffer).getBigUint64(0, true);
  }

  /** The bytes of the task object at `id`, read once (every field is read from them). */
  readonly taskBytes = new Map<bigint, DataView>();

  taskView(id: bigint): DataView {
    let view = this.taskBytes.get(id);
    if (view === undefined) {
      const size = this.debug?.task.size ?? this.rules.layout!.task.size;
      const bytes = this.mem.read(id, size);
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.taskBytes.set(id, view);
    }
    return view;
  }

  /** A pointer field of the task at `id`. */
  taskWord(id: bigint, offset: number): bigint {
    return this.taskView(id).getBigUint64(offset, true);
  }

  /** Tasks of the pure-Python `Task` class (or of any class not derived from `_asyncio.Task`). */
  readonly pyTasks = new Set<bigint>();

  /**
   * A field of a task: from the C struct, or, for a pure-Python task, its instance attribute
   * (`_name`, `_coro`, `_fut_waiter`, `_loop`); 0n when absent.
   */
  taskField(id: bigint, field: "name" | "coro" | "fut_waiter" | "loop"): bigint {
    if (this.pyTasks.has(id)) {
      return this.dicts.attribute(id, `_${field}`, this.types) ?? 0n;
    }
    if (this.debug !== undefined) {
      if (field === "name" || field === "coro") return this.taskWord(id, this.debug.task[field]);
      return 0n; // not described by AsyncioDebug
    }
    return this.taskWord(id, this.rules.layout!.task[field]);
  }

  /** The attribute `name` of `obj`'s instance dict, else of its class or a base (bounded). */
  attributeOrClass(obj: bigint, name: string): bigint | undefined {
    const own = this.dicts.attribute(obj, name, this.types);
    if (own !== undefined) return own;
    const typeLayout = this.rt.layout.structs.type!;
    let type = this.word(obj + BigInt(this.rt.layout.structs.object!.fields.type!.offset));
    for (let depth = 0; depth < 32 && type !== 0n; depth++) {
      const t = readStruct(this.mem, type, typeLayout);
      const dict = t.ptr("dict");
      const value = dict === 0n ? undefined : this.dicts.lookup(dict, name, this.types);
      if (value !== undefined) return value;
      type = t.ptr("base");
    }
    return undefined;
  }

  /** A pure-Python task: it has a `_coro` attribute and a `_state` (instance or class). */
  isPendingPyTask(obj: bigint): boolean {
    if (this.dicts.attribute(obj, "_coro", this.types) === undefined) return false;
    const state = this.attributeOrClass(obj, "_state");
    if (state === undefined || this.values.strValue(state, 16) !== "PENDING") return false;
    this.pyTasks.add(obj);
    return true;
  }

  typeName(obj: bigint): string {
    return this.types.ofObject(obj).name;
  }

  /** Coroutine names (`gi_qualname`), by the address of the str. */
  readonly names = new Map<bigint, string>();

  qualname(address: bigint): string {
    let name = this.names.get(address);
    if (name === undefined) {
      name = this.values.strValue(address, MAX_NAME) ?? "???";
      if (this.names.size < 100_000) this.names.set(address, name);
    }
    return name;
  }

  module(name: string): bigint | undefined {
    const interp = readStruct(this.mem, this.ctx.interp, this.rt.layout.structs.interp!);
    const modules = interp.ptr("modules");
    return modules === 0n ? undefined : this.dicts.lookup(modules, name, this.types);
  }

  moduleGlobal(module: bigint, name: string): bigint | undefined {
    const dict = readStruct(this.mem, module, this.rt.layout.structs.module!).ptr("dict");
    return dict === 0n ? undefined : this.dicts.lookup(dict, name, this.types);
  }

  /** The objects of a WeakSet (its `data`, a set of weak references) or of a set. */
  weakSetOrSet(obj: bigint): bigint[] {
    const type = this.typeName(obj);
    if (type === "set") return setKeys(this.mem, this.rt, obj);
    const data = this.dicts.attribute(obj, "data", this.types);
    if (data === undefined) throw new TypeError(`a ${type} without data`);
    const weakref = this.rt.layout.structs.weakref!;
    const objects: bigint[] = [];
    for (const ref of setKeys(this.mem, this.rt, data)) {
      try {
        const target = readStruct(this.mem, ref, weakref).ptr("object");
        if (target !== 0n) objects.push(target);
      } catch (e) {
        rethrowFatal(e);
      }
    }
    return objects;
  }

  /** An `_asyncio.Task` or an instance of a subclass of it. */
  isCTask(obj: bigint): boolean {
    const typeLayout = this.rt.layout.structs.type!;
    let type = readStruct(this.mem, obj, this.rt.layout.structs.object!).ptr("type");
    for (let depth = 0; depth < 64 && type !== 0n; depth++) {
      if (this.types.of(type).name === "_asyncio.Task") return true;
      type = readStruct(this.mem, type, typeLayout).ptr("base");
    }
    return false;
  }

  isPendingTask(obj: bigint): boolean {
    try {
      if (!this.isCTask(obj)) return this.isPendingPyTask(obj);
      return this.taskView(obj).getInt32(this.rules.layout!.task.state, true) === 0;
    } catch (e) {
      rethrowFatal(e);
      return false;
    }
  }

  /**
   * The deadline of `asyncio.sleep` suspended in `frame`, in loop time: its local `h`, the
   * `TimerHandle` that will wake it, keeps it in the `__slots__` attribute `_when`.
   */
  /** Offset of `_when` in instances of each `TimerHandle` type (0: none). */
  readonly whenOffsets = new Map<bigint, number>();
}
