/**
 * A record whose values are built when first read.
 *
 * @module
 */

/**
 * A frozen record with the keys of `builders`, each value built by its
 * builder the first time it is read and the same object every time after.
 *
 * @example
 * ```ts
 * import { lazyRecord } from "./lazy_record.ts";
 * import assert from "node:assert/strict";
 *
 * let built = 0;
 * const record = lazyRecord({ a: () => ({ n: ++built }) });
 * assert.equal(built, 0);
 * assert.equal(record.a, record.a);
 * assert.equal(built, 1);
 * assert.deepEqual(Object.keys(record), ["a"]);
 * ```
 */
export function lazyRecord<T>(
  builders: Readonly<Record<string, () => T>>,
): Readonly<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const [key, build] of Object.entries(builders)) {
    let value: T | undefined;
    Object.defineProperty(out, key, { enumerable: true, get: () => value ??= build() });
  }
  return Object.freeze(out);
}
