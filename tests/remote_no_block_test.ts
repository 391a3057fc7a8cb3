/**
 * `pystack remote PID --no-block` on every interpreter × fixture (a separate
 * file so `deno test --parallel` runs it beside `remote_test.ts`).
 *
 * @module
 */
import { registerRemoteTests } from "./_remote_cases.ts";

await registerRemoteTests("no-block");
