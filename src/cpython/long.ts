/**
 * Decoding of CPython 3 `int` objects: the size-and-sign word (`ob_size` up to
 * 3.11, `lv_tag` from 3.12) and the base-2**30 digits that follow it.
 *
 * @module
 */

/** Bits per digit (`PyLong_SHIFT`) on 64-bit builds. */
export const LONG_SHIFT = 30;

/** How many digits an `int` has and its sign. */
export interface LongHeader {
  /** Number of 30-bit digits to read at `ob_digit`; 0 for zero. */
  ndigits: number;
  negative: boolean;
}

/**
 * The header of a 3.12+ `int` from its `lv_tag` (`uintptr_t`): digits count is
 * `tag >> 3`, sign is `tag & 3` (0 positive, 1 zero, 2 negative). A zero sign
 * gives `ndigits` 0 whatever the count bits say (CPython tests the sign only).
 *
 * @param tag the unsigned 64-bit `long_value.lv_tag`
 * @returns digits count and sign
 * @throws {RangeError} for sign 3 (no such sign) or a count beyond 2**53
 *
 * @example `-1` and `0` in 3.12
 * ```ts
 * import { decodeLvTag } from "./long.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeLvTag(0x0an), { ndigits: 1, negative: true });
 * assert.deepEqual(decodeLvTag(0x01n), { ndigits: 0, negative: false });
 * ```
 */
export function decodeLvTag(tag: bigint): LongHeader {
  const sign = Number(tag & 3n);
  if (sign === 3) throw new RangeError(`Cannot decode int lv_tag 0x${tag.toString(16)}: sign is 3`);
  if (sign === 1) return { ndigits: 0, negative: false };
  return { ndigits: checkedCount(tag >> 3n), negative: sign === 2 };
}

/**
 * The header of a ≤ 3.11 `int` from its `ob_size` (`Py_ssize_t`): the number
 * of digits is `|ob_size|` and the sign is the sign of `ob_size`.
 *
 * @param obSize the signed 64-bit `ob_base.ob_size`
 * @returns digits count and sign
 * @throws {RangeError} for a count beyond 2**53
 *
 * @example `-(10**40)` in 3.11 has 5 digits
 * ```ts
 * import { decodeObSize } from "./long.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeObSize(-5n), { ndigits: 5, negative: true });
 * ```
 */
export function decodeObSize(obSize: bigint): LongHeader {
  return { ndigits: checkedCount(obSize < 0n ? -obSize : obSize), negative: obSize < 0n };
}

function checkedCount(n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`Cannot decode int: ${n} digits is not a plausible size`);
  }
  return Number(n);
}

/**
 * The value of an `int` from its digits: `ndigits` little-endian `uint32`
 * values (least significant first), each holding 30 bits.
 *
 * @param digits the bytes at `ob_digit` (at least `4 * ndigits`; extra bytes are ignored)
 * @param ndigits how many digits to use (from {@linkcode decodeLvTag} or {@linkcode decodeObSize})
 * @param negative whether the value is negative
 * @returns the value
 * @throws {RangeError} when `digits` is too short, `ndigits` is not a
 * non-negative integer, or a digit has any of its top two bits set
 *
 * @example 2**30 is the digits [0, 1]
 * ```ts
 * import { decodeLongDigits } from "./long.ts";
 * import assert from "node:assert/strict";
 * const digits = new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]);
 * assert.equal(decodeLongDigits(digits, 2, false), 2n ** 30n);
 * assert.equal(decodeLongDigits(digits, 2, true), -(2n ** 30n));
 * ```
 */
export function decodeLongDigits(digits: Uint8Array, ndigits: number, negative: boolean): bigint {
  if (!Number.isSafeInteger(ndigits) || ndigits < 0) {
    throw new RangeError(`Cannot decode int: bad digit count ${ndigits}`);
  }
  if (digits.length < ndigits * 4) {
    throw new RangeError(
      `Cannot decode int: ${ndigits} digits need ${ndigits * 4} bytes, got ${digits.length}`,
    );
  }
  const view = new DataView(digits.buffer, digits.byteOffset, digits.byteLength);
  let value = 0n;
  for (let i = ndigits - 1; i >= 0; i--) {
    const digit = view.getUint32(4 * i, true);
    if (digit >= 2 ** LONG_SHIFT) {
      throw new RangeError(`Cannot decode int: digit ${i} is 0x${digit.toString(16)}`);
    }
    value = (value << 30n) | BigInt(digit);
  }
  return negative ? -value : value;
}
