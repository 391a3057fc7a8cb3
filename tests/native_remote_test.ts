/**
 * `pystack remote --native/--native-all/--native-last` on the native
 * fixtures, every interpreter (see `_native_cases.ts`).
 *
 * @module
 */
import { registerNativeTests } from "./_native_cases.ts";

await registerNativeTests("live");
