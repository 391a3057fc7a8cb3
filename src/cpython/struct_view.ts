/**
 * One bounded copy of a remote struct, read field by field by name.
 *
 * @module
 */

import type { Field, FieldKind, StructLayout } from "./layout.ts";
import type { MemoryReader } from "../memory/memory_reader.ts";

const WIDTH: Record<FieldKind, number> = {
  ptr: 8,
  i8: 1,
  u8: 1,
  i16: 2,
  u16: 2,
  i32: 4,
  u32: 4,
  i64: 8,
  u64: 8,
  f64: 8,
};

/** Byte width of a field kind. */
export function fieldWidth(kind: FieldKind): number {
  return WIDTH[kind];
}

const extents = new WeakMap<StructLayout, number>();

/** How many bytes must be copied to read every named field of `layout`. */
export function extentOf(layout: StructLayout): number {
  let extent = extents.get(layout);
  if (extent === undefined) {
    extent = 0;
    for (const f of Object.values(layout.fields)) {
      extent = Math.max(extent, f.offset + WIDTH[f.kind]);
    }
    extents.set(layout, extent);
  }
  return extent;
}

/** A field a layout does not have was asked for: a bug in version selection. */
export class MissingFieldError extends TypeError {
  constructor(name: string) {
    super(`Layout has no field '${name}'`);
    this.name = "MissingFieldError";
  }
}

/** Fields of one remote struct, decoded from a single copy of its bytes. */
export class StructView {
  readonly address: bigint;
  readonly layout: StructLayout;
  readonly #view: DataView;

  constructor(address: bigint, layout: StructLayout, bytes: Uint8Array) {
    this.address = address;
    this.layout = layout;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Whether this version's struct has the field. */
  has(name: string): boolean {
    return this.layout.fields[name] !== undefined;
  }

  #field(name: string): Field {
    const f = this.layout.fields[name];
    if (f === undefined) throw new MissingFieldError(name);
    return f;
  }

  /** A pointer or 64-bit field as bigint. */
  ptr(name: string): bigint {
    const f = this.#field(name);
    return readBig(this.#view, f);
  }

  /** An integer field as number (64-bit values are converted; fine for sizes and counts). */
  int(name: string): number {
    const f = this.#field(name);
    return readNumber(this.#view, f);
  }

  /** A double field. */
  f64(name: string): number {
    return this.#view.getFloat64(this.#field(name).offset, true);
  }

  /** Address of a field inside the remote struct (for inline arrays). */
  addressOf(name: string): bigint {
    return this.address + BigInt(this.#field(name).offset);
  }
}

function readBig(v: DataView, f: Field): bigint {
  switch (f.kind) {
    case "ptr":
    case "u64":
      return v.getBigUint64(f.offset, true);
    case "i64":
      return v.getBigInt64(f.offset, true);
    default:
      return BigInt(readNumber(v, f));
  }
}

function readNumber(v: DataView, f: Field): number {
  switch (f.kind) {
    case "i8":
      return v.getInt8(f.offset);
    case "u8":
      return v.getUint8(f.offset);
    case "i16":
      return v.getInt16(f.offset, true);
    case "u16":
      return v.getUint16(f.offset, true);
    case "i32":
      return v.getInt32(f.offset, true);
    case "u32":
      return v.getUint32(f.offset, true);
    case "f64":
      return v.getFloat64(f.offset, true);
    case "i64":
      return Number(v.getBigInt64(f.offset, true));
    case "ptr":
    case "u64":
      return Number(v.getBigUint64(f.offset, true));
  }
}

/** Copies the struct at `address` (only as far as its last named field) and wraps it. */
export function readStruct(mem: MemoryReader, address: bigint, layout: StructLayout): StructView {
  return new StructView(address, layout, mem.read(address, extentOf(layout)));
}
