/**
 * `pystack remote PID --locals` on `fixtures/corrupt_locals.py`, whose locals
 * were damaged through ctypes, for every interpreter: the damaged objects show
 * as `<invalid … at 0x…>`, the sound ones (a recursive list included) as
 * usual, and the rest of the stack is printed; exit code 0, nothing on stderr.
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, runPystack, startFixture } from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons } from "./_pythons.ts";
import { parseLocalsOutput } from "./_locals.ts";

for (const python of await findPythons()) {
  const skip = remoteSkip(python) ?? (python.version[0] < 3
    ? {
      reason: "fixtures/corrupt_locals.py damages objects at Python 3's offsets " +
        "(on 2.7, random memory: src/cpython/values_py2_test.ts, src/walk/locals_test.ts)",
    }
    : undefined);
  registerTest(`locals corrupt remote python=${python.id}`, skip, async () => {
    await using target = await startFixture(python, "corrupt_locals.py");
    const ids = JSON.parse(await Deno.readTextFile(`${target.dir}/ids.json`)) as Record<
      string,
      number
    >;
    const at = (name: string) => `0x${BigInt(ids[name]!).toString(16)}`;
    const result = await runPystack(["remote", String(target.pid), "--locals"]);
    try {
      assert.equal(result.code, 0, "exit code");
      assert.equal(result.stderr, "", "nothing on stderr");
      const [main] = parseLocalsOutput(result.stdout);
      const own = main!.frames.filter((f) => f.file === target.scriptPath);
      assert.deepEqual(own.map((f) => f.func), ["<module>", "holder", "sleeper"]);
      const holder = new Map(own[1]!.locals);
      assert.equal(holder.get("bad_type"), `<invalid object at ${at("bad_type")}>`);
      assert.equal(holder.get("bad_item"), "(4, <invalid object at 0xbad>, 6)");
      assert.equal(holder.get("null_item"), "(7, <invalid object at 0x0>, 9)");
      assert.equal(holder.get("null_list"), `<invalid list object at ${at("null_list")}>`);
      assert.equal(holder.get("bad_str"), `<invalid str object at ${at("bad_str")}>`);
      assert.equal(holder.get("bad_dict"), `<invalid dict object at ${at("bad_dict")}>`);
      assert.equal(holder.get("loop"), "[1, [...]]");
      assert.equal(holder.get("fine"), "'still fine'");
      assert.deepEqual(own[2]!.args, [
        ["ready_path", `'${target.readyPath}'`],
        ["fine_arg", "'fine argument'"],
      ]);
      assert.deepEqual(own[2]!.locals, [["still_fine", "['fine argument', 2]"]]);
    } catch (error) {
      throw withRun(error, result);
    }
  });
}
