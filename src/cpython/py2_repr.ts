/**
 * Python 2.7's `repr` of the builtins whose text differs from 3.x's: `str`
 * (bytes, no prefix), `unicode` (`u'…'`, ASCII only), `set`/`frozenset`
 * (`set([…])`) and `type` (`<type '…'>`). Pure: no memory access.
 *
 * @module
 */

import { reprBytes } from "./repr_format.ts";

const HEX = "0123456789abcdef";

function hex(value: number, width: number): string {
  let text = "";
  for (let i = width - 1; i >= 0; i--) text += HEX[(value >>> (4 * i)) & 15];
  return text;
}

/**
 * `repr(s)` of a Python 2 `str`: as 3.x's `repr` of the same bytes, without the `b`.
 *
 * @example
 * ```ts
 * import { reprPy2Str } from "./py2_repr.ts";
 * import assert from "node:assert/strict";
 * assert.equal(reprPy2Str(new Uint8Array([0x00, 0xff, 0x27, 0x0a])), `"\\x00\\xff'\\n"`);
 * ```
 */
export function reprPy2Str(data: Uint8Array): string {
  return reprBytes(data).slice(1);
}

/**
 * `repr(u)` of a Python 2 `unicode` given its code units (as 2.7's
 * `unicodeescape_string` writes it): `u` and single quotes unless the text
 * holds `'` and no `"`; the quote and `\\` escaped; `\t`, `\n`, `\r`; other
 * characters below 0x20 or from 0x7f to 0xff as `\xhh`; up to 0xffff as
 * `\uhhhh`; beyond as `\Uhhhhhhhh`. Every non-ASCII character is escaped.
 *
 * @param units `Py_UNICODE` values: code points (UCS4 builds) or UTF-16 units (UCS2 builds)
 * @param narrow a UCS2 build: a surrogate pair is shown as one `\U` escape, as 2.7 does there
 *
 * @example
 * ```ts
 * import { reprPy2Unicode } from "./py2_repr.ts";
 * import assert from "node:assert/strict";
 * const units = [0x63, 0xe9, 0x95a2, 0x1f600];
 * assert.equal(reprPy2Unicode(units, false), "u'c\\xe9\\u95a2\\U0001f600'");
 * assert.equal(reprPy2Unicode([0xd83d, 0xde00], true), "u'\\U0001f600'");
 * ```
 */
export function reprPy2Unicode(units: ArrayLike<number>, narrow: boolean): string {
  let hasSingle = false;
  let hasDouble = false;
  for (let i = 0; i < units.length; i++) {
    if (units[i] === 0x27) hasSingle = true;
    else if (units[i] === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  const parts: string[] = ["u", String.fromCharCode(quote)];
  for (let i = 0; i < units.length; i++) {
    let ch = units[i]!;
    if (narrow && ch >= 0xd800 && ch < 0xdc00 && i + 1 < units.length) {
      const low = units[i + 1]!;
      if (low >= 0xdc00 && low <= 0xdfff) {
        ch = 0x10000 + ((ch - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (ch === quote || ch === 0x5c) parts.push("\\" + String.fromCharCode(ch));
    else if (ch >= 0x10000) parts.push("\\U" + hex(ch, 8));
    else if (ch >= 0x100) parts.push("\\u" + hex(ch, 4));
    else if (ch === 0x09) parts.push("\\t");
    else if (ch === 0x0a) parts.push("\\n");
    else if (ch === 0x0d) parts.push("\\r");
    else if (ch < 0x20 || ch >= 0x7f) parts.push("\\x" + hex(ch, 2));
    else parts.push(String.fromCharCode(ch));
  }
  parts.push(String.fromCharCode(quote));
  return parts.join("");
}

/**
 * `repr()` of a 2.7 `set`, `frozenset` or subclass: `NAME([ITEMS])`, also when
 * empty (`set([])`), where NAME is the type's `tp_name`.
 *
 * @example
 * ```ts
 * import { reprPy2Set } from "./py2_repr.ts";
 * import assert from "node:assert/strict";
 * assert.equal(reprPy2Set("set", ["1", "2"]), "set([1, 2])");
 * assert.equal(reprPy2Set("frozenset", []), "frozenset([])");
 * ```
 */
export function reprPy2Set(typeName: string, items: readonly string[]): string {
  return `${typeName}([${items.join(", ")}])`;
}

/**
 * `repr()` of a 2.7 type: `<class 'MODULE.NAME'>` for classes defined in
 * Python (heap types), `<type 'NAME'>` for types defined in C; the module is
 * left out when it is `__builtin__`.
 *
 * @param qualified `MODULE.NAME`, or `NAME` for builtins
 * @param heap the type is a heap type
 *
 * @example
 * ```ts
 * import { reprPy2Type } from "./py2_repr.ts";
 * import assert from "node:assert/strict";
 * assert.equal(reprPy2Type("int", false), "<type 'int'>");
 * assert.equal(reprPy2Type("__main__.Plain", true), "<class '__main__.Plain'>");
 * ```
 */
export function reprPy2Type(qualified: string, heap: boolean): string {
  return `<${heap ? "class" : "type"} '${qualified}'>`;
}
