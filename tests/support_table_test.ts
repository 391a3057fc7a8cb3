/**
 * README.md's table of supported interpreters is what `scripts/support_table.ts`
 * generates from `tests/_pythons.ts` and the test files' matrices.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";

Deno.test("README.md's supported-interpreters table matches scripts/support_table.ts", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/support_table.ts", "--check"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `support_table.ts --check failed:\n${stderr}`);
});
