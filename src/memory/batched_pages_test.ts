import assert from "node:assert/strict";
import { readBatched, type VectorRead } from "./batched_pages.ts";

/** `process_vm_readv` over pages that are `readable` or not: stops at the first unreadable. */
function fakeReadv(readable: boolean[], calls: number[][]): VectorRead {
  return (start, count) => {
    calls.push([start, count]);
    let n = 0;
    while (n < count && readable[start + n]) n++;
    return n * 4096;
  };
}

Deno.test("readBatched() reads readable pages in one call", () => {
  const calls: number[][] = [];
  assert.deepEqual(readBatched(3, fakeReadv([true, true, true], calls)), [true, true, true]);
  assert.deepEqual(calls, [[0, 3]]);
});

Deno.test("readBatched() settles an unreadable page with one retry and goes on after it", () => {
  const calls: number[][] = [];
  const got = readBatched(4, fakeReadv([true, false, true, true], calls));
  assert.deepEqual(got, [true, false, true, true]);
  assert.deepEqual(calls, [[0, 4], [1, 1], [2, 2]]);
});

Deno.test("readBatched() keeps a page that stopped a call but reads alone", () => {
  const calls: number[][] = [];
  const inner = fakeReadv([true, true], calls);
  let first = true;
  // The first call stops short after one page (as if page 1 were unmapped for a moment).
  const readv: VectorRead = (start, count) => {
    const n = inner(start, count);
    if (!first) return n;
    first = false;
    return Math.min(n, 4096);
  };
  assert.deepEqual(readBatched(2, readv), [true, true]);
  assert.deepEqual(calls, [[0, 2], [1, 1]]);
});

Deno.test("readBatched() splits at maxPerCall; a single page that fails is not tried twice", () => {
  const calls: number[][] = [];
  const got = readBatched(
    7,
    fakeReadv([true, true, true, false, true, true, false], calls),
    { maxPerCall: 3 },
  );
  assert.deepEqual(got, [true, true, true, false, true, true, false]);
  assert.deepEqual(calls, [[0, 3], [3, 3], [3, 1], [4, 3], [6, 1]]);
  assert.deepEqual(readBatched(0, fakeReadv([], calls)), []);
  assert.equal(calls.length, 5, "no call for no pages");
});

Deno.test("readBatched() counts a short read inside a page as not reading that page", () => {
  const calls: number[][] = [];
  const got = readBatched(2, (start, count) => {
    calls.push([start, count]);
    return start === 0 ? 4096 + 100 : 0;
  });
  assert.deepEqual(got, [true, false]);
  assert.deepEqual(calls, [[0, 2], [1, 1]]);
});
