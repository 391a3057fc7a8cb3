/**
 * Reading a target's `set` and `frozenset` objects: the keys of their hash
 * table, bounded, dummy (deleted) entries left out.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "./runtime.ts";
import { MissingFieldError, readStruct } from "./struct_view.ts";
import { InvalidObjectError } from "./objects.ts";

/** Largest set table read (entries). */
export const MAX_SET_TABLE = 1 << 22;

/**
 * The keys of the set at `address`, in table order. `dummy` is the address of the
 * set module's deleted-entry marker, when known (any key whose refcount is immortal
 * could be it; callers type-check keys anyway). Throws on an implausible table.
 */
export function setKeys(mem: MemoryReader, rt: PythonRuntime, address: bigint): bigint[] {
  const layout = rt.layout.structs.set;
  if (layout === undefined) throw new MissingFieldError("set");
  const s = readStruct(mem, address, layout);
  const used = s.int("used");
  const mask = s.int("mask");
  const size = mask + 1;
  if (used < 0 || size <= 0 || (size & mask) !== 0 || size > MAX_SET_TABLE || used > size) {
    throw new InvalidObjectError(address, `set with ${used} keys in ${size} slots`);
  }
  const table = s.ptr("table");
  const bytes = mem.read(table, size * 16);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeSetTable(view, size);
}

/**
 * The non-empty keys of a set table of `size` `{key, hash}` entries (16 bytes each),
 * in table order. Deleted entries keep a dummy key with hash -1 and are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSetTable } from "./sets.ts";
 * const view = new DataView(new ArrayBuffer(64));
 * view.setBigUint64(16, 0x1000n, true); // slot 1: key 0x1000, hash 7
 * view.setBigInt64(24, 7n, true);
 * view.setBigUint64(32, 0x2000n, true); // slot 2: a deleted entry
 * view.setBigInt64(40, -1n, true);
 * assert.deepEqual(decodeSetTable(view, 4), [0x1000n]);
 * ```
 */
export function decodeSetTable(view: DataView, size: number): bigint[] {
  const keys: bigint[] = [];
  for (let i = 0; i < size; i++) {
    const key = view.getBigUint64(i * 16, true);
    const hash = view.getBigInt64(i * 16 + 8, true);
    if (key !== 0n && hash !== -1n) keys.push(key);
  }
  return keys;
}
