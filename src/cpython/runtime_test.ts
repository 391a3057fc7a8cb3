import assert from "node:assert/strict";
import { selectRuntime } from "./runtime.ts";
import { DEBUG_OFFSETS_LAYOUTS } from "./layouts/debug_offsets.ts";
import { UnsupportedVersionError } from "../errors.ts";
import type { PythonVersion } from "./version.ts";

function version(major: number, minor: number): PythonVersion {
  return { major, minor, micro: 0, releaseLevel: "final", serial: 0 };
}

Deno.test("selectRuntime() reads 2.7 with Py2 strings, unsigned lnotab deltas and 3.6's rules", () => {
  const py27 = selectRuntime(version(2, 7));
  const py36 = selectRuntime(version(3, 6));
  assert.equal(py27.layout.version, "2.7");
  assert.equal(py27.nameStorage, "py2_str");
  assert.equal(py27.lnotabSignedDeltas, false);
  assert.equal(py36.nameStorage, "unicode");
  assert.equal(py36.lnotabSignedDeltas, true);
  for (
    const rule of [
      "frameChain",
      "lineTable",
      "entryRule",
      "checkExecutable",
      "gilRule",
      "gcRule",
      "tidFromPthread",
      "longRule",
    ] as const
  ) {
    assert.equal(py27[rule], py36[rule], rule);
  }
  assert.deepEqual(py27.shimOwners, []);
});

Deno.test("selectRuntime() reads 2.7 objects with the Py_UNICODE width of the build", () => {
  const v27 = version(2, 7);
  assert.equal(selectRuntime(v27).values?.dictKeys, "ma_table");
  assert.deepEqual(selectRuntime(v27).values?.py2, { unicodeWidth: 4 });
  assert.deepEqual(selectRuntime(v27, { py2UnicodeWidth: 2 }).values?.py2, { unicodeWidth: 2 });
  assert.equal(selectRuntime(version(3, 6)).values?.py2, undefined);
});

Deno.test("selectRuntime() rejects 2.6 and 3.5, naming what it reads", () => {
  for (const v of [version(2, 6), version(3, 5)]) {
    assert.throws(() => selectRuntime(v), (e: unknown) => {
      assert.ok(e instanceof UnsupportedVersionError);
      assert.match(e.message, /reads Python 2\.7 and 3\.6 to /);
      return true;
    });
  }
});

Deno.test("selectRuntime() reads 3.14 and 3.15 frames: tagged stack references, two shim owners", () => {
  const py313 = selectRuntime(version(3, 13));
  assert.equal(py313.stackRefMask, ~0n);
  assert.deepEqual(py313.shimOwners, [3]);
  for (const minor of [14, 15]) {
    const rt = selectRuntime(version(3, minor));
    assert.equal(rt.layout.version, `3.${minor}`);
    assert.equal(0x7f00_1235n & rt.stackRefMask, 0x7f00_1234n, "low 2 tag bits masked");
    assert.deepEqual(rt.shimOwners, [3, 4], "FRAME_OWNED_BY_INTERPRETER and _CSTACK");
    assert.equal(rt.frameChain, "current_frame");
    assert.equal(rt.unicodeState, "bitfield");
    assert.equal(
      selectRuntime(version(3, minor), { freeThreaded: true }).unicodeState,
      "interned_byte",
    );
    assert.equal(rt.debugOffsets?.layout, DEBUG_OFFSETS_LAYOUTS[rt.debugOffsets!.release]);
  }
  assert.equal(selectRuntime(version(3, 13), { freeThreaded: true }).unicodeState, "bitfield");
});

Deno.test("selectRuntime() reads a free-threaded build with its own rules: layout, refcounts, status", () => {
  const gil = selectRuntime(version(3, 13));
  const ft = selectRuntime(version(3, 13), { freeThreaded: true });
  assert.equal(ft.layout.version, "3.13t", "the generated free-threaded table");
  assert.equal(ft.layout.structs.object?.fields["type"]?.offset, 24);
  assert.deepEqual(
    [ft.threadStatus, ft.values?.refcount, ft.values?.managedDictBefore, ft.bytecode],
    ["attachment", "split", 8, "shared"],
  );
  assert.deepEqual(
    [gil.threadStatus, gil.values?.refcount, gil.values?.managedDictBefore, gil.bytecode],
    ["gil", "ob_refcnt", 24, "shared"],
  );
  for (const minor of [14, 15]) {
    const rt = selectRuntime(version(3, minor), { freeThreaded: true });
    assert.equal(rt.layout.version, `3.${minor}t`, "from its headers with Py_GIL_DISABLED=1");
    assert.equal(rt.layout.structs.object?.fields["type"]?.offset, 24);
    assert.equal(rt.bytecode, "per_thread");
    assert.equal(selectRuntime(version(3, minor)).layout.version, `3.${minor}`);
  }
});
