/**
 * `pystack core --native…` on gcore cores of the native fixtures, every
 * interpreter (see `_native_cases.ts`).
 *
 * @module
 */
import { registerNativeTests } from "./_native_cases.ts";

await registerNativeTests("core");
