/**
 * `pystack core --native…` on cores of the native fixtures (gcore's, or the
 * kernel's for Debian sid's builds), every interpreter (see `_native_cases.ts`).
 *
 * @module
 */
import { registerNativeTests } from "./_native_cases.ts";

await registerNativeTests("core");
