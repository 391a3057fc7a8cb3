import assert from "node:assert/strict";
import { reprPy2Set, reprPy2Str, reprPy2Type, reprPy2Unicode } from "./py2_repr.ts";

const points = (s: string) => [...s].map((c) => c.codePointAt(0)!);

/** Text and `repr()` as 2.7.18 (a UCS4 build) prints them. */
const UNICODE_CASES: [string, string][] = [
  ["", "u''"],
  ["café", "u'caf\\xe9'"],
  ["関数", "u'\\u95a2\\u6570'"],
  ["𠮷野 😀", "u'\\U00020bb7\\u91ce \\U0001f600'"],
  ["it's", `u"it's"`],
  ['say "hi"', `u'say "hi"'`],
  [`it's "both"`, `u'it\\'s "both"'`],
  ["tab\tnl\nret\rnul\x00del\x7f\\", "u'tab\\tnl\\nret\\rnul\\x00del\\x7f\\\\'"],
  ["zero\u200bwidth\xa0nbsp", "u'zero\\u200bwidth\\xa0nbsp'"],
];

Deno.test("reprPy2Unicode() writes what 2.7's repr() writes", () => {
  for (const [text, repr] of UNICODE_CASES) assert.equal(reprPy2Unicode(points(text), false), repr);
  // Lone surrogates (and, on a UCS4 build, a pair written as two code points) stay apart.
  assert.equal(reprPy2Unicode([0xd800], false), "u'\\ud800'");
  assert.equal(reprPy2Unicode([0xd83d, 0xde00], false), "u'\\ud83d\\ude00'");
});

Deno.test("reprPy2Unicode() joins surrogate pairs of UCS2 builds into one escape", () => {
  assert.equal(reprPy2Unicode([0x61, 0xd83d, 0xde00, 0x62], true), "u'a\\U0001f600b'");
  assert.equal(reprPy2Unicode([0xd83d, 0x61], true), "u'\\ud83da'");
  assert.equal(reprPy2Unicode([0xd83d], true), "u'\\ud83d'");
});

Deno.test("reprPy2Str() writes what 2.7's repr() of a str writes", () => {
  const bytes = (...b: number[]) => new Uint8Array(b);
  assert.equal(reprPy2Str(bytes()), "''");
  assert.equal(reprPy2Str(new TextEncoder().encode("abc")), "'abc'");
  assert.equal(reprPy2Str(bytes(0x00, 0xff, 0x27, 0x0a)), `"\\x00\\xff'\\n"`);
  assert.equal(reprPy2Str(new TextEncoder().encode("café")), "'caf\\xc3\\xa9'");
});

Deno.test("reprPy2Set() and reprPy2Type() write what 2.7 writes", () => {
  assert.equal(reprPy2Set("set", []), "set([])");
  assert.equal(reprPy2Set("set", ["1", "2", "3"]), "set([1, 2, 3])");
  assert.equal(reprPy2Set("frozenset", ["5"]), "frozenset([5])");
  assert.equal(reprPy2Set("MySet", []), "MySet([])");
  assert.equal(reprPy2Type("int", false), "<type 'int'>");
  assert.equal(reprPy2Type("NoneType", false), "<type 'NoneType'>");
  assert.equal(reprPy2Type("collections.OrderedDict", true), "<class 'collections.OrderedDict'>");
});
