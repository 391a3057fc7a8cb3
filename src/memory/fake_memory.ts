/**
 * A {@linkcode MemoryReader} over byte regions held in memory, for tests.
 *
 * @module
 */

import { type MemoryReader, MemoryReadError } from "./memory_reader.ts";

/** Target memory made of regions the test writes. */
export class FakeMemory implements MemoryReader {
  #regions: { start: bigint; bytes: Uint8Array }[] = [];

  /** Adds a region of `size` zero bytes at `start` and returns its bytes to fill. */
  map(start: bigint, size: number): Uint8Array {
    const bytes = new Uint8Array(size);
    this.#regions.push({ start, bytes });
    return bytes;
  }

  /** Writes a little-endian u64 at `address` (inside a mapped region). */
  writeU64(address: bigint, value: bigint): void {
    const r = this.#find(address, 8);
    new DataView(r.bytes.buffer).setBigUint64(Number(address - r.start), value, true);
  }

  /** Writes a little-endian i32 at `address`. */
  writeI32(address: bigint, value: number): void {
    const r = this.#find(address, 4);
    new DataView(r.bytes.buffer).setInt32(Number(address - r.start), value, true);
  }

  /** Writes raw bytes at `address`. */
  write(address: bigint, bytes: Uint8Array): void {
    const r = this.#find(address, bytes.length);
    r.bytes.set(bytes, Number(address - r.start));
  }

  #find(address: bigint, length: number): { start: bigint; bytes: Uint8Array } {
    const r = this.#regions.find((r) =>
      address >= r.start && address + BigInt(length) <= r.start + BigInt(r.bytes.length)
    );
    if (r === undefined) throw new MemoryReadError(address, length);
    return r;
  }

  read(address: bigint, length: number): Uint8Array {
    const r = this.#find(address, length);
    const off = Number(address - r.start);
    return r.bytes.slice(off, off + length);
  }
}
