import assert from "node:assert/strict";
import { HELP, parseCommand } from "./args.ts";
import { parseDuration } from "./watch_args.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseCommand() reads watch with its defaults", () => {
  assert.deepEqual(parseCommand(["watch", "42"]), {
    kind: "watch",
    pid: 42,
    block: true,
    intervalMs: 100,
    format: "text",
    json: false,
    verbose: 0,
    noColor: false,
  });
});

Deno.test("parseCommand() reads every watch option", () => {
  assert.deepEqual(
    parseCommand([
      "watch",
      "42",
      "--duration",
      "1.5s",
      "--interval",
      "0",
      "--native",
      "--group",
      "--subprocesses",
      "--format",
      "speedscope",
    ]),
    {
      kind: "watch",
      pid: 42,
      block: true,
      native: "python",
      durationMs: 1500,
      intervalMs: 0,
      format: "speedscope",
      json: false,
      group: true,
      subprocesses: true,
      verbose: 0,
      noColor: false,
    },
  );
  const json = parseCommand(["watch", "7", "--samples", "30", "--json", "--no-block"]);
  assert.deepEqual(json, {
    kind: "watch",
    pid: 7,
    block: false,
    samples: 30,
    intervalMs: 100,
    format: "json",
    json: true,
    verbose: 0,
    noColor: false,
  });
});

Deno.test("parseCommand() takes --group for remote and core, --subprocesses for remote only", () => {
  assert.deepEqual(parseCommand(["remote", "3", "--group", "--subprocesses"]), {
    kind: "remote",
    pid: 3,
    block: true,
    exhaustive: false,
    json: false,
    group: true,
    subprocesses: true,
    verbose: 0,
    noColor: false,
  });
  assert.equal((parseCommand(["core", "c", "--group"]) as { group?: boolean }).group, true);
  assert.throws(() => parseCommand(["core", "c", "--subprocesses"]), UsageError);
  assert.throws(() => parseCommand(["remote", "3", "--samples", "2"]), UsageError);
  assert.throws(() => parseCommand(["demo", "--group"]), UsageError);
});

Deno.test("parseCommand() rejects bad watch options", () => {
  for (
    const argv of [
      ["watch"],
      ["watch", "1", "2"],
      ["watch", "x"],
      ["watch", "1", "--duration", "0"],
      ["watch", "1", "--duration", "2h"],
      ["watch", "1", "--samples", "1.5"],
      ["watch", "1", "--samples", "100001"],
      ["watch", "1", "--interval", "-1"],
      ["watch", "1", "--format", "json", "--json"].slice(0, 4).concat(["--format", "svg"]),
      ["watch", "1", "--json", "--format", "collapsed"],
      ["watch", "1", "--exhaustive"],
    ]
  ) {
    assert.throws(() => parseCommand(argv), UsageError, argv.join(" "));
  }
});

Deno.test("parseDuration() reads ms, s, m and bare seconds", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("3"), 3000);
  assert.equal(parseDuration("0.5s"), 500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration(""), undefined);
  assert.equal(parseDuration("1e3"), undefined);
  assert.equal(parseDuration("-1"), undefined);
});

Deno.test("watch --help states the stuck rule", () => {
  assert.match(HELP.watch, /at most 2% CPU over the window, and at most 1 wake-up/);
  assert.match(HELP.main, /pystack watch PID/);
});
