/**
 * `pystack remote PID` in blocking mode (the default) on every interpreter ×
 * fixture. The same matrix with `--no-block` is in `remote_no_block_test.ts`.
 *
 * @module
 */
import { registerRemoteTests } from "./_remote_cases.ts";

await registerRemoteTests("block");
