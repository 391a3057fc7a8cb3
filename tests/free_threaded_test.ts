/**
 * What only a free-threaded build shows, on every free-threaded interpreter under test (3.13t):
 * its generated layout is the one it declares in `_Py_DebugOffsets`, and a GIL turned back on
 * (`PYTHON_GIL=1`) is read as the GIL again. The remote, core, native and locals matrices run
 * over 3.13t as well (`tests/_pythons.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { describeRun, parseTraceback, registerTest, runPystack, startFixture } from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip } from "./_remote_cases.ts";

const freeThreaded = (await findPythons()).filter((python) => python.freeThreaded === true);

for (const python of freeThreaded) {
  registerTest(
    `free-threaded python=${python.id}: the generated layout is the one the target declares`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, "single_thread.py");
      const result = await runPystack(["remote", String(target.pid), "-vv"]);
      try {
        assert.equal(result.code, 0, "exit code");
        assert.match(
          result.stderr,
          /^pystack: Python 3\.13\.\d+, free-threaded \(from _Py_DebugOffsets\)$/m,
        );
        assert.match(result.stderr, /^pystack: interpreter found by debug offsets at 0x/m);
        // Each offset the target declares that differs from the table is listed (as it is for
        // the GIL build's table read over a free-threaded target): none here.
        assert.doesNotMatch(result.stderr, /debug offsets: .* table says/);
        assert.doesNotMatch(result.stderr, /inferred/, "3.13t has a generated layout");
        assert.deepEqual(
          parseTraceback(result.stdout).map((t) => t.frames.map((f) => f.func)),
          [["<module>", "first_func", "second_func", "third_func"]],
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${describeRun(result)}`, { cause: error });
      }
    },
  );

  registerTest(
    `free-threaded python=${python.id}: PYTHON_GIL=1 turns the GIL back on: its holder has it`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, "gil_holder.py", {
        env: { PYTHON_GIL: "1" },
      });
      const result = await runPystack(["remote", String(target.pid), "--json"]);
      try {
        assert.equal(result.code, 0, "exit code");
        const doc = JSON.parse(result.stdout) as {
          threads: { name: string; holdsGil: boolean; threadState: string }[];
        };
        // Newest first: sleeper, busy, the main thread (named after the executable).
        assert.deepEqual(
          doc.threads.map((t) => [t.holdsGil, t.threadState]),
          [[false, "detached"], [true, "attached"], [false, "detached"]],
        );
        assert.deepEqual(doc.threads.slice(0, 2).map((t) => t.name), ["sleeper", "busy"]);
        const text = await runPystack(["remote", String(target.pid)]);
        assert.deepEqual(parseTraceback(text.stdout).map((t) => t.status), [
          [],
          ["Has the GIL"],
          [],
        ]);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${describeRun(result)}`, { cause: error });
      }
    },
  );
}
