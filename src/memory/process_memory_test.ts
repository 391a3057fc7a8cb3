import assert from "node:assert/strict";
import { ProcessMemory } from "./process_memory.ts";

/** A buffer of ours spanning `pages` whole pages, filled with a pattern; and those pages. */
function ownPages(pages: number): { bytes: Uint8Array; at: bigint[] } {
  const buffer = new Uint8Array(4096 * (pages + 1));
  const start = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
  const first = (start + 4095n) & ~4095n;
  const skip = Number(first - start);
  const bytes = buffer.subarray(skip, skip + 4096 * pages);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
  return { bytes, at: Array.from({ length: pages }, (_, i) => first + BigInt(i * 4096)) };
}

// 0x1000 lies below mmap_min_addr: never mapped.
const UNMAPPED = 0x1000n;

for (const useProcMem of [false, true]) {
  const via = useProcMem ? "/proc/PID/mem" : "process_vm_readv";
  Deno.test(`ProcessMemory.readPages() reads our own pages in few reads (${via})`, () => {
    const { bytes, at } = ownPages(3);
    using mem = new ProcessMemory(Deno.pid, { useProcMem });
    const got = mem.readPages([at[2]!, UNMAPPED, at[0]!, at[1]!]);
    assert.equal(got.get(UNMAPPED), null);
    for (const [i, page] of at.entries()) {
      assert.deepEqual(got.get(page), bytes.slice(i * 4096, (i + 1) * 4096), `page ${i}`);
    }
    // process_vm_readv: the batch stops at the unmapped page, which is tried alone, then the
    // last two pages in one more call. /proc/PID/mem reads page by page.
    assert.equal(mem.syscalls, useProcMem ? 5 : 3);
  });
}

Deno.test("ProcessMemory.prefetch() fills the page cache: later reads need no system call", () => {
  const { bytes, at } = ownPages(2);
  using mem = new ProcessMemory(Deno.pid);
  mem.prefetch(at);
  assert.equal(mem.syscalls, 1);
  assert.deepEqual(mem.read(at[0]! + 4090n, 12), bytes.slice(4090, 4102));
  assert.equal(mem.syscalls, 1);
  mem.clearCache();
  mem.read(at[0]!, 8);
  assert.equal(mem.syscalls, 2);
});
