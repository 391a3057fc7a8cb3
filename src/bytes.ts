/**
 * Little-endian reads and small conversions over byte buffers, shared by the
 * pure decoders. Reads past the end throw the `RangeError` of `DataView`.
 *
 * @module
 */

/**
 * A `DataView` over exactly the bytes of `bytes` (respecting its byteOffset).
 *
 * @example Reading a field of a sub-array
 * ```ts
 * import { dataView, u16 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * const whole = new Uint8Array([0, 0, 0x34, 0x12]);
 * assert.equal(u16(dataView(whole.subarray(2)), 0), 0x1234);
 * ```
 */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Unsigned 16-bit little-endian integer at `offset`.
 *
 * @example
 * ```ts
 * import { dataView, u16 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(u16(dataView(new Uint8Array([0xff, 0xff])), 0), 65535);
 * ```
 */
export function u16(view: DataView, offset: number): number {
  return view.getUint16(offset, true);
}

/**
 * Unsigned 32-bit little-endian integer at `offset`.
 *
 * @example
 * ```ts
 * import { dataView, u32 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(u32(dataView(new Uint8Array([0xff, 0xff, 0xff, 0xff])), 0), 0xffffffff);
 * ```
 */
export function u32(view: DataView, offset: number): number {
  return view.getUint32(offset, true);
}

/**
 * Signed 32-bit little-endian integer at `offset`.
 *
 * @example
 * ```ts
 * import { dataView, i32 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(i32(dataView(new Uint8Array([0xff, 0xff, 0xff, 0xff])), 0), -1);
 * ```
 */
export function i32(view: DataView, offset: number): number {
  return view.getInt32(offset, true);
}

/**
 * Unsigned 64-bit little-endian integer at `offset`, as a bigint (addresses).
 *
 * @example
 * ```ts
 * import { dataView, u64 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * const b = new Uint8Array([0x40, 0xe5, 0x54, 0, 0, 0, 0, 0]);
 * assert.equal(u64(dataView(b), 0), 0x54e540n);
 * ```
 */
export function u64(view: DataView, offset: number): bigint {
  return view.getBigUint64(offset, true);
}

/**
 * Signed 64-bit little-endian integer at `offset`, as a bigint (`Py_ssize_t`).
 *
 * @example
 * ```ts
 * import { dataView, i64 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(i64(dataView(new Uint8Array(8).fill(0xff)), 0), -1n);
 * ```
 */
export function i64(view: DataView, offset: number): bigint {
  return view.getBigInt64(offset, true);
}

/**
 * Each byte as one UTF-16 code unit (ISO-8859-1), so string indices equal byte
 * offsets. Unlike `TextDecoder("latin1")` (which is windows-1252), bytes
 * 0x80–0x9F map to U+0080–U+009F.
 *
 * @example
 * ```ts
 * import { latin1 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(latin1(new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x80])), "caf\u00e9\u0080");
 * ```
 */
export function latin1(bytes: Uint8Array): string {
  const CHUNK = 0x2000;
  let out = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return out;
}

/**
 * Lowercase hexadecimal, two digits per byte.
 *
 * @example
 * ```ts
 * import { toHex } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(toHex(new Uint8Array([0x57, 0x1d, 0x0a])), "571d0a");
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Bytes from hexadecimal text (whitespace ignored). Throws `SyntaxError` on an
 * odd number of digits or a non-hex character.
 *
 * @example
 * ```ts
 * import { fromHex } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(fromHex("7f45 4c46"), new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
 * ```
 */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new SyntaxError("Cannot parse hex: expected an even number of hex digits only");
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The chunks one after the other, in one new array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
