import assert from "node:assert/strict";
import { dataView, fromHex, i32, i64, latin1, toHex, u16, u32, u64 } from "./bytes.ts";

Deno.test("dataView() covers only the sub-array", () => {
  const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
  const view = dataView(whole.subarray(2, 5));
  assert.equal(view.byteLength, 3);
  assert.equal(view.getUint8(0), 1);
  assert.throws(() => view.getUint8(3), RangeError);
});

Deno.test("u16(), u32(), i32(), u64() and i64() read little-endian", () => {
  const v = dataView(fromHex("feffffff ffffffff 0102"));
  assert.equal(u16(v, 8), 0x0201);
  assert.equal(u32(v, 0), 0xfffffffe);
  assert.equal(i32(v, 0), -2);
  assert.equal(u64(v, 0), 0xfffffffffffffffen);
  assert.equal(i64(v, 0), -2n);
  assert.equal(u64(v, 2), 0x0201ffffffffffffn);
  assert.throws(() => u64(v, 3), RangeError);
});

Deno.test("latin1() maps every byte to the same code point, also past 0x2000 bytes", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const text = latin1(all);
  assert.equal(text.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(text.charCodeAt(i), i);
  const long = new Uint8Array(0x5001).fill(0x41);
  assert.equal(latin1(long), "A".repeat(0x5001));
});

Deno.test("toHex() and fromHex() round-trip", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromHex(toHex(bytes)), bytes);
  assert.equal(toHex(new Uint8Array([0, 0xab])), "00ab");
  assert.deepEqual(fromHex("AB cd\n01"), new Uint8Array([0xab, 0xcd, 0x01]));
});

Deno.test("fromHex() rejects odd lengths and non-hex text", () => {
  assert.throws(() => fromHex("abc"), SyntaxError);
  assert.throws(() => fromHex("zz"), SyntaxError);
});
