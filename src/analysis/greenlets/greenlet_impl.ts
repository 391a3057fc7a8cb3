/**
 * Decoding greenlet's C++ implementation object (`PyGreenlet.pimpl`) from its
 * words. greenlet ships no layout description and its C++ classes change
 * between releases, so no offset is assumed (see `greenlets.ts`): the words
 * are read, and fields are found by what they must hold. The one checked
 * here is `_self`, a word equal to the greenlet object's own address
 * (greenlet 2.x: in `UserGreenlet`/`MainGreenlet`; 3.x: first in `Greenlet`).
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
 * The index of the first word of `words` equal to the greenlet object's own
 * address (`self`), skipping the vtable at index 0; undefined when there is
 * none (not an implementation greenlet 2.x or 3.x builds, or corrupt memory).
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
