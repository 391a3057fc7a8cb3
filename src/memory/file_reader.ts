/**
 * A {@linkcode ByteSource} over a file that can also read into a buffer the
 * caller owns, so that a page cache reuses its pages instead of leaving
 * garbage behind (random reads over a 1 GiB core otherwise grow the heap by
 * the pages read until the garbage collector catches up).
 *
 * @module
 */

import { type ByteSource, fileSource } from "../elf/elf_file.ts";

/** A byte source that can fill a caller's buffer. */
export interface ReadIntoSource extends ByteSource {
  /** Fills `target` with the bytes at `offset`; throws like `read` when out of range. */
  readInto(offset: number, target: Uint8Array): void;
}

/** Whether `source` can read into a buffer. */
export function canReadInto(source: ByteSource): source is ReadIntoSource {
  return typeof (source as Partial<ReadIntoSource>).readInto === "function";
}

/**
 * Opens `path` for reading by offset. Dispose of it to close the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openFileReader } from "./file_reader.ts";
 * using reader = openFileReader("/bin/sh");
 * const head = new Uint8Array(4);
 * reader.readInto(0, head);
 * assert.deepEqual(head, new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
 * ```
 */
export function openFileReader(path: string): ReadIntoSource & Disposable {
  return fileSource(path);
}
