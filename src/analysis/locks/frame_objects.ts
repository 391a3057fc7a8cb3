/**
 * The lock objects each thread's Python frames refer to, read from the
 * frames' locals and value stacks, and the evidence that a thread is inside
 * `with L:` (the block keeps L's `__exit__` on the frame's value stack).
 * Bounded: at most {@linkcode MAX_SLOTS} slots per frame; unreadable slots and
 * objects are skipped.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { LockRules, PythonRuntime } from "../../cpython/runtime.ts";
import type { PyFrame } from "../../model.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { readBytes, readCString, TypeNames } from "../../cpython/objects.ts";
import {
  exceptionTable,
  type ExceptionTableEntry,
  protectedDepth,
} from "../../cpython/exception_table.ts";
import { DictReader } from "../../cpython/dicts.ts";
import { bytecodeStart } from "../../walk/code_objects.ts";
import { ValueRenderer } from "../../cpython/values.ts";
import { rethrowFatal } from "../../errors.ts";

/** Most slots read from one frame. */
export const MAX_SLOTS = 1024;
/** Value-stack slots read above a 3.11 to 3.13 frame's locals when `co_stacksize` is unknown. */
export const STACK_SLOTS = 64;
/** Most dict entries searched for a lock's global name. */
const MAX_GLOBALS = 4096;
/** `CO_MAXBLOCKS`: most blocks a <= 3.10 frame's block stack holds. */
const MAX_BLOCKS = 20;
/** Most bytes of an exception table read. */
const MAX_EXCEPTION_TABLE = 64 * 1024;

/** A lock object found in a frame. */
export interface LockObject {
  address: bigint;
  /** `_thread.lock` (`threading.Lock`), `_thread.RLock` (C), `threading._RLock` (Python). */
  kind: "lock" | "rlock" | "pyrlock";
  /** `lock_lock` (<= 3.13.0 `_thread.lock`, <= 3.13 RLock): the `sem_t` waiters sleep on. */
  sem?: bigint;
  /** The `PyMutex` (3.13.1+ lock, 3.14+ RLock) whose parked waiters name it. */
  mutex: bigint;
  /** Whether it is held, when the object says. */
  locked?: boolean;
  /** RLocks: the owner's thread ident (`pthread_t`), 0 for none. */
  owner?: bigint;
  count?: number;
  /** `threading._RLock`: its inner `_thread.lock`. */
  block?: bigint;
}

/**
 * Which of a frame's slots {@linkcode FrameObjects.scan} reads: `all` (up to the code's stack
 * size, stale ones included); `live`, those known to be in use; `entered`, the locals and the
 * part of the value stack that the `with` and `try` blocks the frame is inside keep (not what
 * the running instruction pushed, e.g. the `__exit__` of a `with` being entered).
 */
export type SlotRange = "all" | "live" | "entered";

/** What one thread's frames refer to. */
export interface ThreadObjects {
  /** Every lock object referenced, by address. */
  locks: Set<bigint>;
  /** Locks whose `with` block this thread is inside (their `__exit__` is on a value stack). */
  withBlocks: Set<bigint>;
}

/** Reads lock objects out of frames; caches per object. */
export class FrameObjects {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #rules: LockRules;
  readonly #types: TypeNames;
  readonly #dicts: DictReader;
  readonly #values: ValueRenderer;
  readonly #header: bigint;
  /** Every lock object seen. */
  readonly locks = new Map<bigint, LockObject>();
  readonly #kinds = new Map<bigint, string | undefined>();
  /** Per globals dict read: value → key. */
  readonly #globals = new Map<bigint, Map<bigint, bigint>>();
  /** Per code object: its exception table (3.11+). */
  readonly #tables = new Map<bigint, ExceptionTableEntry[]>();

  constructor(mem: MemoryReader, rt: PythonRuntime) {
    this.#mem = mem;
    this.#rt = rt;
    this.#rules = rt.locks ??
      { frameSlots: "ob_size", rlockCount: "count", withExit: "bound_method" };
    this.#types = new TypeNames(mem, rt);
    this.#dicts = new DictReader(mem, rt);
    this.#values = new ValueRenderer(mem, rt);
    this.#header = BigInt(rt.layout.structs.object?.size ?? 16);
  }

  get values(): ValueRenderer {
    return this.#values;
  }

  get dicts(): DictReader {
    return this.#dicts;
  }

  get types(): TypeNames {
    return this.#types;
  }

  /**
   * What the frames of one thread refer to. With `live`, only slots known to be in use: the
   * locals, and the value stack up to its saved top or, where the interpreter does not save it
   * while the frame runs, up to the depth the running instruction is protected at (3.11 to
   * 3.13: the exception table) or the innermost block's level (<= 3.10): every enclosing
   * `with` keeps its `__exit__` below it. Above that, a slot may still hold a pointer from an
   * earlier push, to an object since freed and its memory reused.
   */
  scan(frames: readonly PyFrame[], range: SlotRange = "all"): ThreadObjects {
    const out: ThreadObjects = { locks: new Set(), withBlocks: new Set() };
    for (const frame of frames) {
      const slots = this.slots(frame, range);
      slots.forEach((value, i) => {
        const kind = this.#kind(value);
        if (kind === undefined) return;
        if (this.#lock(value, kind) !== undefined) {
          out.locks.add(value);
          return;
        }
        const exitOf = this.#exitOf(value, kind, slots[i + 1]);
        if (exitOf !== undefined) {
          out.withBlocks.add(exitOf);
          out.locks.add(exitOf);
        }
      });
    }
    return out;
  }

  /**
   * The object pointers in a frame's locals and value stack (0n for empty slots), in `range`
   * (see {@linkcode SlotRange}).
   */
  slots(frame: PyFrame, range: SlotRange = "all"): bigint[] {
    const field = this.#rt.layout.structs.frame?.fields.localsplus;
    if (field === undefined) return [];
    const base = frame.frameAddress + BigInt(field.offset);
    let count = 0;
    try {
      count = this.#slotCount(frame, base, range);
    } catch (e) {
      rethrowFatal(e);
      return [];
    }
    count = Math.max(0, Math.min(count, MAX_SLOTS));
    for (; count > 0; count = Math.floor(count / 2)) {
      try {
        const view = new DataView(this.#mem.read(base, count * 8).buffer);
        const mask = this.#rt.stackRefMask;
        return Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8, true) & mask);
      } catch (e) {
        rethrowFatal(e);
      }
    }
    return [];
  }

  #slotCount(frame: PyFrame, base: bigint, range: SlotRange): number {
    switch (this.#rules.frameSlots) {
      case "ob_size": { // PyVarObject: ob_size follows the header's refcount and type.
        const size = Number(
          new DataView(this.#mem.read(frame.frameAddress + 16n, 8).buffer).getBigInt64(0, true),
        );
        return range === "all" ? size : Math.min(size, this.#blockLevel(frame, base));
      }
      case "nlocalsplus": {
        const n = this.#nlocalsplus(frame);
        return n + (range === "all" ? this.#stacksize(frame) : this.#protectedDepth(frame));
      }
      case "stackpointer": {
        const layout = this.#rt.layout.structs.frame!;
        const sp = layout.fields.stacktop === undefined
          ? 0n
          : readStruct(this.#mem, frame.frameAddress, layout).ptr("stacktop");
        const n = this.#nlocalsplus(frame);
        if (range === "entered") return n + this.#protectedDepth(frame);
        if (sp >= base && sp <= base + BigInt((n + MAX_SLOTS) * 8)) return Number((sp - base) / 8n);
        return n + (range === "live" ? this.#protectedDepth(frame) : this.#stacksize(frame));
      }
    }
  }

  /**
   * <= 3.10: the locals, cells and free variables (up to `f_valuestack`) and the value stack up
   * to the innermost block's level (`f_blockstack[f_iblock - 1].b_level`): a `with` block's
   * `__exit__` lies just below its block's level, and block levels only grow inward. 0 when
   * the frame does not say, so that no slot is taken as in use.
   */
  #blockLevel(frame: PyFrame, base: bigint): number {
    const layout = this.#rt.layout.structs.frame!;
    const blocks = layout.fields.blockstack;
    if (layout.fields.value_stack === undefined || layout.fields.iblock === undefined) return 0;
    if (blocks === undefined) return 0;
    const f = readStruct(this.#mem, frame.frameAddress, layout);
    const stack = f.ptr("value_stack");
    if (stack < base || stack > base + BigInt(MAX_SLOTS * 8) || (stack - base) % 8n !== 0n) {
      return 0;
    }
    const fixed = Number((stack - base) / 8n);
    const depth = f.int("iblock");
    if (depth <= 0 || depth > MAX_BLOCKS) return fixed;
    // PyTryBlock: {int b_type; int b_handler; int b_level}, 12 bytes.
    const at = frame.frameAddress + BigInt(blocks.offset + (depth - 1) * 12 + 8);
    const level = new DataView(this.#mem.read(at, 4).buffer).getInt32(0, true);
    return level > 0 ? fixed + level : fixed;
  }

  /**
   * The value-stack depth the frame's running instruction is protected at (3.11+, see
   * `exception_table.ts`); 0 when it cannot be read, so that no slot is taken as in use.
   */
  #protectedDepth(frame: PyFrame): number {
    const frameLayout = this.#rt.layout.structs.frame;
    const code = this.#rt.layout.structs.code;
    const adaptive = code?.fields.code_adaptive;
    if (frameLayout?.fields.instr === undefined || adaptive === undefined) return 0;
    if (code?.fields.exceptiontable === undefined) return 0;
    try {
      let table = this.#tables.get(frame.codeAddress);
      const co = readStruct(this.#mem, frame.codeAddress, code);
      if (table === undefined) {
        const bytes = co.ptr("exceptiontable");
        table = exceptionTable(readBytes(this.#mem, this.#rt, bytes, MAX_EXCEPTION_TABLE));
        this.#tables.set(frame.codeAddress, table);
      }
      if (table.length === 0) return 0;
      const f = readStruct(this.#mem, frame.frameAddress, frameLayout);
      const instr = f.ptr("instr");
      // Free-threaded 3.14+: the thread may run a copy of the bytecode of its own.
      const start = bytecodeStart(
        this.#mem,
        frame.codeAddress + BigInt(adaptive.offset),
        this.#rt.bytecode === "per_thread" && co.has("tlbc") ? co.ptr("tlbc") : undefined,
        f.has("tlbc_index") ? f.int("tlbc_index") : undefined,
      );
      if (instr < start) return 0;
      const depth = protectedDepth(table, Number((instr - start) / 2n));
      return Math.min(depth, this.#stacksize(frame));
    } catch (e) {
      rethrowFatal(e);
      return 0;
    }
  }

  /**
   * `co_stacksize` (3.11+): the int between `co_kwonlyargcount` and `co_firstlineno` in every
   * layout that has both 8 bytes apart; else {@linkcode STACK_SLOTS}. Slots above the value
   * stack's top may hold stale pointers, so the smaller the window, the fewer.
   */
  #stacksize(frame: PyFrame): number {
    const layout = this.#rt.layout.structs.code;
    const kwonly = layout?.fields.kwonlyargcount;
    const first = layout?.fields.firstlineno;
    if (kwonly === undefined || first === undefined || first.offset - kwonly.offset !== 8) {
      return STACK_SLOTS;
    }
    const bytes = this.#mem.read(frame.codeAddress + BigInt(kwonly.offset + 4), 4);
    const size = new DataView(bytes.buffer).getInt32(0, true);
    return size >= 0 && size <= MAX_SLOTS ? size : STACK_SLOTS;
  }

  #nlocalsplus(frame: PyFrame): number {
    const layout = this.#rt.layout.structs.code;
    if (layout === undefined) return 0;
    return readStruct(this.#mem, frame.codeAddress, layout).int("nlocalsplus");
  }

  /** The type name of the object at `address`, undefined when it is not a readable object. */
  #kind(address: bigint): string | undefined {
    if (address < 0x1000n || (address & 7n) !== 0n) return undefined;
    if (this.#kinds.has(address)) return this.#kinds.get(address);
    let name: string | undefined;
    try {
      name = this.#types.ofObject(address).name;
    } catch (e) {
      rethrowFatal(e);
    }
    this.#kinds.set(address, name);
    return name;
  }

  /** The lock object at `address` when it is one (read once). */
  lockAt(address: bigint): LockObject | undefined {
    const kind = this.#kind(address);
    return kind === undefined ? undefined : this.#lock(address, kind);
  }

  #lock(address: bigint, typeName: string): LockObject | undefined {
    const known = this.locks.get(address);
    if (known !== undefined) return known;
    const h = this.#header;
    let lock: LockObject | undefined;
    try {
      if (typeName === "_thread.lock" || typeName === "thread.lock") {
        const basicsize = this.#basicsize(address);
        if (basicsize <= Number(h) + 8) {
          // 3.13.1+: `{HEAD; PyMutex lock}`; bit 0 of the mutex is "locked".
          const bits = this.#mem.read(address + h, 1)[0]!;
          lock = { address, kind: "lock", mutex: address + h, locked: (bits & 1) !== 0 };
        } else {
          // `{HEAD; PyThread_type_lock lock_lock; PyObject *in_weakreflist; char locked}`.
          const sem = this.#word(address + h);
          const locked = this.#mem.read(address + h + 16n, 1)[0]!;
          lock = { address, kind: "lock", sem, mutex: address + h, locked: locked !== 0 };
        }
      } else if (typeName === "_thread.RLock") {
        // `{HEAD; rlock_lock | PyMutex; owner; count | level}`: the owner at the same place.
        const owner = this.#word(address + h + 8n);
        const raw = Number(this.#word(address + h + 16n));
        const count = this.#rules.rlockCount === "level" ? (owner === 0n ? 0 : raw + 1) : raw;
        lock = { address, kind: "rlock", mutex: address + h, owner, count, locked: owner !== 0n };
        if (this.#rules.rlockCount === "count") lock.sem = this.#word(address + h);
      } else if (typeName === "_RLock" || typeName === "_PyRLock") {
        lock = this.#pyRLock(address);
      }
    } catch (e) {
      rethrowFatal(e);
      lock = undefined;
    }
    if (lock !== undefined) this.locks.set(address, lock);
    return lock;
  }

  #pyRLock(address: bigint): LockObject | undefined {
    // 2.7 mangles the private names: `_RLock__block`.
    const prefix = this.#rt.values?.py2 === undefined ? "" : "_RLock_";
    const attr = (name: string) => this.#dicts.attribute(address, prefix + name, this.#types);
    const block = attr("_block");
    if (block === undefined) return undefined;
    const ownerObj = attr("_owner");
    const owner = ownerObj === undefined ? undefined : this.#values.intValue(ownerObj);
    const countObj = attr("_count");
    const count = countObj === undefined ? undefined : this.#values.intValue(countObj);
    const lock: LockObject = { address, kind: "pyrlock", mutex: 0n, block };
    lock.owner = owner === undefined ? 0n : BigInt.asUintN(64, owner);
    if (count !== undefined) lock.count = Number(count);
    lock.locked = lock.owner !== 0n;
    return lock;
  }

  /**
   * The lock whose `__exit__` the slot holds: a bound `__exit__` of a lock (<= 3.13), or the
   * unbound `__exit__` descriptor with the lock in the next slot (3.14+).
   */
  #exitOf(value: bigint, kind: string, next: bigint | undefined): bigint | undefined {
    try {
      const h = this.#header;
      if (kind === "builtin_function_or_method" && this.#rules.withExit === "bound_method") {
        const self = this.#word(value + h + 8n);
        if (this.lockAt(self) === undefined) return undefined;
        const name = readCString(this.#mem, this.#word(this.#word(value + h)), 16);
        return name === "__exit__" ? self : undefined;
      }
      if (kind === "method_descriptor" && this.#rules.withExit === "descriptor") {
        if (next === undefined || this.lockAt(next) === undefined) return undefined;
        return this.#values.strValue(this.#word(value + h + 8n), 16) === "__exit__"
          ? next
          : undefined;
      }
      if (kind === "method" && this.#rules.withExit === "bound_method") {
        // A bound `_RLock.__exit__` (Python): `im_func` then `im_self`.
        const self = this.#word(value + h + 8n);
        return this.lockAt(self)?.kind === "pyrlock" ? self : undefined;
      }
    } catch (e) {
      rethrowFatal(e);
    }
    return undefined;
  }

  /** The global name bound to `object` in the frame's globals, if any. */
  globalName(frame: PyFrame, object: bigint): string | undefined {
    const layout = this.#rt.layout.structs.frame;
    if (layout?.fields.globals === undefined) return undefined;
    try {
      const globals = readStruct(this.#mem, frame.frameAddress, layout).ptr("globals");
      if (globals === 0n) return undefined;
      let names = this.#globals.get(globals);
      if (names === undefined) {
        // Each module's globals are read once: value → key object.
        names = new Map();
        for (const [key, value] of this.#dicts.items(globals, MAX_GLOBALS).items) {
          const v = value & this.#rt.stackRefMask;
          if (!names.has(v)) names.set(v, key);
        }
        this.#globals.set(globals, names);
      }
      const key = names.get(object);
      return key === undefined ? undefined : this.#values.strValue(key, 64);
    } catch (e) {
      rethrowFatal(e);
    }
    return undefined;
  }

  /** The int attribute `name` of `obj`, undefined when absent or not an int. */
  intAttribute(obj: bigint, name: string): bigint | undefined {
    try {
      const v = this.#dicts.attribute(obj, name, this.#types);
      return v === undefined ? undefined : this.#values.intValue(v);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** The str attribute `name` of `obj`. */
  strAttribute(obj: bigint, name: string): string | undefined {
    try {
      const v = this.#dicts.attribute(obj, name, this.#types);
      return v === undefined ? undefined : this.#values.strValue(v, 128);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** The attribute `name` of `obj` (an object address). */
  attribute(obj: bigint, name: string): bigint | undefined {
    try {
      return this.#dicts.attribute(obj, name, this.#types);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** The type name of `obj`, undefined when unreadable. */
  typeName(obj: bigint): string | undefined {
    return this.#kind(obj);
  }

  #basicsize(address: bigint): number {
    const layout = this.#rt.layout.structs.object!;
    const type = readStruct(this.#mem, address, layout).ptr("type");
    return readStruct(this.#mem, type, this.#rt.layout.structs.type!).int("basicsize");
  }

  #word(address: bigint): bigint {
    return new DataView(this.#mem.read(address, 8).buffer).getBigUint64(0, true);
  }

  /** `*(u64*)address`, undefined when unreadable. */
  word(address: bigint): bigint | undefined {
    try {
      return this.#word(address);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }
}
