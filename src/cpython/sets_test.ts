import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "./runtime.ts";
import { InvalidObjectError } from "./objects.ts";
import { MAX_SET_TABLE, setKeys } from "./sets.ts";

const rt = selectRuntime({ major: 3, minor: 12, micro: 1, releaseLevel: "final", serial: 0 });
const SET = 0x1000n;
const TABLE = 0x2000n;

/** A set object at SET whose table of `size` slots is at TABLE. */
function setOf(used: number, size: number, entries: [number, bigint, bigint][]): FakeMemory {
  const mem = new FakeMemory();
  mem.map(SET, 256);
  if (size <= 1024) mem.map(TABLE, Math.max(size, 1) * 16);
  const fields = rt.layout.structs.set!.fields;
  mem.writeU64(SET + BigInt(fields.used!.offset), BigInt(used));
  mem.writeU64(SET + BigInt(fields.mask!.offset), BigInt(size - 1));
  mem.writeU64(SET + BigInt(fields.table!.offset), TABLE);
  for (const [slot, key, hash] of entries) {
    mem.writeU64(TABLE + BigInt(slot * 16), key);
    mem.writeU64(TABLE + BigInt(slot * 16 + 8), BigInt.asUintN(64, hash));
  }
  return mem;
}

Deno.test("setKeys() returns the keys of a set's table, without empty and deleted slots", () => {
  const mem = setOf(2, 8, [[1, 0x5000n, 11n], [3, 0x6000n, -1n], [6, 0x7000n, 42n]]);
  assert.deepEqual(setKeys(mem, rt, SET), [0x5000n, 0x7000n]);
});

Deno.test("setKeys() refuses an implausible set instead of reading it", () => {
  assert.throws(
    () => setKeys(setOf(9, 8, []), rt, SET),
    InvalidObjectError,
    "more keys than slots",
  );
  assert.throws(() => setKeys(setOf(1, 6, []), rt, SET), InvalidObjectError, "not a power of 2");
  assert.throws(
    () => setKeys(setOf(1, MAX_SET_TABLE * 2, []), rt, SET),
    InvalidObjectError,
    "a table too large",
  );
});
