/**
 * Names with control characters (`fixtures/control_names.py`): a thread whose
 * OS name holds a newline, and a child whose command line does. The text
 * output keeps each on one line, escaped; JSON carries the same escapes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, runPystack, type Skip, startFixture } from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";

const FIXTURE = "control_names.py";
const ODD = "nl\\x0aname\\x01";

function skip(python: Python): Skip | undefined {
  return remoteSkip(python) ??
    (python.version[0] < 3
      ? { reason: "one interpreter is enough: the names come from the kernel, not Python" }
      : undefined);
}

const pythons = (await findPythons()).filter((p) => ["3.11-debian", "3.12-pyenv"].includes(p.id));

for (const python of pythons) {
  registerTest(`remote control characters in names python=${python.id}`, skip(python), async () => {
    await using fixture = await startFixture(python, FIXTURE, { settleMs: 200 });
    const child = Number(await Deno.readTextFile(fixture.readyPath + ".child"));
    const text = await runPystack(["remote", String(fixture.pid)]);
    try {
      assert.equal(text.code, 0);
      const header = text.stdout.split("\n").find((l) => l.includes(`(${ODD})`));
      assert.ok(header !== undefined && header.startsWith("Traceback for thread "), header);
      assert.ok(header.endsWith("(most recent call last):"), header);
    } catch (error) {
      throw withRun(error, text);
    }
    const json = await runPystack(["remote", String(fixture.pid), "--json"]);
    try {
      const doc = JSON.parse(json.stdout);
      assert.ok(doc.threads.some((t: { name: string | null }) => t.name === ODD));
    } catch (error) {
      throw withRun(error, json);
    }
    const tree = await runPystack(["remote", String(fixture.pid), "--subprocesses"]);
    try {
      assert.equal(tree.code, 0);
      const line = tree.stdout.split("\n").find((l) => l.startsWith(`Process ${child}`));
      assert.equal(
        line,
        `Process ${child}: ${python.path} -S -c import time\\x0atime.sleep(1000)`,
      );
    } catch (error) {
      throw withRun(error, tree);
    }
  });
}
