import assert from "node:assert/strict";
import { HELP, parseCommand } from "./args.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseCommand() reads --tasks for remote and core, only when given", () => {
  const remote = parseCommand(["remote", "12", "--tasks", "--json"]);
  assert.equal(remote.kind === "remote" && remote.tasks, true);
  const core = parseCommand(["--tasks", "core", "/tmp/core"]);
  assert.equal(core.kind === "core" && core.tasks, true);
  assert.ok(!("tasks" in parseCommand(["remote", "12"])));
  assert.ok(!("tasks" in parseCommand(["core", "/tmp/core"])));
});

Deno.test("parseCommand() rejects --tasks for the demo, and the help names it", () => {
  assert.throws(() => parseCommand(["demo", "--tasks"]), UsageError);
  for (const topic of ["main", "remote", "core"] as const) {
    assert.match(HELP[topic], /--tasks/, `pystack ${topic} --help`);
  }
});
