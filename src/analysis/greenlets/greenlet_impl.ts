/**
 * Decoding greenlet's C++ implementation object (`PyGreenlet.pimpl`) from its
 * words. greenlet ships no layout description and its C++ classes change
 * between releases, so no offset is assumed: fields are found by what they
 * must hold and checked against it.
 *
 * - `_self`: the first word (after the vtable) equal to the greenlet object's
 *   own address (`UserGreenlet::_self`, `MainGreenlet::_self`). It ends the
 *   `Greenlet` base class; the other fields are looked for before it.
 * - The word after `_self`: `_main_greenlet` (a user greenlet) or
 *   `_thread_state` (a main greenlet, whose `ThreadState` starts with a strong
 *   reference to that same main greenlet).
 * - `PythonState::_top_frame`: a frame object, set only while the greenlet is
 *   suspended (greenlet clears it when it switches in).
 *
 * @module
 */

/** Words of the implementation object read (its `Greenlet` base fits in far fewer). */
export const IMPL_WORDS = 48;

/** The words of `bytes` (little-endian, 8 bytes each). */
export function implWords(bytes: Uint8Array): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words: bigint[] = [];
  for (let at = 0; at + 8 <= bytes.length; at += 8) words.push(view.getBigUint64(at, true));
  return words;
}

/**
 * The index of `_self` in `words` (the greenlet object's own address, `self`),
 * skipping the vtable at index 0; undefined when it is not there (not a
 * greenlet implementation greenlet 1.x to 3.x would build, or corrupt memory).
 *
 * @example
 * ```ts
 * import { findSelfIndex } from "./greenlet_impl.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(findSelfIndex([0x55n, 0n, 0x7f10n, 0x7f20n], 0x7f10n), 2);
 * assert.equal(findSelfIndex([0x7f10n, 0n], 0x7f10n), undefined);
 * ```
 */
export function findSelfIndex(words: readonly bigint[], self: bigint): number | undefined {
  if (self === 0n) return undefined;
  const index = words.indexOf(self, 1);
  return index < 0 ? undefined : index;
}
