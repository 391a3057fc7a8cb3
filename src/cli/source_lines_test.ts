import assert from "node:assert/strict";
import { coreSourcePath } from "./source_lines.ts";

Deno.test("coreSourcePath() reads absolute paths only", () => {
  assert.equal(coreSourcePath("/app/main.py"), "/app/main.py");
  assert.equal(coreSourcePath("rel.py"), undefined);
  assert.equal(coreSourcePath("./rel.py"), undefined);
  assert.equal(coreSourcePath("../lib/x.py"), undefined);
});
