import assert from "node:assert/strict";
import { FakeMemory } from "../../memory/fake_memory.ts";
import { ChunkWords, findGcListHeads, listTails, stillTracked, walkGcList } from "./gc_lists.ts";

const STATE = 0x10000n; // a fake struct _gc_runtime_state: two list heads at +24 and +48
const NODES = 0x20000n; // nodes 0x40 bytes apart: PyGC_Head, then ob_refcnt, ob_type

/** A GC state whose list at +24 holds `count` objects of type 0x9000 + i; +48 is empty. */
function memory(count: number): FakeMemory {
  const mem = new FakeMemory();
  mem.map(STATE, 0x1000); // whole pages, as mappings are
  mem.map(NODES, 0x1000);
  const head = STATE + 24n;
  const node = (i: number) => i < 0 || i >= count ? head : NODES + BigInt(i) * 0x40n;
  mem.writeU64(head, node(0));
  mem.writeU64(head + 8n, node(count - 1));
  for (let i = 0; i < count; i++) {
    mem.writeU64(node(i), node(i + 1));
    mem.writeU64(node(i) + 8n, node(i - 1) | 1n); // a collector flag in the low bits
    mem.writeU64(node(i) + 16n + 8n, 0x9000n + BigInt(i));
  }
  mem.writeU64(STATE + 48n, STATE + 48n);
  mem.writeU64(STATE + 56n, STATE + 48n);
  return mem;
}

function walk(mem: FakeMemory, budget = 100) {
  const seen: [number, number][] = [];
  const result = walkGcList(
    mem,
    { head: STATE + 24n, budget, typeOffset: 8, headSize: 16 },
    (o, t) => {
      seen.push([o, t]);
    },
  );
  return { seen, result };
}

Deno.test("findGcListHeads() finds a full ring and an empty one, nothing else", () => {
  assert.deepEqual(findGcListHeads(memory(3), STATE, 0x100), [STATE + 24n, STATE + 48n]);
});

Deno.test("walkGcList() visits every object with its type, oldest first", () => {
  const { seen, result } = walk(memory(3));
  assert.deepEqual(result, { visited: 3, last: 0x20080 });
  assert.deepEqual(seen, [
    [0x20010, 0x9000],
    [0x20050, 0x9001],
    [0x20090, 0x9002],
  ]);
});

Deno.test("walkGcList() stops at its budget with a marker", () => {
  const { seen, result } = walk(memory(5), 2);
  assert.equal(seen.length, 2);
  assert.deepEqual(result, { visited: 2, last: 0x20040, partial: "stopped after 2 objects" });
});

Deno.test("walkGcList() ends a list that loops without coming back to its head", () => {
  const mem = memory(3);
  mem.writeU64(NODES + 0x80n, NODES + 0x40n); // the last node points back to the second
  const { result } = walk(mem);
  assert.deepEqual(result, { visited: 3, last: 0x20080, partial: "GC list broken at 0x20040" });
});

Deno.test("walkGcList() ends at an unreadable or garbage next pointer", () => {
  const unreadable = memory(3);
  unreadable.writeU64(NODES + 0x40n, 0x7f0000000000n);
  assert.deepEqual(walk(unreadable).result, {
    visited: 2,
    last: 0x20040,
    partial: "GC list unreadable after 0x20040",
  });
  const garbage = memory(3);
  garbage.writeU64(NODES + 0x40n, 0xdeadbeefdeadbeefn);
  assert.deepEqual(walk(garbage).result, {
    visited: 2,
    last: 0x20040,
    partial: "GC list broken at 0x20040",
  });
});

Deno.test("ChunkWords.word() reads words near the end of a mapping page by page", () => {
  const mem = new FakeMemory();
  mem.map(0x30000n, 0x1000); // shorter than a 64 KiB chunk
  mem.writeU64(0x30ff8n, 0x123456789abcn);
  assert.equal(new ChunkWords(mem).word(0x30ff8), 0x123456789abc);
  assert.throws(() => new ChunkWords(mem).word(0x40000), RangeError);
});

Deno.test("listTails() gives each list's newest node, the head of an empty one", () => {
  assert.deepEqual(listTails(memory(3), [STATE + 24n, STATE + 48n]), [NODES + 0x80n, STATE + 48n]);
});

Deno.test("stillTracked() tells a linked object from an unlinked or freed one", () => {
  const mem = memory(3);
  assert.ok(stillTracked(mem, NODES + 0x40n + 16n, 16));
  mem.writeU64(NODES + 0x40n, 0n); // untracked: _gc_next cleared
  assert.ok(!stillTracked(mem, NODES + 0x40n + 16n, 16));
  mem.writeU64(NODES + 0x80n, NODES + 0x200n); // freed: a free-list pointer in _gc_next
  assert.ok(!stillTracked(mem, NODES + 0x80n + 16n, 16));
});
