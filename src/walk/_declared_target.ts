/**
 * Test helper: a target built over bytes that declares its own offsets in
 * `_Py_DebugOffsets` (3.13+), as the free-threaded and newer-than-known tests
 * need: the offsets a layout would declare, and a fake memory with the runtime,
 * the interpreter and a heap to write objects at those offsets.
 *
 * @module
 */

import { FakeMemory } from "../memory/fake_memory.ts";
import type { FieldKind, Layout, StructName } from "../cpython/layout.ts";
import { fieldWidth } from "../cpython/struct_view.ts";
import { FIELD_MAP, SIZE_MAP } from "./debug_offsets.ts";

/** Where the fake target's runtime, interpreter state and heap start. */
export const RUNTIME = 0x100000n;
export const INTERP = 0x200000n;
export const HEAP = 0x400000n;

/**
 * The `_Py_DebugOffsets` values a target of `layout` declares: the sizes and
 * fields of `SIZE_MAP`/`FIELD_MAP`, the GIL at the end of the interpreter
 * state, the GC's `collecting` and the ASCII object's size.
 */
export function declaredOffsets(layout: Layout): Map<string, number> {
  const s = layout.structs;
  const values = new Map<string, number>();
  for (const [group, struct] of SIZE_MAP) values.set(`${group}.size`, s[struct]!.size);
  for (const [name, struct, field] of FIELD_MAP) {
    const f = s[struct]?.fields[field];
    if (f !== undefined) values.set(name, f.offset);
  }
  const gilBase = s.interp!.size - s.gil!.size;
  values.set("interpreter_state.gil_runtime_state", gilBase);
  values.set(
    "interpreter_state.gil_runtime_state_locked",
    gilBase + s.gil!.fields["locked"]!.offset,
  );
  values.set(
    "interpreter_state.gil_runtime_state_holder",
    gilBase + s.gil!.fields["last_holder"]!.offset,
  );
  const collecting = s.gc!.fields["collecting"]!.offset;
  values.set("interpreter_state.gc", s.interp!.fields["gc_collecting"]!.offset - collecting);
  values.set("gc.collecting", collecting);
  values.set("unicode_object.asciiobject_size", s.unicode!.size);
  return values;
}

/** The kind of the field a declared name stands for in `layout` (u64 when unknown). */
export function declaredKind(layout: Layout, name: string): FieldKind {
  const entry = FIELD_MAP.find(([n]) => n === name);
  if (entry === undefined) return "u64";
  const [, struct, field] = entry as readonly [string, StructName, string];
  return layout.structs[struct]?.fields[field]?.kind ?? "u64";
}

/** Fake memory laid out as a target of `layout` declaring `values`. */
export class DeclaredTarget {
  readonly mem = new FakeMemory();
  readonly layout: Layout;
  readonly values: Map<string, number>;
  #next = HEAP;

  constructor(layout: Layout, values: Map<string, number>, interpBytes = 512 * 1024) {
    this.layout = layout;
    this.values = values;
    this.mem.map(RUNTIME, 64 * 1024);
    this.mem.map(INTERP, interpBytes);
    this.mem.map(HEAP, 1024 * 1024);
  }

  /** `size` bytes of the heap, 16-aligned. */
  alloc(size: number): bigint {
    const at = this.#next;
    this.#next += BigInt((size + 15) & ~15);
    return at;
  }

  /** Writes `value` at `base` + the offset the target declares for `name`, as wide as its kind. */
  put(base: bigint, name: string, value: bigint | number): void {
    const offset = this.values.get(name);
    if (offset === undefined) throw new Error(`no offset declared for ${name}`);
    this.raw(base + BigInt(offset), declaredKind(this.layout, name), value);
  }

  /** Writes `value` at `address`, as wide as `kind`. */
  raw(address: bigint, kind: FieldKind, value: bigint | number): void {
    const bytes = new Uint8Array(fieldWidth(kind));
    const view = new DataView(bytes.buffer);
    const v = BigInt(value);
    if (bytes.length === 8) view.setBigUint64(0, BigInt.asUintN(64, v), true);
    else if (bytes.length === 4) view.setUint32(0, Number(BigInt.asUintN(32, v)), true);
    else if (bytes.length === 2) view.setUint16(0, Number(BigInt.asUintN(16, v)), true);
    else view.setUint8(0, Number(BigInt.asUintN(8, v)));
    this.mem.write(address, bytes);
  }

  /** A NUL-terminated copy of `text` on the heap. */
  cString(text: string): bigint {
    const bytes = new TextEncoder().encode(text + "\0");
    const at = this.alloc(bytes.length);
    this.mem.write(at, bytes);
    return at;
  }
}
