import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { MemoryReadError } from "../memory/memory_reader.ts";
import { fromHex } from "../bytes.ts";
import {
  py2DictItems,
  py2SetKeys,
  py2UnicodeWidth,
  readPy2Int,
  readPy2Str,
  readPy2Unicode,
} from "./py2_objects.ts";
import { selectRuntime } from "./runtime.ts";
import { InvalidObjectError } from "./objects.ts";

const rt = selectRuntime({ major: 2, minor: 7, micro: 18, releaseLevel: "final", serial: 0 });
const AT = 0x7f0000001000n;

/** `ctypes.string_at(id(s), sys.getsizeof(s)).encode("hex")` on 2.7.18, x86-64. */
const STRINGS: { expected: string; bytes: string }[] = [
  {
    expected: "",
    bytes: "8b00000000000000c02962e22f7f0000000000000000000000000000000000000100000000",
  },
  {
    expected: "worker_3",
    bytes:
      "0400000000000000c02962e22f7f000008000000000000007824affa4fc69be601000000776f726b65725f3300",
  },
  {
    // "caf\xc3\xa9.py": a UTF-8 file name
    expected: "café.py",
    bytes:
      "0400000000000000c02962e22f7f00000800000000000000a927f575a05c652a00000000636166c3a92e707900",
  },
  {
    // "\xff\xfeab": not UTF-8
    expected: "\ufffd\ufffdab",
    bytes: "0400000000000000c02962e22f7f000004000000000000005e572d9247ad938d00000000fffe616200",
  },
];

function objectAt(hex: string): FakeMemory {
  const mem = new FakeMemory();
  mem.map(AT, 4096);
  mem.write(AT, fromHex(hex));
  return mem;
}

Deno.test("readPy2Str() decodes real 2.7 str objects as UTF-8", () => {
  for (const c of STRINGS) {
    assert.equal(readPy2Str(objectAt(c.bytes), rt, AT), c.expected);
  }
});

Deno.test("readPy2Str() cuts a string longer than the limit and marks it", () => {
  const worker = STRINGS[1]!;
  const mem = objectAt(worker.bytes);
  assert.equal(readPy2Str(mem, rt, AT, 6), "worker…");
  assert.equal(readPy2Str(mem, rt, AT, 8), "worker_3");
});

Deno.test("readPy2Str() rejects a negative size and unmapped memory", () => {
  const mem = objectAt(STRINGS[1]!.bytes);
  mem.writeU64(AT + 16n, -5n & 0xffffffffffffffffn);
  assert.throws(() => readPy2Str(mem, rt, AT), InvalidObjectError);
  assert.throws(() => readPy2Str(mem, rt, 0x1000n), MemoryReadError);
});

/** 2.7.18 (UCS4) `unicode` objects: the 48-byte head, and the `Py_UNICODE` buffer its `str` points at. */
const UNICODES: { expected: string; head: string; data: string }[] = [
  {
    expected: "",
    head:
      "060000000000000040811153147f000000000000000000003010c852147f000000000000000000000000000000000000",
    data: "00000000",
  },
  {
    expected: "worker",
    head:
      "040000000000000040811153147f00000600000000000000d071c152147f00004c05f1f539cfc8780000000000000000",
    data: "770000006f000000720000006b000000650000007200000000000000",
  },
  {
    expected: "café",
    head:
      "040000000000000040811153147f000004000000000000001072c152147f00001757f26f335cf54b0000000000000000",
    data: "630000006100000066000000e900000000000000",
  },
  {
    expected: "関数",
    head:
      "040000000000000040811153147f00000200000000000000c0c2b452147f000014855fac0aa80b440000000000000000",
    data: "a29500007065000000000000",
  },
  {
    expected: "😀!",
    head:
      "040000000000000040811153147f00000200000000000000d0c2b452147f00002362bcdc99d748e40000000000000000",
    data: "00f601002100000000000000",
  },
];

/** Maps a unicode head at AT and its buffer at DATA (the captured `str` pointer is replaced). */
const DATA = 0x7f0000100000n;
function unicodeAt(head: string, data: Uint8Array): FakeMemory {
  const mem = objectAt(head);
  mem.writeU64(AT + 24n, DATA);
  mem.map(DATA, 4096);
  mem.write(DATA, data);
  return mem;
}

Deno.test("readPy2Unicode() decodes real UCS4 unicode objects of 2.7", () => {
  for (const c of UNICODES) {
    assert.equal(readPy2Unicode(unicodeAt(c.head, fromHex(c.data)), rt, AT, 4), c.expected);
  }
});

Deno.test("readPy2Unicode() decodes UCS2 buffers (surrogate pairs too) and cuts at the limit", () => {
  const emoji = UNICODES[4]!;
  // u"\U0001F600!" on a UCS2 build: 3 code units.
  const mem = unicodeAt(emoji.head, fromHex("3dd800de21000000"));
  mem.writeU64(AT + 16n, 3n);
  assert.equal(readPy2Unicode(mem, rt, AT, 2), "😀!");
  assert.equal(readPy2Unicode(mem, rt, AT, 2, 4), "😀…");
  const worker = UNICODES[1]!;
  assert.equal(readPy2Unicode(unicodeAt(worker.head, fromHex(worker.data)), rt, AT, 4, 8), "wo…");
});

Deno.test("readPy2Unicode() turns code units that are not characters into U+FFFD", () => {
  const mem = unicodeAt(UNICODES[3]!.head, fromHex("00d80000ffffff00"));
  assert.equal(readPy2Unicode(mem, rt, AT, 4), "\ufffd\ufffd");
});

Deno.test("py2UnicodeWidth() tells UCS2 from UCS4 builds by their exported symbols", () => {
  assert.equal(py2UnicodeWidth(new Map([["PyUnicodeUCS4_FromUnicode", 1n]])), 4);
  assert.equal(py2UnicodeWidth(new Map([["PyUnicodeUCS2_FromUnicode", 1n]])), 2);
  assert.equal(py2UnicodeWidth(new Map()), undefined);
});

Deno.test("readPy2Int() reads real 2.7 int objects", () => {
  const ints: [bigint, string][] = [
    [0n, "9b01000000000000a0841053147f00000000000000000000"],
    [-7n, "0500000000000000a0841053147f0000f9ffffffffffffff"],
    [2n ** 62n, "0400000000000000a0841053147f00000000000000000040"],
  ];
  for (const [value, hex] of ints) assert.equal(readPy2Int(objectAt(hex), rt, AT), value);
});

Deno.test("py2DictItems() walks a real 2.7 ma_table in Python's order, past a deleted slot", () => {
  // d = {"a": 1, "b": 2, "c": 3}; del d["b"]; d["d"] = 4 (the table moved to TABLE)
  const head =
    "010000000000000020b9e1bfc07f0000040000000000000003000000000000000700000000000000488786bfc07f0000";
  // One slot {me_hash, me_key, me_value} per line: a, -, c, deleted (the dummy key), -, d, -, -
  const table = [
    "e0b10de402000000508a94bfc07f0000d8258524bc550000",
    "000000000000000000000000000000000000000000000000",
    "e2f44ff302000000c01695bfc07f0000a8258524bc550000",
    "63d3aeeb0200000030c095bfc07f00000000000000000000",
    "000000000000000000000000000000000000000000000000",
    "6516f1fa02000000306c92bfc07f000090258524bc550000",
    "000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000",
  ].join("");
  const mem = objectAt(head);
  const TABLE = 0x7f0000200000n;
  mem.writeU64(AT + 40n, TABLE);
  mem.map(TABLE, 4096);
  mem.write(TABLE, fromHex(table));
  assert.deepEqual([...py2DictItems(mem, rt, AT)], [
    [0x7fc0bf948a50n, 0x55bc248525d8n],
    [0x7fc0bf9516c0n, 0x55bc248525a8n],
    [0x7fc0bf926c30n, 0x55bc24852590n],
  ]);
  mem.writeU64(AT + 32n, 6n); // a mask of 6: not a power of two minus one
  assert.throws(() => [...py2DictItems(mem, rt, AT)], InvalidObjectError);
});

Deno.test("py2SetKeys() walks a real 2.7 set table and skips the dummy key of a removal", () => {
  // s = set([1, 2, 3]); s.discard(2) (the table moved to TABLE, the dummy key to DUMMY)
  const head =
    "010000000000000020bfb327f47f0000030000000000000002000000000000000700000000000000e8696027f47f0000";
  const TABLE = 0x7f0000200000n;
  const DUMMY = 0x7f0000300000n;
  // One slot {hash, key} per line: -, 1, removed 2, 3, -, -, -, -
  const table = [
    "00000000000000000000000000000000",
    "0100000000000000d8d58d6c50560000",
    "0200000000000000" + "00003000007f0000",
    "0300000000000000a8d58d6c50560000",
    ...Array(4).fill("00000000000000000000000000000000"),
  ].join("");
  const dummy =
    "0c00000000000000c0f9b327f47f00000b00000000000000ffffffffffffffff000000003c64756d6d79206b65793e00";
  const mem = objectAt(head);
  mem.writeU64(AT + 40n, TABLE);
  mem.map(TABLE, 4096);
  mem.write(TABLE, fromHex(table));
  mem.map(DUMMY, 4096);
  mem.write(DUMMY, fromHex(dummy));
  assert.deepEqual(py2SetKeys(mem, rt, AT, 20), {
    keys: [0x56506c8dd5d8n, 0x56506c8dd5a8n],
    length: 2,
  });
  assert.deepEqual(py2SetKeys(mem, rt, AT, 1), { keys: [0x56506c8dd5d8n], length: 2 });
  mem.writeU64(AT + 24n, 5n); // used > fill
  assert.throws(() => py2SetKeys(mem, rt, AT, 20), InvalidObjectError);
});
