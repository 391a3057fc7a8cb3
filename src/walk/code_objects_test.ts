import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { fromHex } from "../bytes.ts";
import { selectRuntime } from "../cpython/runtime.ts";
import { CodeReader } from "./code_objects.ts";

const rt27 = selectRuntime({ major: 2, minor: 7, micro: 18, releaseLevel: "final", serial: 0 });

/** Writes a 2.7 `PyStringObject` holding `bytes` at `address` (header as the layout says). */
function writePy2Str(mem: FakeMemory, address: bigint, bytes: Uint8Array): void {
  const layout = rt27.layout.structs.bytes!;
  mem.writeU64(address + BigInt(layout.fields["size"]!.offset), BigInt(bytes.length));
  mem.write(address + BigInt(layout.fields["sval"]!.offset), bytes);
}

Deno.test("CodeReader reads a 2.7 code object: str names, lnotab with a +255 line delta", () => {
  const mem = new FakeMemory();
  const base = 0x10000n;
  mem.map(base, 4096);
  const code = base;
  const [filename, name, lnotab] = [base + 0x400n, base + 0x500n, base + 0x600n];
  const fields = rt27.layout.structs.code!.fields;
  const at = (field: string) => code + BigInt(fields[field]!.offset);
  mem.writeU64(at("filename"), filename);
  mem.writeU64(at("name"), name);
  mem.writeU64(at("linetable"), lnotab);
  mem.writeI32(at("firstlineno"), 7);
  writePy2Str(mem, filename, new TextEncoder().encode("/srv/café.py"));
  writePy2Str(mem, name, new TextEncoder().encode("far"));
  // 2.7.18's lnotab of a function whose line jumps by 301 (pairs 06 ff, 00 2e: 255 + 46) at byte 6,
  // then by 151 (pair 0a 97) at byte 16: deltas of 128-255 are positive in 2.7.
  writePy2Str(mem, lnotab, fromHex("000106ff002e0a97"));

  const reader = new CodeReader(mem, rt27);
  const info = reader.read(code);
  assert.equal(info.file, "/srv/café.py");
  assert.equal(info.name, "far");
  assert.equal(info.firstLineNo, 7);
  assert.equal(reader.locate(info, { lasti: 0 }).line, 8);
  assert.equal(reader.locate(info, { lasti: 6 }).line, 309);
  assert.equal(reader.locate(info, { lasti: 16 }).line, 460);
  assert.equal(reader.locate(info, { lasti: -1 }).line, 7);
});

Deno.test("CodeReader gives the first line, not 0, at an instruction without a line (3.11 closure)", () => {
  const rt311 = selectRuntime({ major: 3, minor: 11, micro: 7, releaseLevel: "final", serial: 0 });
  const reader = new CodeReader(new FakeMemory(), rt311);
  // `inner` of `def outer(): x = 1; def inner(): return x` (3.11.7): COPY_FREE_VARS has no
  // location (0xf8), then RESUME on line 4, then `return x` on line 5.
  const info = {
    address: 0x1000n,
    file: "f.py",
    name: "inner",
    firstLineNo: 4,
    lineTable: fromHex("f88000d80f108808"),
    codeStart: 0x2000n,
  };
  assert.equal(reader.locate(info, { instr: 0x2000n }).line, 4);
  assert.equal(reader.locate(info, { instr: 0x2004n }).line, 5);
});

Deno.test("CodeReader.locate() remembers locations per position and hands out copies", () => {
  const rt311 = selectRuntime({ major: 3, minor: 11, micro: 7, releaseLevel: "final", serial: 0 });
  const reader = new CodeReader(new FakeMemory(), rt311);
  // The `simple` function of 3.11 (`x = a + b` on line 2): RESUME on line 1, then columns 8-9.
  const info = {
    address: 0x1000n,
    file: "f.py",
    name: "simple",
    firstLineNo: 1,
    lineTable: fromHex("8000d80809884189" + "05"),
    codeStart: 0x2000n,
  };
  const first = reader.locate(info, { instr: 0x2002n });
  assert.deepEqual(first, { line: 2, endLine: 2, column: 8, endColumn: 9 });
  first.line = 99; // a caller's change does not reach the next frame at the same position
  assert.deepEqual(reader.locate(info, { instr: 0x2002n }), {
    line: 2,
    endLine: 2,
    column: 8,
    endColumn: 9,
  });
  assert.deepEqual(reader.locate(info, { instr: 0x2006n }), {
    line: 2,
    endLine: 2,
    column: 8,
    endColumn: 13,
  });
  assert.equal(reader.locate(info, { instr: 0x2000n }).line, 1);
  // Remembered: with the line table gone, the positions asked before are answered as before.
  const unasked = reader.locate({ ...info, lineTable: info.lineTable.slice() }, { instr: 0x2004n });
  info.lineTable.fill(0);
  assert.deepEqual(reader.locate(info, { instr: 0x2006n }), {
    line: 2,
    endLine: 2,
    column: 8,
    endColumn: 13,
  });
  assert.equal(reader.locate(info, { instr: 0x2000n }).line, 1);
  assert.notDeepEqual(reader.locate(info, { instr: 0x2004n }), unasked, "a new one is decoded");
});
