/**
 * `ValueRenderer` on the bytes of real objects of CPython 3.6 to 3.13,
 * captured by `scripts/capture_value_cases.ts` into `testdata/values_3_X.json`
 * (every range pystack read to render each object, and what it must show:
 * Python's own `repr`, or the text cut at pystack's limits), and on the same
 * bytes corrupted.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FakeMemory } from "../memory/fake_memory.ts";
import { type PythonRuntime, selectRuntime } from "./runtime.ts";
import { VALUE_LIMITS, ValueRenderer } from "./values.ts";

interface Capture {
  python: string;
  cases: { name: string; address: string; expected: string }[];
  regions: [address: string, base64: string][];
}

const MINORS = [6, 7, 8, 9, 10, 11, 12, 13];

function load(minor: number): { capture: Capture; rt: PythonRuntime; mem: FakeMemory } {
  const url = new URL(`./testdata/values_3_${minor}.json`, import.meta.url);
  const capture = JSON.parse(Deno.readTextFileSync(url)) as Capture;
  const [major, minorText, micro] = capture.python.split(".").map(Number) as [
    number,
    number,
    number,
  ];
  const rt = selectRuntime({ major, minor: minorText, micro, releaseLevel: "final", serial: 0 });
  const mem = new FakeMemory();
  for (const [address, base64] of capture.regions) {
    const bytes = new Uint8Array(Buffer.from(base64, "base64"));
    const region = mem.map(BigInt(address), bytes.length);
    region.set(bytes);
  }
  return { capture, rt, mem };
}

function addressOf(capture: Capture, name: string): bigint {
  const c = capture.cases.find((c) => c.name === name);
  if (c === undefined) throw new Error(`no case ${name}`);
  return BigInt(c.address);
}

function field(
  rt: PythonRuntime,
  struct: "object" | "tuple" | "list" | "unicode" | "dict",
  name: string,
): bigint {
  const f = rt.layout.structs[struct]?.fields[name];
  if (f === undefined) throw new Error(`no field ${struct}.${name}`);
  return BigInt(f.offset);
}

const HEX = /0x[0-9a-f]+/;

for (const minor of MINORS) {
  Deno.test(`ValueRenderer.repr() shows real objects of 3.${minor} as Python does`, () => {
    const { capture, rt, mem } = load(minor);
    const renderer = new ValueRenderer(mem, rt);
    for (const c of capture.cases) {
      assert.equal(renderer.repr(BigInt(c.address)), c.expected, `${capture.python} ${c.name}`);
    }
  });

  Deno.test(`ValueRenderer.repr() shows corrupt objects of 3.${minor} as invalid`, () => {
    const { capture, rt, mem } = load(minor);
    const renderer = () => new ValueRenderer(mem, rt);
    const hex = (a: bigint) => `0x${a.toString(16)}`;

    // A tuple whose type pointer is 0xbad.
    const tuple = addressOf(capture, "tuple");
    const tupleType = mem.read(tuple + field(rt, "object", "type"), 8);
    mem.writeU64(tuple + field(rt, "object", "type"), 0xbadn);
    assert.equal(renderer().repr(tuple), `<invalid object at ${hex(tuple)}>`);
    mem.write(tuple + field(rt, "object", "type"), tupleType);

    // Items that point nowhere, or are NULL.
    const item1 = tuple + field(rt, "tuple", "item") + 8n;
    const saved = mem.read(item1, 8);
    mem.writeU64(item1, 0xbadn);
    assert.equal(renderer().repr(tuple), "(1, <invalid object at 0xbad>, None, 2.5)");
    mem.writeU64(item1, 0n);
    assert.equal(renderer().repr(tuple), "(1, <invalid object at 0x0>, None, 2.5)");
    mem.write(item1, saved);

    // A tuple claiming more items than memory holds.
    const tupleSize = tuple + field(rt, "tuple", "size");
    mem.writeU64(tupleSize, 1n << 40n);
    assert.equal(renderer().repr(tuple), `<invalid tuple object at ${hex(tuple)}>`);
    mem.writeU64(tupleSize, 4n);

    // A list with NULL items and a huge size, then one bigger than its allocation.
    const list = addressOf(capture, "list");
    const listItems = list + field(rt, "list", "item");
    const listSize = list + field(rt, "list", "size");
    const savedItems = mem.read(listItems, 8);
    mem.writeU64(listItems, 0n);
    mem.writeU64(listSize, 1n << 50n);
    assert.equal(renderer().repr(list), `<invalid list object at ${hex(list)}>`);
    mem.write(listItems, savedItems);
    mem.writeU64(listSize, 3n);
    assert.equal(renderer().repr(list), `<invalid list object at ${hex(list)}>`);
    mem.writeU64(listSize, 2n);
    assert.equal(renderer().repr(list), "[1, [2, [3, []]]]");

    // A str with an absurd or negative length.
    const str = addressOf(capture, "str_ascii");
    const length = str + field(rt, "unicode", "length");
    mem.writeU64(length, 1n << 60n);
    assert.equal(renderer().repr(str), `<invalid str object at ${hex(str)}>`);
    mem.writeU64(length, -5n & ((1n << 64n) - 1n));
    assert.equal(renderer().repr(str), `<invalid str object at ${hex(str)}>`);
    mem.writeU64(length, 5n);
    assert.equal(renderer().repr(str), "'hello'");

    // A dict whose keys pointer is garbage.
    const dict = addressOf(capture, "dict");
    const keys = dict + field(rt, "dict", "keys");
    const savedKeys = mem.read(keys, 8);
    mem.writeU64(keys, 0xdead0000n);
    assert.equal(renderer().repr(dict), `<invalid dict object at ${hex(dict)}>`);
    mem.write(keys, savedKeys);

    // A list that holds itself through the corrupt one is still bounded.
    assert.match(renderer().repr(addressOf(capture, "list_recursive")), /^\[1, \[\.\.\.\]\]$/);
    assert.match(renderer().repr(addressOf(capture, "instance")), HEX);
  });

  Deno.test(`ValueRenderer.repr() on random words of 3.${minor} ends with some text`, () => {
    const { rt } = load(minor);
    const base = 0x10000n;
    const size = 64 * 1024;
    for (let seed = 1; seed <= 50; seed++) {
      const mem = new FakeMemory();
      const view = new DataView(mem.map(base, size).buffer);
      let x = seed * 2654435761 >>> 0 || 1;
      const next = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return x >>> 0;
      };
      for (let off = 0; off < size; off += 8) {
        const r = next() % 4;
        view.setBigUint64(
          off,
          r === 0
            ? base + BigInt((next() % size) & ~7)
            : r === 1
            ? BigInt(next() % 64)
            : r === 2
            ? BigInt(next()) | (1n << 12n) // with Py_TPFLAGS_READY set
            : BigInt(next()) << 16n,
          true,
        );
      }
      const renderer = new ValueRenderer(mem, rt);
      for (let i = 0; i < 20; i++) {
        const text = renderer.repr(base + BigInt((next() % size) & ~7));
        assert.equal(typeof text, "string");
        assert.ok(text.length < 50 * VALUE_LIMITS.chars, `seed ${seed}: ${text.length} chars`);
      }
    }
  });
}
