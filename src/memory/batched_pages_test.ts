import assert from "node:assert/strict";
import { readPagesBatched, type VectorRead } from "./batched_pages.ts";
import { FakeMemory } from "./fake_memory.ts";

/** `process_vm_readv` over fake memory: page after page, stopping at the first unreadable. */
function fakeReadv(mem: FakeMemory, calls: bigint[][]): VectorRead {
  return (pages, size, into) => {
    calls.push([...pages]);
    let n = 0;
    for (const page of pages) {
      let bytes: Uint8Array;
      try {
        bytes = mem.read(page, size);
      } catch {
        break;
      }
      into.set(bytes, n);
      n += size;
    }
    return n;
  };
}

/** Fake memory with pages at `pages` (4 KiB), each filled with its page number. */
function pagesAt(pages: bigint[]): FakeMemory {
  const mem = new FakeMemory();
  for (const p of pages) mem.map(p, 4096).fill(Number((p >> 12n) & 0xffn));
  return mem;
}

Deno.test("readPagesBatched() reads scattered pages in one call, in order, repeats once", () => {
  const mem = pagesAt([0x7000n, 0x1000n, 0x42000n]);
  const calls: bigint[][] = [];
  const got = readPagesBatched([0x7000n, 0x1000n, 0x42000n, 0x1000n], fakeReadv(mem, calls));
  assert.deepEqual(calls, [[0x7000n, 0x1000n, 0x42000n]]);
  assert.deepEqual([...got.keys()], [0x7000n, 0x1000n, 0x42000n]);
  assert.deepEqual([...got.values()].map((b) => [b!.length, b![0], b![4095]]), [
    [4096, 0x07, 0x07],
    [4096, 0x01, 0x01],
    [4096, 0x42, 0x42],
  ]);
});

Deno.test("readPagesBatched() settles an unreadable page with one retry and goes on after it", () => {
  const mem = pagesAt([0x1000n, 0x3000n, 0x4000n]);
  const calls: bigint[][] = [];
  const got = readPagesBatched([0x1000n, 0x2000n, 0x3000n, 0x4000n], fakeReadv(mem, calls));
  assert.deepEqual(calls, [
    [0x1000n, 0x2000n, 0x3000n, 0x4000n], // stops short at 0x2000
    [0x2000n], // alone: still unreadable
    [0x3000n, 0x4000n],
  ]);
  assert.equal(got.get(0x2000n), null);
  assert.equal(got.get(0x1000n)![0], 1);
  assert.equal(got.get(0x4000n)![0], 4);
});

Deno.test("readPagesBatched() keeps a page that stopped a call but reads alone", () => {
  const mem = pagesAt([0x1000n, 0x2000n]);
  let first = true;
  const calls: bigint[][] = [];
  const inner = fakeReadv(mem, calls);
  // The first call stops short after one page (as if 0x2000 were unmapped for a moment).
  const readv: VectorRead = (pages, size, into) => {
    const n = inner(pages, size, into);
    if (!first) return n;
    first = false;
    return Math.min(n, size);
  };
  const got = readPagesBatched([0x1000n, 0x2000n], readv);
  assert.equal(calls.length, 2);
  assert.equal(got.get(0x2000n)![0], 2);
});

Deno.test("readPagesBatched() splits at maxPerCall and a first page that fails alone costs one call", () => {
  const mem = pagesAt([0x1000n, 0x2000n, 0x3000n, 0x5000n, 0x6000n]);
  const calls: bigint[][] = [];
  const got = readPagesBatched(
    [0x1000n, 0x2000n, 0x3000n, 0x4000n, 0x5000n, 0x6000n],
    fakeReadv(mem, calls),
    { maxPerCall: 3 },
  );
  assert.deepEqual(calls, [
    [0x1000n, 0x2000n, 0x3000n],
    [0x4000n, 0x5000n, 0x6000n], // fails at its first page
    [0x4000n], // alone
    [0x5000n, 0x6000n],
  ]);
  assert.equal(got.get(0x4000n), null);
  assert.equal(got.size, 6);
  assert.equal(readPagesBatched([], fakeReadv(mem, calls)).size, 0);
  assert.equal(calls.length, 4, "no call for no pages");
});

Deno.test("readPagesBatched() ends on memory that reads nothing: every page once, then alone", () => {
  const calls: bigint[][] = [];
  const got = readPagesBatched([0x1000n, 0x2000n], fakeReadv(new FakeMemory(), calls));
  assert.deepEqual([...got.values()], [null, null]);
  assert.deepEqual(calls, [[0x1000n, 0x2000n], [0x1000n], [0x2000n]]);
});
