/**
 * `--locals` names a thread whose `Thread` object keeps its attributes only in its managed dict
 * (`fixtures/managed_dict.py`), on every 3.11+ interpreter: the dict pointer is read 3 words
 * before the object in GIL builds, 1 word before it in free-threaded ones.
 *
 * @module
 */
import assert from "node:assert/strict";
import { describeRun, registerTest, runPystack, startFixture } from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip } from "./_remote_cases.ts";

const atLeast311 = (await findPythons()).filter((p) => p.version[0] === 3 && p.version[1] >= 11);

for (const python of atLeast311) {
  registerTest(
    `managed dict python=${python.id}: a thread named only through its managed dict`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, "managed_dict.py");
      const result = await runPystack(["remote", String(target.pid), "--locals", "--json"]);
      try {
        assert.equal(result.code, 0, "exit code");
        const doc = JSON.parse(result.stdout) as {
          threads: { tid: number; pythonName?: string; frames: { function: string }[] }[];
        };
        assert.deepEqual(
          doc.threads.map((t) => [t.pythonName, t.frames.at(-1)?.function]),
          [["materialized", "wait"], ["MainThread", "main"]],
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${describeRun(result)}`, { cause: error });
      }
    },
  );
}
