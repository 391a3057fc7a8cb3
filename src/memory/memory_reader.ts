/**
 * The one memory interface that live processes and core files both implement.
 *
 * @module
 */

/** Reads bytes of a target's address space. Addresses are always bigint. */
export interface MemoryReader {
  /**
   * Copies `length` bytes at `address` into a new buffer.
   * Throws {@linkcode MemoryReadError} when any byte is not readable.
   */
  read(address: bigint, length: number): Uint8Array;
}

/** A read of target memory failed (unmapped, not dumped, or the target went away). */
export class MemoryReadError extends RangeError {
  readonly address: bigint;
  readonly length: number;
  constructor(address: bigint, length: number, reason = "not readable") {
    super(`Cannot read ${length} bytes at 0x${address.toString(16)}: ${reason}`);
    this.name = "MemoryReadError";
    this.address = address;
    this.length = length;
  }
}
