import assert from "node:assert/strict";
import { DEMO_PROGRAM } from "./demo_program.ts";
import { stripFrameMarkers } from "./strip_markers.ts";

Deno.test("DEMO_PROGRAM is fixtures/demo.py without markers (run scripts/embed_demo.ts after editing it)", () => {
  const source = Deno.readTextFileSync(new URL("../../fixtures/demo.py", import.meta.url));
  assert.equal(DEMO_PROGRAM, stripFrameMarkers(source));
  assert.ok(!DEMO_PROGRAM.includes("@frame"));
  assert.equal(DEMO_PROGRAM.split("\n").length, source.split("\n").length);
});
