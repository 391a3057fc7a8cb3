/**
 * Python 2.7's own objects, which 3.x does not have:
 *
 * - `str`: a `PyStringObject` (`ob_size` bytes inline at `ob_sval`), which the
 *   layouts describe as the `bytes` struct. Code objects keep their names and
 *   file names in it; they are read as UTF-8, the file system encoding of
 *   every 2.7 under test.
 * - `unicode`: a `PyUnicodeObject` (`length` code units of `Py_UNICODE` at
 *   `str`), 2 or 4 bytes wide depending on how the target was built.
 * - `int`: a `PyIntObject` (a C `long` in `ob_ival`).
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "./runtime.ts";
import { InvalidObjectError, MAX_STRING_BYTES, readBytes } from "./objects.ts";
import { readStruct } from "./struct_view.ts";
import { MissingFieldError } from "./struct_view.ts";
import { rethrowFatal } from "../errors.ts";

const UTF8 = new TextDecoder("utf-8");

/** `Py_TPFLAGS_INT_SUBCLASS`: the `tp_flags` bit of `int` and its subclasses (2.7 only). */
export const PY2_INT_SUBCLASS = 1n << 23n;

/**
 * Symbols that tell a 2.7's `Py_UNICODE` width: each build exports its
 * unicode API under `PyUnicodeUCS2_*` or `PyUnicodeUCS4_*` (in `.dynsym`, so
 * stripped builds have them too).
 */
export const PY2_UNICODE_SYMBOLS = {
  PyUnicodeUCS2_FromUnicode: 2,
  PyUnicodeUCS4_FromUnicode: 4,
} as const;

/** Bytes per `Py_UNICODE` of a 2.7 build, from which of {@linkcode PY2_UNICODE_SYMBOLS} it has. */
export function py2UnicodeWidth(symbols: ReadonlyMap<string, bigint>): 2 | 4 | undefined {
  for (const [name, width] of Object.entries(PY2_UNICODE_SYMBOLS)) {
    if (symbols.has(name)) return width;
  }
  return undefined;
}

/**
 * Decodes the Python 2 `str` at `address` as UTF-8 (invalid bytes become
 * U+FFFD). A string longer than `limit` bytes is cut and ends in "…".
 * Throws when the object cannot be read or its size is negative.
 */
export function readPy2Str(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
  limit = MAX_STRING_BYTES,
): string {
  // One byte more than the limit tells a cut string from one of exactly `limit` bytes.
  const bytes = readBytes(mem, rt, address, limit + 1);
  return bytes.length > limit ? UTF8.decode(bytes.subarray(0, limit)) + "…" : UTF8.decode(bytes);
}

/**
 * Decodes the Python 2 `unicode` at `address`, whose `Py_UNICODE` is `width`
 * bytes (UTF-16 or UTF-32 code units; lone surrogates and values past U+10FFFF
 * become U+FFFD). More than `limit` bytes of data are cut and end in "…".
 */
export function readPy2Unicode(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
  width: 2 | 4,
  limit = MAX_STRING_BYTES,
): string {
  const { data, length } = py2UnicodeData(mem, rt, address, width, Math.floor(limit / width));
  const text = width === 2 ? new TextDecoder("utf-16le").decode(data) : decodeUtf32(data);
  return data.length / width < length ? text + "…" : text;
}

/**
 * The first `limit` code units of the Python 2 `unicode` at `address` (code
 * points on UCS4 builds, UTF-16 units on UCS2 builds) and its length. Throws
 * when the object is implausible: a negative length, or no NUL unit after
 * its `length` units (as 2.7 always writes one).
 */
export function readPy2UnicodeUnits(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
  width: 2 | 4,
  limit: number,
): { units: Uint32Array; length: number } {
  const { data, length } = py2UnicodeData(mem, rt, address, width, limit);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const units = new Uint32Array(data.length / width);
  for (let i = 0; i < units.length; i++) {
    units[i] = width === 2 ? view.getUint16(2 * i, true) : view.getUint32(4 * i, true);
  }
  return { units, length };
}

function py2UnicodeData(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
  width: 2 | 4,
  limit: number,
): { data: Uint8Array; length: number } {
  const layout = rt.layout.structs.legacy_unicode;
  if (layout === undefined) throw new MissingFieldError("legacy_unicode");
  const head = readStruct(mem, address, layout);
  const length = head.int("length");
  if (length < 0) throw new InvalidObjectError(address, "negative unicode length");
  const str = head.ptr("str");
  if (mem.read(str + BigInt(length * width), width).some((b) => b !== 0)) {
    throw new InvalidObjectError(address, "unicode without its NUL");
  }
  const count = Math.min(length, limit);
  return { data: count === 0 ? new Uint8Array(0) : mem.read(str, count * width), length };
}

function decodeUtf32(data: Uint8Array): string {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const parts: string[] = [];
  let chunk: number[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) {
    const cp = view.getUint32(i, true);
    chunk.push(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? cp : 0xfffd);
    if (chunk.length === 4096) {
      parts.push(String.fromCodePoint(...chunk));
      chunk = [];
    }
  }
  parts.push(String.fromCodePoint(...chunk));
  return parts.join("");
}

/** The value of the Python 2 `int` at `address` (`ob_ival`, a C `long`). */
export function readPy2Int(mem: MemoryReader, rt: PythonRuntime, address: bigint): bigint {
  const layout = rt.layout.structs.int;
  if (layout === undefined) throw new MissingFieldError("int");
  return readStruct(mem, address, layout).ptr("value");
}

/** Entries of a 2.7 `ma_table`: `{me_hash, me_key, me_value}`. */
const PY2_ENTRY = 24;
/** Most slots of one 2.7 dict looked at. */
const MAX_PY2_SLOTS = 1 << 20;

/**
 * Every (key, value) of the Python 2 dict at `address`, in table order (the
 * order 2.7 iterates in), lazily: slots without a key or value (empty, or
 * deleted: the dummy key with no value) are skipped. Throws when the header
 * is implausible.
 */
export function* py2DictItems(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
): Generator<[key: bigint, value: bigint], void, undefined> {
  const layout = rt.layout.structs.dict;
  if (layout === undefined) throw new MissingFieldError("dict");
  const d = readStruct(mem, address, layout);
  const used = d.int("used");
  const fill = d.int("fill");
  const slots = d.int("mask") + 1;
  const table = d.ptr("table");
  if (
    used < 0 || fill < used || slots <= 0 || (slots & (slots - 1)) !== 0 || fill > slots ||
    table === 0n
  ) {
    throw new InvalidObjectError(address, "dict header");
  }
  if (used === 0) return;
  const count = Math.min(slots, MAX_PY2_SLOTS);
  let seen = 0;
  // Small chunks first: callers usually want only the first few items.
  for (let first = 0, chunk = 32; first < count; first += chunk, chunk = Math.min(chunk * 2, 256)) {
    const n = Math.min(chunk, count - first);
    const bytes = mem.read(table + BigInt(first * PY2_ENTRY), n * PY2_ENTRY);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) {
      const key = view.getBigUint64(i * PY2_ENTRY + 8, true);
      const value = view.getBigUint64(i * PY2_ENTRY + 16, true);
      if (key === 0n || value === 0n) continue;
      yield [key, value];
      if (++seen >= used) return;
    }
  }
}

/** Entries of a 2.7 set table: `{hash, key}` (3.x has the key first). */
const PY2_SET_ENTRY = 16;
/** What 2.7 puts in the slot of a removed set element: a `str` of this text. */
const SET_DUMMY = "<dummy key>";

/**
 * The first `limit` elements of the Python 2 set or frozenset at `address`,
 * in table order (the order 2.7 iterates in), and its size. Slots of removed
 * elements hold 2.7's dummy key (a `str` "<dummy key>"), which is skipped.
 * Throws when the header is implausible.
 */
export function py2SetKeys(
  mem: MemoryReader,
  rt: PythonRuntime,
  address: bigint,
  limit: number,
): { keys: bigint[]; length: number } {
  const layout = rt.layout.structs.set;
  if (layout === undefined) throw new MissingFieldError("set");
  const s = readStruct(mem, address, layout);
  const used = s.int("used");
  const fill = s.int("fill");
  const slots = s.int("mask") + 1;
  const table = s.ptr("table");
  if (
    used < 0 || fill < used || slots <= 0 || (slots & (slots - 1)) !== 0 || fill > slots ||
    table === 0n
  ) {
    throw new InvalidObjectError(address, "set header");
  }
  const keys: bigint[] = [];
  if (used === 0 || limit <= 0) return { keys, length: used };
  // The last slot must be there.
  mem.read(table + BigInt((slots - 1) * PY2_SET_ENTRY), PY2_SET_ENTRY);
  const isDummy = (key: bigint) => {
    if (fill === used) return false; // nothing was removed
    try {
      return readPy2Str(mem, rt, key, SET_DUMMY.length) === SET_DUMMY;
    } catch (e) {
      rethrowFatal(e);
      return false;
    }
  };
  const count = Math.min(slots, MAX_PY2_SLOTS);
  for (let first = 0; first < count && keys.length < limit; first += 256) {
    const n = Math.min(256, count - first);
    const bytes = mem.read(table + BigInt(first * PY2_SET_ENTRY), n * PY2_SET_ENTRY);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n && keys.length < limit; i++) {
      const key = view.getBigUint64(i * PY2_SET_ENTRY + 8, true);
      if (key !== 0n && !isDummy(key)) keys.push(key);
    }
  }
  return { keys, length: used };
}
