/**
 * `DictReader` on the bytes of real dicts and instances of CPython 3.6 to
 * 3.13 (combined and split tables, instance attributes in a dict, in values
 * shared through the class's keys (3.11, 3.12) or inline (3.13)), captured
 * by `scripts/capture_value_cases.ts`.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "./runtime.ts";
import { DictReader } from "./dicts.ts";
import { InvalidObjectError, TypeNames } from "./objects.ts";
import { ValueRenderer } from "./values.ts";

interface Capture {
  python: string;
  cases: { name: string; address: string }[];
  lookups: { kind: "attribute" | "key"; object: string; key: string; expected: string | null }[];
  regions: [address: string, base64: string][];
}

for (const minor of [6, 7, 8, 9, 10, 11, 12, 13]) {
  const capture = JSON.parse(
    Deno.readTextFileSync(new URL(`./testdata/values_3_${minor}.json`, import.meta.url)),
  ) as Capture;
  const [major, minorNumber, micro] = capture.python.split(".").map(Number) as number[];
  const rt = selectRuntime({
    major: major!,
    minor: minorNumber!,
    micro: micro!,
    releaseLevel: "final",
    serial: 0,
  });
  const memory = () => {
    const mem = new FakeMemory();
    for (const [address, base64] of capture.regions) {
      const bytes = Buffer.from(base64, "base64");
      mem.map(BigInt(address), bytes.length).set(bytes);
    }
    return mem;
  };
  const address = (name: string) => BigInt(capture.cases.find((c) => c.name === name)!.address);

  Deno.test(`DictReader finds attributes and str keys in real objects of 3.${minor}`, () => {
    const mem = memory();
    const dicts = new DictReader(mem, rt);
    const types = new TypeNames(mem, rt);
    const values = new ValueRenderer(mem, rt);
    for (const l of capture.lookups) {
      const found = l.kind === "attribute"
        ? dicts.attribute(address(l.object), l.key, types)
        : dicts.lookup(address(l.object), l.key, types);
      assert.equal(found === undefined ? null : values.repr(found), l.expected, JSON.stringify(l));
    }
  });

  Deno.test(`DictReader.lookupAll() finds several str keys in one pass (3.${minor})`, () => {
    const mem = memory();
    const dicts = new DictReader(mem, rt);
    const types = new TypeNames(mem, rt);
    const values = new ValueRenderer(mem, rt);
    const byObject = Map.groupBy(capture.lookups.filter((l) => l.kind === "key"), (l) => l.object);
    assert.ok(byObject.size > 0);
    for (const [object, lookups] of byObject) {
      // Every captured key at once, and one no dict has.
      const keys = [...lookups.map((l) => l.key), "no_such_key_anywhere"];
      const found = dicts.lookupAll(address(object), keys, types);
      assert.equal(found.has("no_such_key_anywhere"), false);
      for (const l of lookups) {
        const value = found.get(l.key);
        assert.equal(
          value === undefined ? null : values.repr(value),
          l.expected,
          JSON.stringify(l),
        );
      }
    }
  });

  Deno.test(`DictReader.items() gives the first items in order and the length (3.${minor})`, () => {
    const mem = memory();
    const dicts = new DictReader(mem, rt);
    const values = new ValueRenderer(mem, rt);
    const shown = (name: string, limit: number) => {
      const { items, length } = dicts.items(address(name), limit);
      return { items: items.map(([k, v]) => `${values.repr(k)}: ${values.repr(v)}`), length };
    };
    assert.deepEqual(shown("dict_deleted", 3), {
      items: ["0: 0", "1: 1", "2: 2"],
      length: 10,
    });
    assert.deepEqual(shown("dict_deleted", 20).items.slice(-2), ["9: 9", "3: 'back'"]);
    assert.deepEqual(shown("dict_split", 5), { items: ["'x': 1", "'y': 'barbaridad'"], length: 2 });
    assert.deepEqual(shown("dict_big", 2), { items: ["0: 0", "1: 1"], length: 1000 });
    assert.deepEqual(shown("dict_empty", 5), { items: [], length: 0 });
  });

  Deno.test(`DictReader.items() rejects a dict whose keys are garbage (3.${minor})`, () => {
    const mem = memory();
    const dict = address("dict");
    const keys = BigInt(rt.layout.structs.dict!.fields.keys!.offset);
    const keysObject = new DataView(mem.read(dict + keys, 8).buffer).getBigUint64(0, true);
    const nentries = BigInt(rt.layout.structs.dictkeys!.fields.nentries!.offset);
    mem.writeU64(keysObject + nentries, 1n << 40n);
    assert.throws(() => new DictReader(mem, rt).items(dict, 5), InvalidObjectError);
  });
}
