/**
 * Sleeping without returning to the event loop (the walk and the pause are
 * synchronous).
 *
 * @module
 */

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` milliseconds (fractions allowed). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
