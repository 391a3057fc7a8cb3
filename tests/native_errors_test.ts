/**
 * Native modes on the command line: without libdw (exit 9, one line saying
 * what to install; Python-only mode unaffected), and refused with --no-block
 * (exit 2).
 *
 * @module
 */
import assert from "node:assert/strict";
import { describeRun, registerTest, runPystack, startFixture } from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { nativeSkip } from "./_native_cases.ts";

const pythons = await findPythons();
const python = pythons.find((p) => p.id === "3.12-pyenv") ?? pythons[0]!;
const skip = nativeSkip(python, "live");
/** Makes libdw impossible to load (see src/native/session.ts). */
const NO_LIBDW = { _PYSTACK_LIBDW: "/nonexistent/libdw.so.1" };

registerTest(`native without libdw python=${python.id}`, skip, async () => {
  await using fixture = await startFixture(python, "single_thread.py");
  const native = await runPystack(["remote", String(fixture.pid), "--native"], { env: NO_LIBDW });
  try {
    assert.equal(native.code, 9, "exit code 9: native frames asked for, libdw missing");
    assert.equal(native.stdout, "", "nothing on stdout");
    const lines = native.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, "one line on stderr");
    assert.match(
      lines[0]!,
      /^pystack: Cannot show native frames: elfutils' libdw cannot be loaded/,
    );
    assert.match(lines[0]!, /install libdw1/);
  } catch (error) {
    throw new Error(`${error}\n${describeRun(native)}`, { cause: error });
  }
  const plain = await runPystack(["remote", String(fixture.pid)], { env: NO_LIBDW });
  assert.equal(plain.code, 0, `Python-only mode does not load libdw\n${describeRun(plain)}`);
  assert.match(plain.stdout, /in third_func/);
});

registerTest(`native with --no-block python=${python.id}`, skip, async () => {
  await using fixture = await startFixture(python, "single_thread.py");
  for (const flag of ["--native", "--native-all", "--native-last"]) {
    const result = await runPystack(["remote", String(fixture.pid), "--no-block", flag]);
    assert.equal(result.code, 2, `usage error\n${describeRun(result)}`);
    assert.match(result.stderr, /Native stacks are only available in blocking mode/);
    assert.equal(result.stdout, "");
  }
});
