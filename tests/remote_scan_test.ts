/**
 * `pystack remote` restricted to finding the interpreter by scanning writable
 * data (`_PYSTACK_METHODS=bss`), on every interpreter.
 *
 * @module
 */
import { registerScanTests } from "./_remote_cases.ts";

await registerScanTests();
