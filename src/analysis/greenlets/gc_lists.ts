/**
 * The garbage collector's lists of tracked objects (`PyGC_Head` rings), found
 * inside the interpreter's `struct _gc_runtime_state` by their shape, and
 * walked with a bound. Every object of a type with `Py_TPFLAGS_HAVE_GC`
 * (greenlets included) is on one of them.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import { rethrowFatal } from "../../errors.ts";

/** The low bits of `_gc_prev` hold collector flags (3.8+). */
const PREV_FLAGS = 3n;

function u64(mem: MemoryReader, address: bigint): bigint {
  return new DataView(mem.read(address, 8).buffer).getBigUint64(0, true);
}

/**
 * The list heads inside `[start, start + size)`: every 8-byte-aligned
 * `PyGC_Head` `h` whose `_gc_next` node points back to `h` through its
 * `_gc_prev`, and whose `_gc_prev` node points to `h` through its
 * `_gc_next` (an empty ring points at itself twice). Generations, the
 * permanent generation (and in 3.14 the young and old spaces) all qualify.
 */
export function findGcListHeads(mem: MemoryReader, start: bigint, size: number): bigint[] {
  const heads: bigint[] = [];
  for (let offset = 0; offset + 16 <= size; offset += 8) {
    const head = start + BigInt(offset);
    try {
      const next = u64(mem, head);
      const prev = u64(mem, head + 8n) & ~PREV_FLAGS;
      if (next === 0n || prev === 0n) continue;
      if ((u64(mem, next + 8n) & ~PREV_FLAGS) === head && u64(mem, prev) === head) {
        heads.push(head);
        offset += 8; // a head is two words: its second word cannot start another one
      }
    } catch (e) {
      rethrowFatal(e);
    }
  }
  return heads;
}

/**
 * Whether the object at `object` (its `PyGC_Head` `headSize` bytes before it) is
 * still on a GC list: its neighbours point back to it. An object freed since
 * it was seen is not (untracking clears its links, freeing reuses them).
 */
export function stillTracked(mem: MemoryReader, object: bigint, headSize: number): boolean {
  const node = object - BigInt(headSize);
  try {
    const next = u64(mem, node);
    const prev = u64(mem, node + 8n) & ~PREV_FLAGS;
    if (next === 0n || prev === 0n) return false;
    return (u64(mem, next + 8n) & ~PREV_FLAGS) === node && u64(mem, prev) === node;
  } catch (e) {
    rethrowFatal(e);
    return false;
  }
}

/** The newest node of each list (`_gc_prev` of its head; the head itself when empty). */
export function listTails(mem: MemoryReader, heads: readonly bigint[]): bigint[] {
  return heads.map((head) => {
    try {
      return u64(mem, head + 8n) & ~PREV_FLAGS;
    } catch (e) {
      rethrowFatal(e);
      return 0n;
    }
  });
}

/** How a walk over GC lists ended. */
export interface GcWalk {
  /** Objects visited. */
  visited: number;
  /** The node visited last (the head for an empty list): the list's tail when it ended. */
  last: number;
  /** Set when a list could not be followed to its end. */
  partial?: string;
}

/** Where and how far {@linkcode walkGcList} walks. */
export interface GcListWalk {
  /** The list head (a `PyGC_Head` that is no object's). */
  head: bigint;
  /** Most objects visited. */
  budget: number;
  /** Offset of `ob_type` in an object. */
  typeOffset: number;
  /**
   * `sizeof(PyGC_Head)` (`_gc_next`, `_gc_prev`; before 3.8 also `gc_refs`, padded): the object
   * follows it.
   */
  headSize: number;
}

/** Highest user-space address on x86-64 (47 bits): any pointer above is corrupt. */
const USER_SPACE_END = 2 ** 47;
const PAGE = 4096;
/** Memory is read in chunks this big where it can be (one system call instead of 16). */
const CHUNK = 64 * 1024;

/**
 * Target memory in cached chunks, addressed by JavaScript numbers (exact
 * below 2^53): walking hundreds of thousands of nodes without a `bigint` per
 * word, and with a system call per 64 KiB rather than per page.
 */
export class ChunkWords {
  /** Chunks by base address; null for a chunk that could not be read whole. */
  #chunks = new Map<number, DataView | null>();
  #pages = new Map<number, DataView>();
  readonly #mem: MemoryReader;
  constructor(mem: MemoryReader) {
    this.#mem = mem;
  }

  /** The 8-byte word at `address` (8-aligned) as a number; throws when unreadable. */
  word(address: number): number {
    const chunkBase = address - (address % CHUNK);
    let chunk = this.#chunks.get(chunkBase);
    if (chunk === undefined) {
      chunk = this.#load(chunkBase, CHUNK) ?? null;
      this.#chunks.set(chunkBase, chunk);
    }
    if (chunk !== null) return wordAt(chunk, address - chunkBase);
    // A chunk that runs past the end of a mapping: its pages one by one.
    const pageBase = address - (address % PAGE);
    let page = this.#pages.get(pageBase);
    if (page === undefined) {
      page = this.#load(pageBase, PAGE);
      if (page === undefined) throw new RangeError(`Cannot read 0x${address.toString(16)}`);
      this.#pages.set(pageBase, page);
    }
    return wordAt(page, address - pageBase);
  }

  #load(base: number, size: number): DataView | undefined {
    try {
      const bytes = this.#mem.read(BigInt(base), size);
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }
}

function wordAt(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

/**
 * Calls `visit(object, type)` for every object on the ring at `list.head`,
 * oldest first, at most `list.budget` objects (addresses as numbers: x86-64
 * user space is below 2^47). An unreadable or misaligned node, or one whose
 * `_gc_prev` does not point back to the node before it, ends the walk with
 * `partial` set.
 */
export function walkGcList(
  mem: MemoryReader,
  list: GcListWalk,
  visit: (object: number, type: number) => void,
): GcWalk {
  const { budget } = list;
  const head = Number(list.head);
  const typeAt = list.headSize + list.typeOffset;
  const words = new ChunkWords(mem);
  let visited = 0;
  let before = head;
  try {
    for (let node = words.word(head); node !== head;) {
      if (visited >= budget) {
        return { visited, last: before, partial: `stopped after ${budget} objects` };
      }
      if (node % 8 !== 0 || node <= 0 || node >= USER_SPACE_END) {
        return { visited, last: before, partial: `GC list broken at 0x${before.toString(16)}` };
      }
      const prev = words.word(node + 8);
      if (prev - (prev % 4) !== before) {
        return { visited, last: before, partial: `GC list broken at 0x${node.toString(16)}` };
      }
      visit(node + list.headSize, words.word(node + typeAt));
      visited++;
      before = node;
      node = words.word(node);
    }
  } catch (e) {
    rethrowFatal(e);
    return { visited, last: before, partial: `GC list unreadable after 0x${before.toString(16)}` };
  }
  return { visited, last: before };
}
