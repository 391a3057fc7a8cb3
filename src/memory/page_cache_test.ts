import assert from "node:assert/strict";
import { bytesSource } from "../elf/elf_file.ts";
import { PageCache } from "./page_cache.ts";
import { openFileReader } from "./file_reader.ts";

const BYTES = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);

Deno.test("PageCache.read() returns the bytes of the source across pages", () => {
  const cache = new PageCache({ pageSize: 256, maxPages: 4 });
  const source = bytesSource(BYTES);
  for (const [offset, length] of [[0, 1], [250, 20], [255, 513], [9_990, 10], [100, 2_000]]) {
    assert.deepEqual(cache.read(source, offset!, length!), BYTES.slice(offset, offset! + length!));
  }
});

Deno.test("PageCache keeps at most maxPages and drops the least recently used", () => {
  const cache = new PageCache({ pageSize: 256, maxPages: 2 });
  const source = bytesSource(BYTES);
  cache.read(source, 0, 1);
  cache.read(source, 256, 1);
  cache.read(source, 0, 1); // page 0 is now the most recent
  cache.read(source, 512, 1); // drops page 1
  assert.equal(cache.misses, 3);
  cache.read(source, 0, 1);
  assert.equal(cache.misses, 3);
  cache.read(source, 256, 1);
  assert.equal(cache.misses, 4);
});

Deno.test("PageCache refills its own pages but never a source's views", () => {
  const copy = BYTES.slice();
  const cache = new PageCache({ pageSize: 256, maxPages: 1 });
  const source = bytesSource(copy);
  for (let p = 0; p < 30; p++) cache.read(source, p * 256, 8);
  assert.deepEqual(copy, BYTES);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeFileSync(`${dir}/f`, BYTES);
    using reader = openFileReader(`${dir}/f`);
    const first = cache.read(reader, 0, 16);
    for (let p = 0; p < 30; p++) {
      assert.deepEqual(cache.read(reader, p * 256 + 3, 8), BYTES.slice(p * 256 + 3, p * 256 + 11));
    }
    assert.deepEqual(first, BYTES.slice(0, 16), "returned copies are not overwritten");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
