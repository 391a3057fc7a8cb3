/**
 * Decoding of CPython 3 `str` objects (PEP 393 compact strings): the `state`
 * bitfield of `PyASCIIObject` and the character data that follows the header.
 *
 * @module
 */

/** The fields of `PyASCIIObject.state` (CPython 3.3 to 3.13, GIL builds). */
export interface UnicodeState {
  /** 0 not interned, 1 interned (mortal), 2 immortal, 3 immortal static (3.12+). */
  interned: number;
  /** Bytes per character: 1 (Latin-1), 2 (UCS-2), 4 (UCS-4); 0 is a legacy not-ready string (≤ 3.11). */
  kind: number;
  /** Data follows the header in the same allocation. */
  compact: boolean;
  /** Every character is below 128; data follows `sizeof(PyASCIIObject)`. */
  ascii: boolean;
}

/**
 * Splits the 32-bit `state` word: `interned:2, kind:3, compact:1, ascii:1`
 * from bit 0 up (the same positions from 3.3 to 3.15 in GIL builds; the next bit,
 * `ready` or `statically_allocated`, is not returned). Free-threaded 3.14+ builds
 * (`layout` "interned_byte") make `interned` a whole byte, so the bit-fields start at bit 8.
 *
 * @param state the 32-bit word at `PyASCIIObject.state`
 * @param layout which of the two layouts the target uses (the runtime's `unicodeState`)
 * @returns the decoded fields
 *
 * @example The state of a compact ASCII string and of a compact UCS-2 string
 * ```ts
 * import { unicodeState } from "./unicode.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(unicodeState(0xe4), { interned: 0, kind: 1, compact: true, ascii: true });
 * assert.deepEqual(unicodeState(0x28), { interned: 0, kind: 2, compact: true, ascii: false });
 * ```
 */
export function unicodeState(
  state: number,
  layout: "bitfield" | "interned_byte" = "bitfield",
): UnicodeState {
  const [interned, bits] = layout === "bitfield" ? [state & 3, state] : [state & 0xff, state >>> 6];
  return {
    interned,
    kind: (bits >>> 2) & 7,
    compact: (bits & 0x20) !== 0,
    ascii: (bits & 0x40) !== 0,
  };
}

const REPLACEMENT = 0xfffd;
const CHUNK = 0x2000;

/**
 * Turns the character data of a `str` into a JavaScript string. `bytes` holds
 * `length * kind` bytes, little-endian code points of `kind` bytes each.
 *
 * A Python `str` may hold surrogate code points (U+D800–U+DFFF) on their own,
 * which JavaScript strings cannot tell apart from UTF-16 pairs. Each such code
 * point becomes U+FFFD (so `"\ud83d\ude00"` in Python, two code points, gives
 * two U+FFFD, not 😀), as do code points above U+10FFFF and, when `ascii` is
 * set, bytes above 0x7F. Nothing here throws for bad data.
 *
 * @param bytes the character data (a trailing partial character is ignored)
 * @param kind bytes per character: 1, 2 or 4
 * @param ascii the `ascii` bit of the state
 * @returns the decoded text
 * @throws {RangeError} when `kind` is not 1, 2 or 4
 *
 * @example Latin-1, UCS-2 and UCS-4 data
 * ```ts
 * import { decodeUnicodeData } from "./unicode.ts";
 * import assert from "node:assert/strict";
 * assert.equal(decodeUnicodeData(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), 1, false), "café");
 * assert.equal(decodeUnicodeData(new Uint8Array([0xa2, 0x95, 0x70, 0x65]), 2, false), "関数");
 * assert.equal(decodeUnicodeData(new Uint8Array([0x00, 0xf6, 0x01, 0x00]), 4, false), "😀");
 * assert.equal(decodeUnicodeData(new Uint8Array([0x00, 0xd8]), 2, false), "\ufffd");
 * ```
 */
export function decodeUnicodeData(bytes: Uint8Array, kind: 1 | 2 | 4, ascii: boolean): string {
  if (kind !== 1 && kind !== 2 && kind !== 4) {
    throw new RangeError(`Cannot decode str data: kind must be 1, 2 or 4, got ${kind}`);
  }
  const count = Math.floor(bytes.length / kind);
  const points: number[] = [];
  let out = "";
  for (let i = 0; i < count; i++) {
    const at = i * kind;
    let cp: number;
    if (kind === 1) {
      cp = bytes[at]!;
      if (ascii && cp > 0x7f) cp = REPLACEMENT;
    } else if (kind === 2) {
      cp = bytes[at]! | (bytes[at + 1]! << 8);
    } else {
      cp =
        (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>>
        0;
      if (cp > 0x10ffff) cp = REPLACEMENT;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = REPLACEMENT;
    points.push(cp);
    if (points.length === CHUNK) {
      out += String.fromCodePoint(...points);
      points.length = 0;
    }
  }
  return out + String.fromCodePoint(...points);
}
