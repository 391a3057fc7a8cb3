import assert from "node:assert/strict";
import { HELP, parseCommand } from "./args.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseCommand() reads remote with options before or after the sub-command", () => {
  assert.deepEqual(parseCommand(["remote", "123"]), {
    kind: "remote",
    pid: 123,
    block: true,
    exhaustive: false,
    json: false,
    verbose: 0,
    noColor: false,
  });
  assert.deepEqual(
    parseCommand(["-v", "--no-color", "remote", "5", "--no-block", "-v", "--exhaustive"]),
    {
      kind: "remote",
      pid: 5,
      block: false,
      exhaustive: true,
      json: false,
      verbose: 2,
      noColor: true,
    },
  );
});

Deno.test("parseCommand() runs the demo by default and answers --version and --help", () => {
  assert.deepEqual(parseCommand([]), { kind: "demo", verbose: 0, noColor: false });
  assert.deepEqual(parseCommand(["--version"]), { kind: "version" });
  assert.deepEqual(parseCommand(["--help"]), { kind: "help", topic: "main" });
  assert.deepEqual(parseCommand(["remote", "--help"]), { kind: "help", topic: "remote" });
});

Deno.test("parseCommand() rejects bad input with UsageError", () => {
  for (
    const argv of [
      ["remote"],
      ["remote", "abc"],
      ["remote", "0"],
      ["remote", "1", "2"],
      ["bogus"],
      ["remote", "1", "--frobnicate"],
      ["demo", "--no-block"],
    ]
  ) {
    assert.throws(() => parseCommand(argv), UsageError, argv.join(" "));
  }
});

Deno.test("HELP.remote names the newest CPython that runtime.ts reads", async () => {
  const { SUPPORTED } = await import("../cpython/runtime.ts");
  assert.ok(HELP.remote.includes(`3.6 to ${SUPPORTED.newest.join(".")})`), HELP.remote);
});
