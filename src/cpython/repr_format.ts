/**
 * Python's `repr` of the scalar builtins, from decoded data: `float` (the
 * shortest round-trip form), `str` and `bytes` (quotes and escapes exactly as
 * CPython 3 writes them). Pure: no memory access.
 *
 * @module
 */

/**
 * `repr(x)` of a Python `float`: the shortest digits that read back as `x`,
 * in fixed notation when the decimal exponent is in [-4, 16), else in
 * scientific notation with a signed exponent of at least two digits.
 *
 * @param x the value of `ob_fval`
 * @returns the text Python prints
 *
 * @example Where JavaScript and Python differ
 * ```ts
 * import { formatFloat } from "./repr_format.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatFloat(1), "1.0");
 * assert.equal(formatFloat(1e16), "1e+16"); // JS: "10000000000000000"
 * assert.equal(formatFloat(1e-5), "1e-05"); // JS: "0.00001"
 * assert.equal(formatFloat(Infinity), "inf");
 * ```
 */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  // toExponential() without an argument gives the shortest digits that round-trip.
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const exp = Number(exponent);
  const decpt = exp + 1; // the value is 0.DIGITS × 10**decpt, as in Python's dtoa
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
  const expText = String(Math.abs(exp)).padStart(2, "0");
  return `${sign}${digits[0]}${frac}e${exp < 0 ? "-" : "+"}${expText}`;
}

/**
 * The code points of `str` data: `kind` bytes each, little-endian. Lone
 * surrogates and values above U+10FFFF are kept as they are (`repr` escapes them).
 *
 * @param data the character data (a trailing partial character is ignored)
 * @param kind bytes per character: 1, 2 or 4
 * @returns one number per character
 *
 * @example
 * ```ts
 * import { codePoints } from "./repr_format.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...codePoints(new Uint8Array([0x3d, 0xd8, 0x00, 0xde]), 2)], [0xd83d, 0xde00]);
 * ```
 */
export function codePoints(data: Uint8Array, kind: 1 | 2 | 4): Uint32Array {
  const count = Math.floor(data.length / kind);
  const out = new Uint32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < count; i++) {
    out[i] = kind === 1
      ? data[i]!
      : kind === 2
      ? view.getUint16(2 * i, true)
      : view.getUint32(4 * i, true);
  }
  return out;
}

const HEX = "0123456789abcdef";

function hex(value: number, width: number): string {
  let text = "";
  for (let i = width - 1; i >= 0; i--) text += HEX[(value >>> (4 * i)) & 15];
  return text;
}

/** Categories Python's `str.isprintable()` rejects (space excepted): Cc Cf Cs Co Cn Zl Zp Zs. */
const NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

/** Whether Python prints `cp` as is in a `repr` (the Unicode tables of this JavaScript engine). */
export function isPrintable(cp: number): boolean {
  if (cp === 0x20) return true;
  if (cp > 0x10ffff) return false;
  return !NOT_PRINTABLE.test(String.fromCodePoint(cp));
}

function quoteFor(points: ArrayLike<number>, single: number, double: number): number {
  let hasSingle = false;
  let hasDouble = false;
  for (let i = 0; i < points.length; i++) {
    if (points[i] === single) hasSingle = true;
    else if (points[i] === double) hasDouble = true;
  }
  return hasSingle && !hasDouble ? double : single;
}

/**
 * `repr(s)` of a Python `str` given its code points: single quotes unless the
 * text holds `'` and no `"`; `\\`, the quote, `\t`, `\n`, `\r` escaped; other
 * control characters as `\xhh`; non-printable non-ASCII characters as `\xhh`,
 * `\uhhhh` or `\Uhhhhhhhh`; everything else as is.
 *
 * @param points the code points (see {@linkcode codePoints})
 * @returns the quoted text
 *
 * @example
 * ```ts
 * import { reprStr } from "./repr_format.ts";
 * import assert from "node:assert/strict";
 * const points = (s: string) => [...s].map((c) => c.codePointAt(0)!);
 * assert.equal(reprStr(points("it's\n")), `"it's\\n"`);
 * assert.equal(reprStr(points("café \u200b")), `'café \\u200b'`);
 * ```
 */
export function reprStr(points: ArrayLike<number>): string {
  const quote = quoteFor(points, 0x27, 0x22);
  const parts: string[] = [String.fromCharCode(quote)];
  for (let i = 0; i < points.length; i++) {
    const cp = points[i]!;
    if (cp === quote || cp === 0x5c) parts.push("\\" + String.fromCharCode(cp));
    else if (cp === 0x09) parts.push("\\t");
    else if (cp === 0x0a) parts.push("\\n");
    else if (cp === 0x0d) parts.push("\\r");
    else if (cp < 0x20 || cp === 0x7f) parts.push("\\x" + hex(cp, 2));
    else if (cp < 0x7f) parts.push(String.fromCharCode(cp));
    else if (isPrintable(cp)) parts.push(String.fromCodePoint(cp));
    else if (cp <= 0xff) parts.push("\\x" + hex(cp, 2));
    else if (cp <= 0xffff) parts.push("\\u" + hex(cp, 4));
    else parts.push("\\U" + hex(cp, 8));
  }
  parts.push(String.fromCharCode(quote));
  return parts.join("");
}

/**
 * `repr(b)` of a Python `bytes`: `b'...'` (or `b"..."` when the data holds `'`
 * and no `"`), printable ASCII as is, `\\`, the quote, `\t`, `\n`, `\r`
 * escaped, every other byte as `\xhh`.
 *
 * @param data the bytes
 * @returns the quoted text
 *
 * @example
 * ```ts
 * import { reprBytes } from "./repr_format.ts";
 * import assert from "node:assert/strict";
 * assert.equal(reprBytes(new Uint8Array([0x61, 0x00, 0xff, 0x27])), `b"a\\x00\\xff'"`);
 * ```
 */
export function reprBytes(data: Uint8Array): string {
  const quote = quoteFor(data, 0x27, 0x22);
  const parts: string[] = ["b", String.fromCharCode(quote)];
  for (const byte of data) {
    if (byte === quote || byte === 0x5c) parts.push("\\" + String.fromCharCode(byte));
    else if (byte === 0x09) parts.push("\\t");
    else if (byte === 0x0a) parts.push("\\n");
    else if (byte === 0x0d) parts.push("\\r");
    else if (byte < 0x20 || byte >= 0x7f) parts.push("\\x" + hex(byte, 2));
    else parts.push(String.fromCharCode(byte));
  }
  parts.push(String.fromCharCode(quote));
  return parts.join("");
}

/**
 * Text from the target (a type or thread name) made safe for one output line:
 * control and other non-printable characters become `\xhh`/`\uhhhh` escapes.
 *
 * @example
 * ```ts
 * import { printable } from "./repr_format.ts";
 * import assert from "node:assert/strict";
 * assert.equal(printable("a\nb"), "a\\x0ab");
 * ```
 */
export function printable(text: string): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x7f && cp >= 0x20) out += ch;
    else if (isPrintable(cp)) out += ch;
    else if (cp <= 0xff) out += "\\x" + hex(cp, 2);
    else if (cp <= 0xffff) out += "\\u" + hex(cp, 4);
    else out += "\\U" + hex(cp, 8);
  }
  return out;
}
