/**
 * The LZ4 frame format (what `lz4` writes, and systemd-coredump before it
 * moved to zstd: Ubuntu 20.04, RHEL 8), decoded in TypeScript, block by
 * block: memory stays within one block and the 64 KiB window linked blocks
 * may refer back to. Checksums are not verified (a damaged block shows as a
 * core that does not parse, or as an error here when its structure breaks).
 *
 * @module
 */

/** The first four bytes of an LZ4 frame (0x184D2204, little-endian). */
export const LZ4_MAGIC: readonly number[] = [0x04, 0x22, 0x4d, 0x18];

/** How far back a match may reach. */
const WINDOW = 64 * 1024;
/** Block maximum sizes by the BD byte's size id (4 to 7). */
const BLOCK_SIZES: Readonly<Record<number, number>> = {
  4: 64 * 1024,
  5: 256 * 1024,
  6: 1024 * 1024,
  7: 4 * 1024 * 1024,
};

/** A malformed frame: what and where. */
export class Lz4FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Lz4FormatError";
  }
}

/** Reads exactly the bytes asked for, or fewer at the end of the input. */
export interface ByteReader {
  /** Up to `n` bytes; fewer (or none) only at the end of the input. */
  read(n: number): Uint8Array;
}

/**
 * Decodes the LZ4 frames of `input` (one after the other, skippable frames
 * skipped), handing each decoded block to `write` (the bytes are valid only
 * during the call). Throws
 * {@linkcode Lz4FormatError} on a malformed or cut frame, after writing what
 * came before it.
 */
export function decodeLz4Frames(input: ByteReader, write: (bytes: Uint8Array) => void): void {
  for (let frames = 0;; frames++) {
    const magic = input.read(4);
    if (magic.length === 0 && frames > 0) return;
    if (magic.length < 4) throw new Lz4FormatError("the input ends inside a frame's magic number");
    const value = new DataView(magic.buffer, magic.byteOffset, 4).getUint32(0, true);
    if ((value & 0xfffffff0) === 0x184d2a50) {
      skipFrame(input);
      continue;
    }
    if (value !== 0x184d2204) {
      throw new Lz4FormatError(`not an LZ4 frame (magic 0x${value.toString(16)})`);
    }
    decodeFrame(input, write);
  }
}

function skipFrame(input: ByteReader): void {
  const size = input.read(4);
  if (size.length < 4) throw new Lz4FormatError("the input ends inside a skippable frame");
  let left = new DataView(size.buffer, size.byteOffset, 4).getUint32(0, true);
  while (left > 0) {
    const got = input.read(Math.min(left, 1 << 20)).length;
    if (got === 0) throw new Lz4FormatError("the input ends inside a skippable frame");
    left -= got;
  }
}

function decodeFrame(input: ByteReader, write: (bytes: Uint8Array) => void): void {
  const descriptor = input.read(2);
  if (descriptor.length < 2) throw new Lz4FormatError("the input ends inside a frame header");
  const flags = descriptor[0]!;
  const bd = descriptor[1]!;
  if (flags >> 6 !== 1) throw new Lz4FormatError(`unknown LZ4 frame version ${flags >> 6}`);
  const independent = (flags & 0x20) !== 0;
  const blockChecksums = (flags & 0x10) !== 0;
  const contentSize = (flags & 0x08) !== 0;
  const contentChecksum = (flags & 0x04) !== 0;
  const dictionary = (flags & 0x01) !== 0;
  const maxBlock = BLOCK_SIZES[(bd >> 4) & 7];
  if (maxBlock === undefined) throw new Lz4FormatError(`bad block size id ${(bd >> 4) & 7}`);
  if (dictionary) throw new Lz4FormatError("frames that need a dictionary are not supported");
  // The content size, the dictionary id (refused above), the header checksum.
  const rest = (contentSize ? 8 : 0) + 1;
  if (input.read(rest).length < rest) throw new Lz4FormatError("the input ends inside a header");
  // The window of earlier output (linked blocks) followed by room for one block.
  const out = new Uint8Array(WINDOW + maxBlock);
  let kept = 0; // bytes of window at out[WINDOW - kept, WINDOW)
  for (;;) {
    const head = input.read(4);
    if (head.length < 4) throw new Lz4FormatError("the input ends before the frame's end mark");
    const word = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
    if (word === 0) break;
    const stored = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (size > maxBlock) {
      throw new Lz4FormatError(`a block of ${size} bytes exceeds the frame's ${maxBlock}`);
    }
    const block = input.read(size);
    if (block.length < size) throw new Lz4FormatError("the input ends inside a block");
    if (blockChecksums && input.read(4).length < 4) {
      throw new Lz4FormatError("the input ends inside a block checksum");
    }
    let end: number;
    if (stored) {
      out.set(block, WINDOW);
      end = WINDOW + size;
    } else {
      end = decodeBlock(block, out, WINDOW, independent ? WINDOW : WINDOW - kept);
    }
    write(out.subarray(WINDOW, end));
    if (!independent) {
      // Keep the last 64 KiB of the output (window and block are contiguous: shift them left).
      const keep = Math.min(WINDOW, kept + end - WINDOW);
      out.copyWithin(WINDOW - keep, end - keep, end);
      kept = keep;
    }
  }
  if (contentChecksum && input.read(4).length < 4) {
    throw new Lz4FormatError("the input ends inside the content checksum");
  }
}

/**
 * Decodes one LZ4 block into `out` from `start` (matches may reach back to `floor`); returns
 * where the output ends.
 *
 * @example
 * ```ts
 * import { decodeBlock } from "./lz4_frame.ts";
 * import assert from "node:assert/strict";
 * // "abc", then a match of 6 bytes 3 back: "abcabcabc"; then the literal "!".
 * const block = new Uint8Array([0x32, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x21]);
 * const out = new Uint8Array(16);
 * const end = decodeBlock(block, out, 0, 0);
 * assert.equal(new TextDecoder().decode(out.subarray(0, end)), "abcabcabc!");
 * ```
 */
export function decodeBlock(
  block: Uint8Array,
  out: Uint8Array,
  start: number,
  floor: number,
): number {
  let i = 0;
  let o = start;
  const length = (initial: number): number => {
    let n = initial;
    if (initial === 15) {
      for (;;) {
        if (i >= block.length) throw new Lz4FormatError("a block ends inside a length");
        const b = block[i++]!;
        n += b;
        if (b !== 255) break;
      }
    }
    return n;
  };
  while (i < block.length) {
    const token = block[i++]!;
    const literals = length(token >> 4);
    if (i + literals > block.length || o + literals > out.length) {
      throw new Lz4FormatError("a block's literals run past its end");
    }
    out.set(block.subarray(i, i + literals), o);
    i += literals;
    o += literals;
    if (i === block.length) break; // the last sequence has literals only
    if (i + 2 > block.length) throw new Lz4FormatError("a block ends inside a match offset");
    const offset = block[i]! | (block[i + 1]! << 8);
    i += 2;
    const match = length(token & 15) + 4;
    const from = o - offset;
    if (offset === 0 || from < floor) throw new Lz4FormatError("a match reaches before the window");
    if (o + match > out.length) throw new Lz4FormatError("a match runs past the block size");
    // An overlapping match repeats its last `offset` bytes: copied in pieces that double.
    for (let left = match; left > 0;) {
      const n = Math.min(left, o - from);
      out.copyWithin(o, from, from + n);
      o += n;
      left -= n;
    }
  }
  return o;
}
