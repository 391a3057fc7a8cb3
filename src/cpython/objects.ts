/**
 * Reading the few CPython objects a stack needs (str, bytes, type names),
 * bounded and tolerant of corrupt memory.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "./runtime.ts";
import type { StructLayout } from "./layout.ts";
import { readStruct, type StructView } from "./struct_view.ts";
import { decodeUnicodeData, unicodeState } from "./unicode.ts";
import { MissingFieldError } from "./struct_view.ts";

/** Longest string or bytes object read in full; longer ones are cut. */
export const MAX_STRING_BYTES = 1 << 20;
/** Longest C string (`tp_name`) read. */
export const MAX_CSTRING = 256;

/** A remote object does not look like what it should be. */
export class InvalidObjectError extends TypeError {
  readonly address: bigint;
  constructor(address: bigint, why: string) {
    super(`Invalid object at 0x${address.toString(16)}: ${why}`);
    this.name = "InvalidObjectError";
    this.address = address;
  }
}

function struct(rt: PythonRuntime, name: "unicode" | "bytes" | "object" | "type"): StructLayout {
  const s = rt.layout.structs[name];
  if (s === undefined) throw new MissingFieldError(name);
  return s;
}

/** Decodes a `str` object (every kind: ASCII, Latin-1, UCS-2, UCS-4; compact or legacy). */
export function readUnicode(mem: MemoryReader, rt: PythonRuntime, address: bigint): string {
  const layout = struct(rt, "unicode");
  const head = readStruct(mem, address, layout);
  const length = head.int("length");
  const st = unicodeState(head.int("state"), rt.unicodeState);
  if (length < 0 || st.kind === 0 && st.compact) {
    throw new InvalidObjectError(address, "not a ready str");
  }
  const kind = st.kind as 1 | 2 | 4;
  if (kind !== 1 && kind !== 2 && kind !== 4) throw new InvalidObjectError(address, "bad str kind");
  const count = Math.min(length, Math.floor(MAX_STRING_BYTES / kind));
  let data: bigint;
  if (st.compact) {
    const headerSize = st.ascii ? layout.size : rt.layout.structs.compact_unicode?.size;
    if (headerSize === undefined) throw new MissingFieldError("compact_unicode");
    data = address + BigInt(headerSize);
  } else {
    const legacy = rt.layout.structs.legacy_unicode;
    if (legacy === undefined) throw new MissingFieldError("legacy_unicode");
    data = readStruct(mem, address, legacy).ptr("data");
  }
  const text = decodeUnicodeData(mem.read(data, count * kind), kind, st.ascii);
  return count < length ? text + "…" : text;
}

/** The payload of a `bytes` object, at most `limit` bytes. */
export function readBytes(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
  limit = MAX_STRING_BYTES,
): Uint8Array {
  const layout = struct(rt, "bytes");
  const head = readStruct(mem, address, layout);
  const size = head.int("size");
  if (size < 0) throw new InvalidObjectError(address, "negative bytes size");
  if (size === 0) return new Uint8Array(0);
  return mem.read(head.addressOf("sval"), Math.min(size, limit));
}

/** A NUL-terminated C string, at most `limit` bytes. */
export function readCString(mem: MemoryReader, address: bigint, limit = MAX_CSTRING): string {
  // Read up to the page end first, so a short string near the end of a mapping still reads.
  const toPageEnd = 4096 - Number(address & 4095n);
  let bytes = mem.read(address, Math.min(limit, toPageEnd));
  let end = bytes.indexOf(0);
  if (end < 0 && bytes.length < limit) {
    const rest = mem.read(address + BigInt(bytes.length), limit - bytes.length);
    const all = new Uint8Array(bytes.length + rest.length);
    all.set(bytes);
    all.set(rest, bytes.length);
    bytes = all;
    end = bytes.indexOf(0);
  }
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** `ob_ref_local` of an immortal object in a free-threaded build (`_Py_IMMORTAL_REFCNT_LOCAL`). */
const IMMORTAL_LOCAL = 0xffff_ffff;

/**
 * Whether an object header (the layout's `object` struct, read at the object) counts
 * references, as a live object does. GIL builds: `ob_refcnt` > 0. Free-threaded builds split
 * the count: the owning thread's `ob_ref_local` (all ones when immortal) plus `ob_ref_shared`,
 * whose low 2 bits are flags and which may be negative while the local count is not.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasReferences } from "./objects.ts";
 * import { StructView } from "./struct_view.ts";
 * const layout = {
 *   size: 32,
 *   fields: { ref_local: { offset: 12, kind: "u32" }, ref_shared: { offset: 16, kind: "i64" } },
 * } as const;
 * const bytes = new Uint8Array(32);
 * const view = new DataView(bytes.buffer);
 * view.setUint32(12, 1, true);
 * view.setBigInt64(16, -4n, true); // one reference dropped by another thread
 * assert.equal(hasReferences(new StructView(0x1000n, layout, bytes), "split"), false);
 * view.setUint32(12, 2, true);
 * assert.equal(hasReferences(new StructView(0x1000n, layout, bytes), "split"), true);
 * ```
 */
export function hasReferences(head: StructView, rule: "ob_refcnt" | "split"): boolean {
  if (rule === "ob_refcnt") return head.int("refcnt") > 0;
  const local = head.int("ref_local");
  if (local === IMMORTAL_LOCAL) return true;
  return BigInt(local) + (head.ptr("ref_shared") >> 2n) > 0n;
}

/** The address of an object's type (`ob_type`). */
export function typeOf(mem: MemoryReader, rt: PythonRuntime, address: bigint): bigint {
  return readStruct(mem, address, struct(rt, "object")).ptr("type");
}

/** What {@linkcode TypeNames} reads of a type object. */
export interface TypeInfo {
  name: string;
  flags: bigint;
  /** `tp_base` (0n for `object`, and where the layout does not name it). */
  base: bigint;
}

/** Reads `tp_name`, `tp_flags` and `tp_base` of a type object, cached per type address. */
export class TypeNames {
  #cache = new Map<bigint, TypeInfo>();
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  constructor(mem: MemoryReader, rt: PythonRuntime) {
    this.#mem = mem;
    this.#rt = rt;
  }

  /** Name, flags and base of the type at `type`. */
  of(type: bigint): TypeInfo {
    let entry = this.#cache.get(type);
    if (entry === undefined) {
      const t = readStruct(this.#mem, type, struct(this.#rt, "type"));
      entry = {
        name: readCString(this.#mem, t.ptr("name")),
        flags: t.ptr("flags"),
        base: t.has("base") ? t.ptr("base") : 0n,
      };
      this.#cache.set(type, entry);
    }
    return entry;
  }

  /** Name, flags and base of the type of the object at `address`. */
  ofObject(address: bigint): TypeInfo {
    return this.of(typeOf(this.#mem, this.#rt, address));
  }
}

/** `tp_flags` bits that classify builtin subclasses. */
export const TypeFlags = {
  LONG_SUBCLASS: 1n << 24n,
  LIST_SUBCLASS: 1n << 25n,
  TUPLE_SUBCLASS: 1n << 26n,
  BYTES_SUBCLASS: 1n << 27n,
  UNICODE_SUBCLASS: 1n << 28n,
  DICT_SUBCLASS: 1n << 29n,
  BASE_EXC_SUBCLASS: 1n << 30n,
  TYPE_SUBCLASS: 1n << 31n,
} as const;
