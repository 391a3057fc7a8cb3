/**
 * Suspended and running greenlets: everything an inspection calls for them,
 * as one module to load on demand (when greenlet's extension is mapped).
 *
 * @module
 */

export { prescanSuspendedGreenlets, suspendedGreenlets } from "../analysis/greenlets/suspended.ts";
export { sliceRunningGreenlets } from "../analysis/greenlets/native_slice.ts";
