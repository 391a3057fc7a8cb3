import assert from "node:assert/strict";
import { parseCommand } from "./args.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseCommand() reads --locals for remote and core, only when given", () => {
  const remote = parseCommand(["remote", "12", "--locals"]);
  assert.equal(remote.kind === "remote" && remote.locals, true);
  const core = parseCommand(["--locals", "core", "/tmp/core"]);
  assert.equal(core.kind === "core" && core.locals, true);
  assert.ok(!("locals" in parseCommand(["remote", "12"])));
});

Deno.test("parseCommand() rejects --locals for the demo", () => {
  assert.throws(() => parseCommand(["demo", "--locals"]), UsageError);
});
