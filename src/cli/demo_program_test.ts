import assert from "node:assert/strict";
import { DEMO_PROGRAM } from "./demo_program.ts";

Deno.test("DEMO_PROGRAM is fixtures/demo.py (run scripts/embed_demo.ts after editing it)", () => {
  const source = Deno.readTextFileSync(new URL("../../fixtures/demo.py", import.meta.url));
  assert.deepEqual(DEMO_PROGRAM, source);
});
