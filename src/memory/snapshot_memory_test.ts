import assert from "node:assert/strict";
import { RecordingMemory, SnapshotMemory } from "./snapshot_memory.ts";
import { FakeMemory } from "./fake_memory.ts";
import { MemoryReadError } from "./memory_reader.ts";

/** A 4 KiB page whose byte i is (seed + i) & 0xff. */
function page(seed: number): Uint8Array {
  return Uint8Array.from({ length: 4096 }, (_, i) => (seed + i) & 0xff);
}

Deno.test("SnapshotMemory reads within and across pages as they were copied", () => {
  const mem = new SnapshotMemory(new Map([[0x1000n, page(0)], [0x2000n, page(7)]]));
  assert.deepEqual([...mem.read(0x1010n, 3)], [0x10, 0x11, 0x12]);
  // The last two bytes of the first page, then the first two of the second.
  assert.deepEqual([...mem.read(0x1ffen, 4)], [0xfe, 0xff, 7, 8]);
  assert.equal(mem.read(0x1000n, 8192).length, 8192);
  assert.equal(mem.missing.size, 0);
  assert.deepEqual([...mem.touched], [0x1000n, 0x2000n]);
});

Deno.test("SnapshotMemory fails a read of a page it lacks, and notes the page as missing", () => {
  const mem = new SnapshotMemory(new Map([[0x1000n, page(0)], [0x3000n, null]]));
  assert.throws(() => mem.read(0x1ff0n, 0x20), MemoryReadError);
  assert.deepEqual([...mem.missing], [0x2000n]);
  // A page that could not be read when copied fails too, but is not missing.
  assert.throws(() => mem.read(0x3008n, 8), MemoryReadError);
  assert.deepEqual([...mem.missing], [0x2000n]);
  assert.throws(() => mem.read(0n, 8), /null address/);
  // Across several pages: each page it lacks is noted.
  assert.throws(() => mem.read(0x4ff8n, 0x1010), MemoryReadError);
  assert.deepEqual([...mem.missing], [0x2000n, 0x4000n, 0x5000n, 0x6000n]);
  assert.deepEqual([...mem.touched], [0x1000n, 0x2000n, 0x3000n, 0x4000n, 0x5000n, 0x6000n]);
});

Deno.test("RecordingMemory notes the pages of every read, the failed ones too", () => {
  const fake = new FakeMemory();
  fake.map(0x1000n, 0x2000).set(page(1), 0);
  const rec = new RecordingMemory(fake);
  assert.deepEqual([...rec.read(0x1ffcn, 8)], [0xfd, 0xfe, 0xff, 0x00, 0, 0, 0, 0]);
  assert.throws(() => rec.read(0x5000n, 8), MemoryReadError);
  assert.deepEqual([...rec.pages], [0x1000n, 0x2000n, 0x5000n]);
  assert.equal(rec.overflow, false);
  assert.throws(() => rec.read(0x9000n, 4096 * 16 * 1024 + 1));
  assert.equal(rec.overflow, true);
});
