/**
 * `InterpreterValidator` over crafted memory: a real interpreter state passes, and the header of
 * a glibc malloc arena (which a scan of anonymous mappings meets in every threaded process) does
 * not, although its bins point back at it the way a thread state points at its interpreter.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "../cpython/runtime.ts";
import { TypeFlags, TypeNames } from "../cpython/objects.ts";
import { InterpreterValidator } from "./find_interpreter.ts";

const rt = selectRuntime({ major: 3, minor: 8, micro: 18, releaseLevel: "final", serial: 0 });
const { interp: INTERP, thread: THREAD, type: TYPE, object: OBJECT } = rt.layout.structs;
const off = (layout: typeof INTERP, field: string) => BigInt(layout!.fields[field]!.offset);

/** An interpreter state whose dicts have the type named `typeName`. */
function interpreterMemory(typeName = "dict") {
  const mem = new FakeMemory();
  const interp = 0x5600_0000_1000n;
  const thread = 0x5600_0000_8000n;
  const type = 0x7f00_0000_1000n;
  const name = 0x7f00_0000_2000n;
  const dicts = [0x5600_0001_0000n, 0x5600_0001_0100n, 0x5600_0001_0200n];
  mem.map(interp, INTERP!.size);
  mem.map(thread, THREAD!.size);
  mem.map(type, TYPE!.size);
  mem.map(name, 4096).set(new TextEncoder().encode(`${typeName}\0`));
  mem.map(dicts[0]!, 0x300);
  mem.writeU64(interp + off(INTERP, "tstate_head"), thread);
  mem.writeU64(thread + off(THREAD, "interp"), interp);
  mem.writeU64(type + off(TYPE, "name"), name);
  mem.writeU64(type + off(TYPE, "flags"), TypeFlags.DICT_SUBCLASS | (1n << 9n));
  ["modules", "sysdict", "builtins"].forEach((field, i) => {
    mem.writeU64(interp + off(INTERP, field), dicts[i]!);
    mem.writeU64(dicts[i]! + off(OBJECT, "type"), type);
  });
  return { mem, interp };
}

/**
 * The start of a glibc arena as a 3.8 process showed it (`fixtures/hidden_interpreter.py`):
 * `top` and `last_remainder` at 0x90 and 0x98, then the bins from 0xa0, each empty bin's two
 * words pointing 16 bytes before it, the unsorted bin holding one free chunk at 0x16c0 whose
 * `fd` and `bk` (at +16 and +24) point back at 0x90.
 */
function arenaMemory() {
  const mem = new FakeMemory();
  const arena = 0x7f2b_f400_0000n;
  mem.map(arena, 0x3000);
  mem.writeU64(arena + 0x90n, arena + 0x24b0n);
  mem.writeU64(arena + 0x98n, arena + 0x16c0n);
  mem.writeU64(arena + 0xa0n, arena + 0x16c0n);
  mem.writeU64(arena + 0xa8n, arena + 0x16c0n);
  for (let bin = arena + 0xb0n; bin < arena + 0x890n; bin += 16n) {
    mem.writeU64(bin, bin - 16n);
    mem.writeU64(bin + 8n, bin - 16n);
  }
  mem.writeU64(arena + 0x16d0n, arena + 0x90n);
  mem.writeU64(arena + 0x16d8n, arena + 0x90n);
  return { mem, candidate: arena + 0x90n };
}

Deno.test("InterpreterValidator.isValid() accepts an interpreter state whose dicts are dicts", () => {
  const { mem, interp } = interpreterMemory();
  assert.equal(new InterpreterValidator(mem, rt).isValid(interp), true);
});

Deno.test("InterpreterValidator.isValid() rejects dicts of another type with the dict flag", () => {
  const { mem, interp } = interpreterMemory("OrderedDict");
  assert.equal(new InterpreterValidator(mem, rt).isValid(interp), false);
});

Deno.test("InterpreterValidator.isValid() rejects the header of a glibc malloc arena", () => {
  const { mem, candidate } = arenaMemory();
  // What made it pass before: its "thread state" points back, and its "dicts" have a type
  // whose tp_flags (an arena address) have the dict bit.
  const tstate = new DataView(mem.read(candidate + off(INTERP, "tstate_head"), 8).buffer)
    .getBigUint64(0, true);
  const back = new DataView(mem.read(tstate + off(THREAD, "interp"), 8).buffer)
    .getBigUint64(0, true);
  assert.equal(back, candidate);
  const modules = new DataView(mem.read(candidate + off(INTERP, "modules"), 8).buffer)
    .getBigUint64(0, true);
  const type = new TypeNames(mem, rt).ofObject(modules);
  assert.notEqual(type.flags & TypeFlags.DICT_SUBCLASS, 0n);
  assert.notEqual(type.name, "dict");
  assert.equal(new InterpreterValidator(mem, rt).isValid(candidate), false);
});

Deno.test("InterpreterValidator.isValid() takes unreadable dicts only where the runtime named it", () => {
  const mem = new FakeMemory();
  const interp = 0x5600_0000_1000n;
  const thread = 0x5600_0000_8000n;
  mem.map(interp, INTERP!.size);
  mem.map(thread, THREAD!.size);
  mem.writeU64(interp + off(INTERP, "tstate_head"), thread);
  mem.writeU64(thread + off(THREAD, "interp"), interp);
  ["modules", "sysdict", "builtins"].forEach((field, i) => {
    // In a part of the core that was cut off: not mapped here.
    mem.writeU64(interp + off(INTERP, field), 0x5600_0001_0000n + BigInt(i) * 0x100n);
  });
  const validator = new InterpreterValidator(mem, rt);
  assert.equal(validator.isValid(interp), false, "found by a scan: the dicts are the test");
  assert.equal(validator.isValid(interp, { named: true }), true);
  // A thread state that does not point back is refused all the same.
  mem.writeU64(thread + off(THREAD, "interp"), 0x1000n);
  assert.equal(validator.isValid(interp, { named: true }), false);
});

Deno.test("InterpreterValidator.isValid() refuses readable non-dicts even where named", () => {
  const { mem, interp } = interpreterMemory("OrderedDict");
  assert.equal(new InterpreterValidator(mem, rt).isValid(interp, { named: true }), false);
});
