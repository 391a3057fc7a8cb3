/**
 * `ValueRenderer` with 2.7's rules on random memory: it must always end with
 * some text, bounded. Real 2.7 objects are checked live and from cores by
 * `tests/locals_py2_test.ts`.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "./runtime.ts";
import { VALUE_LIMITS, ValueRenderer } from "./values.ts";

for (const unicodeWidth of [2, 4] as const) {
  Deno.test(`ValueRenderer.repr() on random words of 2.7 (UCS${unicodeWidth}) ends with some text`, () => {
    const rt = selectRuntime(
      { major: 2, minor: 7, micro: 18, releaseLevel: "final", serial: 0 },
      { py2UnicodeWidth: unicodeWidth },
    );
    assert.equal(rt.values?.py2?.unicodeWidth, unicodeWidth);
    const base = 0x10000n;
    const size = 64 * 1024;
    for (let seed = 1; seed <= 50; seed++) {
      const mem = new FakeMemory();
      const view = new DataView(mem.map(base, size).buffer);
      let x = seed * 2654435761 >>> 0 || 1;
      const next = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return x >>> 0;
      };
      for (let off = 0; off < size; off += 8) {
        const r = next() % 4;
        view.setBigUint64(
          off,
          r === 0
            ? base + BigInt((next() % size) & ~7)
            : r === 1
            ? BigInt(next() % 64)
            : r === 2
            ? BigInt(next()) | (1n << 12n) // with Py_TPFLAGS_READY set
            : BigInt(next()) << 16n,
          true,
        );
      }
      const renderer = new ValueRenderer(mem, rt);
      for (let i = 0; i < 20; i++) {
        const text = renderer.repr(base + BigInt((next() % size) & ~7));
        assert.equal(typeof text, "string");
        assert.ok(text.length < 50 * VALUE_LIMITS.chars, `seed ${seed}: ${text.length} chars`);
      }
    }
  });
}
