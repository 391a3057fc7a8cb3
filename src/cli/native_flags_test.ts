import assert from "node:assert/strict";
import { nativeModeOf } from "./native_flags.ts";
import { parseCommand } from "./args.ts";
import { ExitCode, UsageError } from "../errors.ts";

Deno.test("nativeModeOf() takes the last of --native, --native-all, --native-last", () => {
  assert.equal(nativeModeOf(["remote", "1"]), undefined);
  assert.equal(nativeModeOf(["remote", "1", "--native"]), "python");
  assert.equal(nativeModeOf(["--native-all", "remote", "1"]), "all");
  assert.equal(nativeModeOf(["remote", "1", "--native-all", "--native-last"]), "last");
  assert.equal(nativeModeOf(["remote", "1", "--native-last", "--native"]), "python");
  assert.equal(nativeModeOf(["remote", "--", "--native"]), undefined);
});

Deno.test("parseCommand() passes the native mode to remote and core", () => {
  const remote = parseCommand(["remote", "12", "--native-all", "--native"]);
  assert.equal(remote.kind, "remote");
  assert.equal(remote.kind === "remote" ? remote.native : "", "python");
  const core = parseCommand(["core", "/tmp/core", "--native-last"]);
  assert.equal(core.kind === "core" ? core.native : "", "last");
  const plain = parseCommand(["remote", "12"]);
  assert.equal(plain.kind === "remote" && "native" in plain, false);
});

Deno.test("parseCommand() refuses --no-block with a native mode (usage, exit 2)", () => {
  for (const flag of ["--native", "--native-all", "--native-last"]) {
    assert.throws(
      () => parseCommand(["remote", "12", "--no-block", flag]),
      (e) =>
        e instanceof UsageError && e.exitCode === ExitCode.usage &&
        /only available in blocking mode/.test(e.message),
    );
  }
  assert.throws(() => parseCommand(["demo", "--native"]), UsageError);
});
