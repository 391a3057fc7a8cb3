/**
 * `pystack core --native…` on cores of the native fixtures (gcore's, or the
 * kernel's for Debian sid's builds), every interpreter (see `_native_cases.ts`); and a
 * recursion deeper than the native unwinder's limit (2048 frames) on 3.8, marked as cut.
 *
 * @module
 */
import assert from "node:assert/strict";
import { nativeSkip, registerNativeTests } from "./_native_cases.ts";
import { registerTest, runPystack } from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { makeCore, startCoreTarget } from "./_cores.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { assertValidReport } from "./_json_schema.ts";
import { NATIVE_CAPPED } from "../src/native/native_stacks.ts";

await registerNativeTests("core");

// ---- A native stack deeper than the unwinder's limit ------------------------------------------

const deepPython = (await findPythons()).find((python) => python.id === "3.8-pyenv")!;
/** 985 nested calls (3.8 recurses in C for each: about 4 native frames a call), then a sleep. */
const DEEP = `
import sys, time
sys.setrecursionlimit(1500)
def recurse(n):
    if n == 0:
        open(sys.argv[1], "w").close()
        time.sleep(1000)
    recurse(n - 1)
recurse(985)
`;

registerTest(
  `core --native python=${deepPython.id} deep recursion: the native stack is marked cut`,
  nativeSkip(deepPython, "core") ?? remoteSkip(deepPython),
  async () => {
    const scriptDir = await Deno.makeTempDir({ prefix: "pystack-deep-" });
    try {
      await Deno.writeTextFile(`${scriptDir}/deep.py`, DEEP);
      await using target = await startCoreTarget(
        [deepPython.path, "-S", `${scriptDir}/deep.py`, "{dir}/ready"],
        { readyFile: "ready" },
      );
      const made = await makeCore(target, "kernel-abrt");
      const marker = `    (!) Native stack may be incomplete: ${NATIVE_CAPPED}`;
      const text = await runPystack(["core", made.path, "--native"]);
      try {
        assert.equal(text.code, 0, "exit code");
        const lines = text.stdout.split("\n");
        assert.equal(lines.filter((l) => l.startsWith("    (!)")).join("\n"), marker);
        assert.equal(lines.at(-2), marker, "the marker ends the thread's block");
        // Without --native the Python stack is whole: no marker.
        const plain = await runPystack(["core", made.path]);
        assert.equal(plain.code, 0);
        assert.ok(!plain.stdout.includes("(!)"), "no marker without --native");
      } catch (error) {
        throw withRun(error, text);
      }
      const json = await runPystack(["core", made.path, "--native", "--json"]);
      try {
        assert.equal(json.code, 0);
        const doc = JSON.parse(json.stdout);
        assertValidReport(doc);
        assert.equal(doc.threads[0].nativePartial, NATIVE_CAPPED);
        assert.equal(doc.threads[0].partial, null, "the Python stack is whole");
        assert.equal(doc.threads[0].frames.length, 987);
      } catch (error) {
        throw withRun(error, json);
      }
    } finally {
      await Deno.remove(scriptDir, { recursive: true });
    }
  },
);
