/**
 * `--locks`: everything an inspection calls for it, as one module to load on
 * demand.
 *
 * @module
 */

export { analyzeLocks } from "../analysis/locks/analyze_locks.ts";
export { attachLocks, keepStable, procSyscallRegisters } from "../analysis/locks/attach_locks.ts";
export { describeFd } from "../analysis/locks/descriptors.ts";
