/**
 * `--locals` over corrupt memory: variables and thread names read from random
 * words end with some text or nothing, never throw and never hang.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "../cpython/runtime.ts";
import type { PyFrame, PyThread } from "../model.ts";
import { addLocals } from "./locals.ts";
import { VariableReader } from "./variables.ts";

const BASE = 0x10000n;
const SIZE = 64 * 1024;

function randomMemory(seed: number): FakeMemory {
  const mem = new FakeMemory();
  const view = new DataView(mem.map(BASE, SIZE).buffer);
  let x = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let off = 0; off < SIZE; off += 8) {
    const r = next() % 4;
    view.setBigUint64(
      off,
      r === 0
        ? BASE + BigInt((next() % SIZE) & ~7)
        : r === 1
        ? BigInt(next() % 64)
        : r === 2
        ? BigInt(next()) | (1n << 12n)
        : BigInt(next()) << 16n,
      true,
    );
  }
  return mem;
}

function frame(seed: number): PyFrame {
  return {
    file: "x.py",
    function: "f",
    location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
    isEntry: true,
    frameAddress: BASE + BigInt((seed * 4096) % SIZE),
    codeAddress: BASE + BigInt((seed * 7919 * 8) % SIZE),
  };
}

const VERSIONS: [number, number][] = [
  [2, 7],
  ...[6, 7, 8, 9, 10, 11, 12, 13].map((m) => [3, m]),
] as [
  number,
  number,
][];

for (const [major, minor] of VERSIONS) {
  const rt = selectRuntime({ major, minor, micro: 0, releaseLevel: "final", serial: 0 });

  Deno.test(`VariableReader.read() on random memory never throws (${major}.${minor})`, () => {
    for (let seed = 1; seed <= 100; seed++) {
      const variables = new VariableReader(randomMemory(seed), rt).read(frame(seed));
      for (const v of variables ?? []) {
        assert.equal(typeof v.value, "string");
        assert.ok(v.name.length > 0);
      }
    }
  });

  Deno.test(`addLocals() on random memory never throws (${major}.${minor})`, () => {
    for (let seed = 1; seed <= 50; seed++) {
      const thread: PyThread = {
        tid: 1,
        threadStateAddress: BASE + BigInt((seed * 1024) % SIZE),
        interpreterId: 0,
        frames: [frame(seed)],
        holdsGil: false,
        gcCollecting: false,
      };
      const warnings = addLocals(
        { mem: randomMemory(seed * 31), rt, interp: BASE + BigInt((seed * 512) % SIZE) },
        [thread],
      );
      assert.ok(Array.isArray(warnings));
      if (thread.pythonName !== undefined) assert.equal(typeof thread.pythonName, "string");
    }
  });
}

// The values themselves are checked by tests/locals_test.ts and tests/locals_py2_test.ts.
