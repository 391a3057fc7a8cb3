/**
 * The walker over corrupt memory: it must end with a marker, never hang,
 * throw or loop, whatever the bytes.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "../cpython/runtime.ts";
import { TypeNames } from "../cpython/objects.ts";
import { CodeReader } from "./code_objects.ts";
import { walkFrames } from "./frames.ts";
import { walkThreads } from "./threads.ts";
import type { PythonVersion } from "../cpython/version.ts";

const VERSIONS = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((minor): PythonVersion => ({
  major: 3,
  minor,
  micro: 0,
  releaseLevel: "final",
  serial: 0,
}));

const BASE = 0x10000n;
const SIZE = 64 * 1024;

/** A deterministic pseudo-random generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Memory whose words are random, with many of them pointing back into the region. */
function randomMemory(seed: number): FakeMemory {
  const mem = new FakeMemory();
  const bytes = mem.map(BASE, SIZE);
  const next = rng(seed);
  const view = new DataView(bytes.buffer);
  for (let off = 0; off < SIZE; off += 8) {
    const r = next();
    const value = r % 3 === 0
      ? BASE + BigInt((next() % SIZE) & ~7)
      : r % 3 === 1
      ? BigInt(next() % 1000)
      : BigInt(next()) << 16n;
    view.setBigUint64(off, value, true);
  }
  return mem;
}

/** Python 2.7 walks like 3.6 but reads its names as Py2 `str`. */
const PYTHON_27: PythonVersion = {
  major: 2,
  minor: 7,
  micro: 18,
  releaseLevel: "final",
  serial: 0,
};

for (const version of [...VERSIONS, PYTHON_27]) {
  const rt = selectRuntime(version);
  const label = `${version.major}.${version.minor}`;
  Deno.test(`walkFrames() on random memory ends without throwing (${label})`, () => {
    for (let seed = 1; seed <= 200; seed++) {
      const mem = randomMemory(seed);
      const ctx = { mem, rt, codes: new CodeReader(mem, rt), types: new TypeNames(mem, rt) };
      const start = BASE + BigInt((seed * 4096) % SIZE);
      const walk = walkFrames(ctx, start);
      assert.ok(walk.frames.length <= 100_000);
      for (const f of walk.frames) {
        assert.equal(typeof f.file, "string");
        assert.ok(Number.isInteger(f.location.line));
      }
    }
  });

  Deno.test(`walkThreads() on random memory ends without throwing (${label})`, () => {
    for (let seed = 1; seed <= 100; seed++) {
      const mem = randomMemory(seed * 7919);
      try {
        const walk = walkThreads({
          mem,
          rt,
          interp: BASE + BigInt((seed * 512) % SIZE),
          runtime: BASE,
          symbols: new Map(),
          tids: new Set([1, 2, 3]),
        });
        assert.ok(walk.threads.length <= 100_000);
      } catch (e) {
        // Only an unreadable interpreter state itself may fail the walk.
        assert.equal((e as Error).name, "MemoryReadError", String(e));
      }
    }
  });
}

Deno.test("walkFrames() stops at a frame chain that loops and says so", () => {
  const rt = selectRuntime(VERSIONS[5]!); // 3.11
  const frame = rt.layout.structs.frame!;
  const back = frame.fields["back"]!.offset;
  const mem = new FakeMemory();
  mem.map(BASE, SIZE);
  const a = BASE + 0x100n, b = BASE + 0x200n;
  mem.writeU64(a + BigInt(back), b);
  mem.writeU64(b + BigInt(back), a);
  const ctx = { mem, rt, codes: new CodeReader(mem, rt), types: new TypeNames(mem, rt) };
  const walk = walkFrames(ctx, a);
  assert.equal(walk.frames.length, 2);
  assert.match(walk.partial ?? "", /loops back/);
  // Frames whose code cannot be read are kept as placeholders, not dropped.
  assert.equal(walk.frames[0]!.function, "???");
});

Deno.test("walkFrames() ends at an unreadable frame with a marker", () => {
  const rt = selectRuntime(VERSIONS[2]!); // 3.8
  const frame = rt.layout.structs.frame!;
  const mem = new FakeMemory();
  mem.map(BASE, SIZE);
  const a = BASE + 0x100n;
  mem.writeU64(a + BigInt(frame.fields["back"]!.offset), 0xdead0000n);
  const ctx = { mem, rt, codes: new CodeReader(mem, rt), types: new TypeNames(mem, rt) };
  const walk = walkFrames(ctx, a);
  assert.equal(walk.frames.length, 1);
  assert.match(walk.partial ?? "", /0xdead0000 is unreadable/);
});
