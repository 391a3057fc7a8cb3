import assert from "node:assert/strict";
import { parseTimeout } from "./timeout_args.ts";
import { parseCommand } from "./args.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseTimeout() reads whole and decimal seconds", () => {
  assert.equal(parseTimeout("1"), 1);
  assert.equal(parseTimeout("0.5"), 0.5);
  assert.equal(parseTimeout(".25"), 0.25);
  assert.equal(parseTimeout("2."), 2);
  assert.equal(parseTimeout("86400"), 86400);
});

Deno.test("parseTimeout() rejects what is not a positive number of seconds", () => {
  for (
    const bad of ["0", "0.0", "-1", "", "1s", "500ms", "abc", "1e3", "NaN", "Infinity", "86401"]
  ) {
    assert.throws(
      () => parseTimeout(bad),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === 2 &&
        e.message === `Invalid --timeout '${bad}': expected a number of seconds greater than 0 ` +
            "and at most 86400",
      bad,
    );
  }
});

Deno.test("parseCommand() takes --timeout for remote, core and watch, not for demo", () => {
  assert.deepEqual(parseCommand(["remote", "42", "--timeout", "1.5"]), {
    kind: "remote",
    pid: 42,
    block: true,
    exhaustive: false,
    json: false,
    timeout: 1.5,
    verbose: 0,
    noColor: false,
  });
  const core = parseCommand(["--timeout=2", "core", "/tmp/core"]);
  assert.equal(core.kind === "core" && core.timeout, 2);
  const watch = parseCommand(["watch", "42", "--timeout", "0.5"]);
  assert.equal(watch.kind === "watch" && watch.timeout, 0.5);
  const plain = parseCommand(["remote", "42"]);
  assert.equal("timeout" in plain, false, "absent when not given");
  assert.throws(
    () => parseCommand(["demo", "--timeout", "1"]),
    (e: unknown) =>
      e instanceof UsageError && e.message === "Option --timeout does not apply to 'demo'",
  );
  assert.throws(() => parseCommand(["remote", "42", "--timeout"]), UsageError);
  assert.throws(() => parseCommand(["remote", "42", "--timeout", "x"]), UsageError);
});
