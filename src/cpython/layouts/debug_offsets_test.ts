import assert from "node:assert/strict";
import { DEBUG_OFFSETS_LAYOUTS } from "./debug_offsets.ts";
import { debugOffsetsLayout } from "../runtime.ts";
import type { PythonVersion } from "../version.ts";

function release(text: string): PythonVersion {
  const [major, minor, micro] = text.split(".").map(Number) as [number, number, number];
  return { major, minor, micro, releaseLevel: "final", serial: 0 };
}

Deno.test("DEBUG_OFFSETS_LAYOUTS: each starts with cookie, version, free_threaded; u64 fields inside", () => {
  for (const [key, layout] of Object.entries(DEBUG_OFFSETS_LAYOUTS)) {
    assert.deepEqual(layout.fields["cookie"], { offset: 0, kind: "u8" }, key);
    assert.deepEqual(layout.fields["version"], { offset: 8, kind: "u64" }, key);
    assert.deepEqual(layout.fields["free_threaded"], { offset: 16, kind: "u64" }, key);
    const offsets = Object.entries(layout.fields).filter(([n]) => n !== "cookie");
    for (const [name, f] of offsets) {
      assert.equal(f.kind, "u64", `${key} ${name}`);
      assert.ok(f.offset % 8 === 0 && f.offset + 8 <= layout.size, `${key} ${name} @${f.offset}`);
    }
    assert.equal(new Set(offsets.map(([, f]) => f.offset)).size, offsets.length, `${key} overlaps`);
  }
});

Deno.test("DEBUG_OFFSETS_LAYOUTS: 3.13.0 and 3.13.18 agree; 3.14 and 3.15 each differ", () => {
  const l = DEBUG_OFFSETS_LAYOUTS;
  assert.deepEqual(l["3.13.18"], l["3.13.0"]);
  assert.notDeepEqual(l["3.14.10"], l["3.13.18"]);
  assert.notDeepEqual(l["3.15.2"], l["3.14.10"]);
  // 3.14 inserted threads_main; 3.15.2 base_frame, last_profiled_frame and
  // last_profiled_frame_seq before thread_id (pystack's copy of a 3.15 alpha says 232).
  assert.equal(l["3.13.0"]!.fields["thread_state.thread_id"]!.offset, 192);
  assert.equal(l["3.14.10"]!.fields["thread_state.thread_id"]!.offset, 216);
  assert.equal(l["3.15.2"]!.fields["thread_state.thread_id"]!.offset, 240);
  assert.ok(l["3.15.2"]!.fields["thread_state.holds_gil"] !== undefined);
  assert.ok(l["3.15.2"]!.fields["unicode_object.compactunicodeobject_size"] !== undefined);
});

Deno.test("debugOffsetsLayout() picks the variant by the version the structure declares", () => {
  const cases: [string, string | undefined][] = [
    ["3.12.9", undefined],
    ["3.13.0", "3.13.0"],
    ["3.13.5", "3.13.0"],
    ["3.13.18", "3.13.18"],
    ["3.13.30", "3.13.18"],
    ["3.14.0", "3.14.10"], // older than every known 3.14: the oldest known 3.14
    ["3.14.12", "3.14.10"],
    ["3.15.2", "3.15.2"],
    ["3.16.0", "3.15.2"], // newer than known: the newest
    ["4.0.0", undefined],
  ];
  for (const [declared, expected] of cases) {
    assert.equal(debugOffsetsLayout(release(declared))?.release, expected, declared);
  }
});
