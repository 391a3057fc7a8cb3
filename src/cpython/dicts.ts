/**
 * Reading a target's dicts (combined and split tables, every key layout of
 * 3.6 to 3.13, and 2.7's `ma_table`) and the attributes of its instances, bounded and tolerant of
 * corrupt memory: a dict that does not look like one throws
 * {@linkcode InvalidObjectError}; nothing loops.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime, ValueRules } from "./runtime.ts";
import type { StructLayout } from "./layout.ts";
import { MissingFieldError, readStruct } from "./struct_view.ts";
import { InvalidObjectError, readUnicode, TypeFlags, type TypeNames } from "./objects.ts";
import { rethrowFatal } from "../errors.ts";
import { py2DictItems, readPy2Str } from "./py2_objects.ts";

/** Most entries of one dict looked at (its `dk_nentries` may claim more). */
export const MAX_DICT_SCAN = 1 << 20;

/** `Py_TPFLAGS_MANAGED_DICT` (3.11+): the instance dict lives before the object. */
const MANAGED_DICT = 1n << 4n;
/** `Py_TPFLAGS_INLINE_VALUES` (3.13+): attribute values follow the object. */
const INLINE_VALUES = 1n << 2n;
/** Entries read per chunk while scanning a table. */
const CHUNK = 256;

/** The first items of a dict, and how many it has. */
export interface DictItems {
  /** Key and value object addresses, in iteration order. */
  items: [key: bigint, value: bigint][];
  /** `len(d)`: the dict's `ma_used`. */
  length: number;
}

interface Entries {
  /** Address of entry 0. */
  start: bigint;
  count: number;
  /** 24 (`{hash, key, value}`) or 16 (`{key, value}`, str-keyed tables of 3.11+). */
  size: number;
}

function struct(rt: PythonRuntime, name: "dict" | "dictkeys" | "dictvalues"): StructLayout {
  const s = rt.layout.structs[name];
  if (s === undefined) throw new MissingFieldError(name);
  return s;
}

/** The rules of `rt`; throws for interpreters `--locals` does not read (2.7). */
export function valueRules(rt: PythonRuntime): ValueRules {
  if (rt.values === undefined) {
    throw new TypeError(`Reading objects of Python ${rt.layout.version} is not supported`);
  }
  return rt.values;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Reads dicts of one target. */
export class DictReader {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #rules: ValueRules;

  constructor(mem: MemoryReader, rt: PythonRuntime) {
    this.#mem = mem;
    this.#rt = rt;
    this.#rules = valueRules(rt);
  }

  #word(address: bigint): bigint {
    return new DataView(this.#mem.read(address, 8).buffer).getBigUint64(0, true);
  }

  /** Where the entries of the keys object at `address` are; throws when it is implausible. */
  #entries(address: bigint): Entries {
    const k = readStruct(this.#mem, address, struct(this.#rt, "dictkeys"));
    const count = k.int("nentries");
    let size: number;
    let indexBytes: number;
    let entrySize = 24;
    if (this.#rules.dictKeys === "dk_size") {
      size = k.int("size");
      if (!isPowerOfTwo(size) || size > 2 ** 40) {
        throw new InvalidObjectError(address, `dict keys size ${size}`);
      }
      indexBytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffff ? 4 : 8);
    } else {
      const log2 = k.int("log2_size");
      const log2Index = k.int("log2_index_bytes");
      const kind = k.int("kind");
      if (log2 > 40 || log2Index < log2 || log2Index > log2 + 3 || kind > 2) {
        throw new InvalidObjectError(address, "dict keys header");
      }
      size = 2 ** log2;
      indexBytes = 2 ** log2Index;
      if (kind !== 0) entrySize = 16;
    }
    if (count < 0 || count > size) {
      throw new InvalidObjectError(address, `dict keys with ${count} entries`);
    }
    return { start: k.addressOf("indices") + BigInt(indexBytes), count, size: entrySize };
  }

  /** Key and value of entry `index` (the value is unused in split tables). */
  #entry(e: Entries, index: number): [bigint, bigint] {
    const bytes = this.#mem.read(e.start + BigInt(index * e.size), e.size);
    const view = new DataView(bytes.buffer);
    const keyAt = e.size === 24 ? 8 : 0;
    return [view.getBigUint64(keyAt, true), view.getBigUint64(keyAt + 8, true)];
  }

  /** Every (key, value) of the dict at `address`, in iteration order, lazily. */
  *#iterate(address: bigint): Generator<[bigint, bigint], void, undefined> {
    if (this.#rules.dictKeys === "ma_table") {
      yield* py2DictItems(this.#mem, this.#rt, address);
      return;
    }
    const d = readStruct(this.#mem, address, struct(this.#rt, "dict"));
    const used = d.int("used");
    if (used < 0) throw new InvalidObjectError(address, `dict with ${used} items`);
    if (used === 0) return;
    const entries = this.#entries(d.ptr("keys"));
    if (entries.count < used && d.ptr("values") === 0n) {
      throw new InvalidObjectError(address, `dict with ${used} items in ${entries.count} entries`);
    }
    const values = d.ptr("values");
    if (values === 0n) yield* this.#combined(entries);
    else yield* this.#split(entries, values, used);
  }

  *#combined(e: Entries): Generator<[bigint, bigint], void, undefined> {
    const keyAt = e.size === 24 ? 8 : 0;
    const count = Math.min(e.count, MAX_DICT_SCAN);
    // Small chunks first: callers usually want only the first few items.
    for (
      let first = 0, chunk = 32;
      first < count;
      first += chunk, chunk = Math.min(chunk * 2, CHUNK)
    ) {
      const n = Math.min(chunk, count - first);
      const bytes = this.#mem.read(e.start + BigInt(first * e.size), n * e.size);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < n; i++) {
        const key = view.getBigUint64(i * e.size + keyAt, true);
        const value = view.getBigUint64(i * e.size + keyAt + 8, true);
        if (key !== 0n && value !== 0n) yield [key, value];
      }
    }
  }

  *#split(e: Entries, values: bigint, used: number): Generator<[bigint, bigint], void, undefined> {
    const rules = this.#rules;
    let array = values;
    let order: Iterable<number>;
    if (rules.splitOrder === "keys") {
      order = range(Math.min(e.count, MAX_DICT_SCAN));
    } else if (rules.splitOrder === "before_values") {
      // The insertion order is a byte array ending 3 bytes before the values, newest first.
      const size = this.#mem.read(values - 2n, 1)[0]!;
      const raw = size === 0 ? new Uint8Array(0) : this.#mem.read(values - 2n - BigInt(size), size);
      order = [...raw].reverse();
    } else {
      const v = readStruct(this.#mem, values, struct(this.#rt, "dictvalues"));
      const capacity = v.int("capacity");
      const size = v.int("size");
      if (size > capacity) throw new InvalidObjectError(values, "dict values order");
      array = v.addressOf("values");
      order = size === 0 ? [] : this.#mem.read(array + BigInt(capacity * 8), size);
    }
    let seen = 0;
    for (const index of order) {
      if (index >= e.count) throw new InvalidObjectError(values, `split dict index ${index}`);
      const value = this.#word(array + BigInt(index * 8));
      if (value === 0n) continue;
      const [key] = this.#entry(e, index);
      if (key !== 0n) yield [key, value];
      if (++seen >= used) return;
    }
  }

  /**
   * The first `limit` items of the dict at `address` and its length.
   * Throws when the dict is unreadable or implausible.
   */
  items(address: bigint, limit: number): DictItems {
    const d = readStruct(this.#mem, address, struct(this.#rt, "dict"));
    const items: [bigint, bigint][] = [];
    if (limit > 0) {
      for (const item of this.#iterate(address)) {
        items.push(item);
        if (items.length >= limit) break;
      }
    }
    return { items, length: d.int("used") };
  }

  /** The value of the str key `key` in the dict at `address`, or undefined. */
  lookup(address: bigint, key: string, types: TypeNames): bigint | undefined {
    const keys = [key];
    for (const [k, v] of this.#iterate(address)) {
      if (this.#strAmong(k, keys, NONE_FOUND, types) !== undefined) return v;
    }
    return undefined;
  }

  /**
   * The values of the str keys `keys` (ASCII) found in the dict at `address`,
   * in one pass over its entries.
   */
  lookupAll(address: bigint, keys: readonly string[], types: TypeNames): Map<string, bigint> {
    const found = new Map<string, bigint>();
    for (const [k, v] of this.#iterate(address)) {
      const name = this.#strAmong(k, keys, found, types);
      if (name === undefined) continue;
      found.set(name, v);
      if (found.size === keys.length) break;
    }
    return found;
  }

  /** Which of `texts` not yet in `found` the str object at `address` equals, if any. */
  #strAmong(
    address: bigint,
    texts: readonly string[],
    found: ReadonlyMap<string, bigint>,
    types: TypeNames,
  ): string | undefined {
    try {
      if (this.#rules.py2 !== undefined) {
        // 2.7: names are `str` objects of bytes.
        if ((types.ofObject(address).flags & TypeFlags.BYTES_SUBCLASS) === 0n) return undefined;
        const longest = Math.max(...texts.map((t) => t.length));
        const text = readPy2Str(this.#mem, this.#rt, address, longest + 1);
        return texts.find((t) => t === text && !found.has(t));
      }
      const layout = this.#rt.layout.structs.unicode;
      if (layout === undefined) return undefined;
      // Cheap filter on the length first (code points; the texts are ASCII in every use), then
      // the type: one read for most keys.
      const length = readStruct(this.#mem, address, layout).int("length");
      const candidates = texts.filter((t) => t.length === length && !found.has(t));
      if (candidates.length === 0) return undefined;
      if ((types.ofObject(address).flags & TypeFlags.UNICODE_SUBCLASS) === 0n) return undefined;
      const text = readUnicode(this.#mem, this.#rt, address);
      return candidates.find((t) => t === text);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /**
   * The attribute `name` of the instance at `obj`, from its `__dict__` or,
   * from 3.11, its values stored without a dict; undefined when absent.
   */
  attribute(obj: bigint, name: string, types: TypeNames): bigint | undefined {
    const typeLayout = this.#rt.layout.structs.type;
    const objectLayout = this.#rt.layout.structs.object;
    if (typeLayout === undefined || objectLayout === undefined) return undefined;
    const typeAddress = readStruct(this.#mem, obj, objectLayout).ptr("type");
    const t = readStruct(this.#mem, typeAddress, typeLayout);
    const flags = t.ptr("flags");
    const managed = (flags & MANAGED_DICT) !== 0n;
    switch (this.#rules.instanceDict) {
      case "dictoffset":
        break;
      case "managed_3_11":
        if (managed) {
          const dict = this.#word(obj - 24n);
          if (dict !== 0n) return this.lookup(dict, name, types);
          const values = this.#word(obj - 32n);
          return values === 0n ? undefined : this.#shared(typeAddress, values, name, types);
        }
        break;
      case "managed_3_12":
        if (managed) {
          const word = this.#word(obj - BigInt(this.#rules.managedDictBefore));
          if ((word & 1n) !== 0n) return this.#shared(typeAddress, word + 1n, name, types);
          return word === 0n ? undefined : this.lookup(word, name, types);
        }
        break;
      case "managed_3_13":
        if (managed) {
          const dict = this.#word(obj - BigInt(this.#rules.managedDictBefore));
          if (dict !== 0n) return this.lookup(dict, name, types);
          if ((flags & INLINE_VALUES) === 0n) return undefined;
          const values = obj + BigInt(t.int("basicsize"));
          const v = readStruct(this.#mem, values, struct(this.#rt, "dictvalues"));
          if (v.int("valid") === 0) return undefined;
          return this.#shared(typeAddress, v.addressOf("values"), name, types);
        }
        break;
    }
    const offset = t.int("dictoffset");
    if (offset <= 0) return undefined; // negative offsets (variable-size objects) are not read
    const dict = this.#word(obj + BigInt(offset));
    return dict === 0n ? undefined : this.lookup(dict, name, types);
  }

  /** `name` in values shared through the type's cached keys (3.11+), `array` the values. */
  #shared(type: bigint, array: bigint, name: string, types: TypeNames): bigint | undefined {
    const heap = this.#rt.layout.structs.heaptype;
    if (heap === undefined) return undefined;
    const keys = readStruct(this.#mem, type, heap).ptr("cached_keys");
    if (keys === 0n) return undefined;
    const e = this.#entries(keys);
    const names = [name];
    for (let i = 0; i < e.count; i++) {
      const [key] = this.#entry(e, i);
      if (key !== 0n && this.#strAmong(key, names, NONE_FOUND, types) !== undefined) {
        const value = this.#word(array + BigInt(i * 8));
        return value === 0n ? undefined : value;
      }
    }
    return undefined;
  }
}

/** No key found yet (for lookups of one key). */
const NONE_FOUND: ReadonlyMap<string, bigint> = new Map();

function* range(n: number): Generator<number, void, undefined> {
  for (let i = 0; i < n; i++) yield i;
}
