import assert from "node:assert/strict";
import { findSelfIndex, implWords } from "./greenlet_impl.ts";

// Words 0-23 of a suspended user greenlet's implementation, as greenlet 2.0.2 builds it for
// Debian's Python 3.11 (read from a live `fixtures/greenlet_switch.py`).
const SUSPENDED_USER = [
  0x7fb2cab0ab50n,
  0xa7ed18n,
  0n,
  0n,
  0n,
  0n,
  0x7ffd37c96550n,
  0x7ffd37c96a48n,
  0x31bbb000n,
  0x4f8n,
  0x7fb2cacccc10n,
  0n,
  0x7fb2cabbfec0n,
  0x7ffd37c967b0n,
  0x700000000n,
  0x900f01d00000000n,
  0x7fb2caaef0d0n,
  0x7fb2caaef000n,
  0x7fb2caaef128n,
  0x7fb2caaf3000n,
  0x7fb2cab10540n,
  0x7fb2cab106c0n,
  0n,
  0x7fb2cab106c0n,
];

function bytesOf(words: bigint[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 8);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setBigUint64(i * 8, w, true));
  return bytes;
}

Deno.test("implWords() reads little-endian words and drops a trailing partial word", () => {
  const bytes = new Uint8Array([...bytesOf([0x0102030405060708n, 0xffn]), 1, 2, 3]);
  assert.deepEqual(implWords(bytes), [0x0102030405060708n, 0xffn]);
});

Deno.test("findSelfIndex() finds _self of greenlet 2.0.2 on 3.11 at word 20", () => {
  assert.deepEqual(findSelfIndex(implWords(bytesOf(SUSPENDED_USER)), 0x7fb2cab10540n), 20);
});

Deno.test("findSelfIndex() never takes the vtable word, nor a null self", () => {
  assert.deepEqual(findSelfIndex([0x10n, 0x20n], 0x10n), undefined);
  assert.deepEqual(findSelfIndex([0x10n, 0n], 0n), undefined);
  assert.deepEqual(findSelfIndex(SUSPENDED_USER, 0x1234n), undefined);
});
