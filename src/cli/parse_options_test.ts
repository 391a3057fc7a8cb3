import assert from "node:assert/strict";
import { OptionError, parseOptions } from "./parse_options.ts";

const SPEC = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean", short: "v", multiple: true },
  json: { type: "boolean" },
  duration: { type: "string" },
  path: { type: "string", short: "p" },
} as const;

Deno.test("parseOptions() reads flags, values and positionals in any order", () => {
  assert.deepEqual(parseOptions(["remote", "-v", "12", "--json", "-vh"], SPEC), {
    values: { verbose: [true, true], json: true, help: true },
    positionals: ["remote", "12"],
  });
  assert.deepEqual(parseOptions(["--duration", "5s", "watch", "--duration=2"], SPEC), {
    values: { duration: "2" },
    positionals: ["watch"],
  });
  assert.deepEqual(parseOptions(["--duration=", "x"], SPEC).values, { duration: "" });
  assert.deepEqual(parseOptions(["--duration", "-1"], SPEC).values, { duration: "-1" });
});

Deno.test("parseOptions() treats everything after -- and a lone - as positionals", () => {
  assert.deepEqual(parseOptions(["core", "--", "--json", "-v"], SPEC), {
    values: {},
    positionals: ["core", "--json", "-v"],
  });
  assert.deepEqual(parseOptions(["-"], SPEC), { values: {}, positionals: ["-"] });
});

Deno.test("parseOptions() rejects what it cannot read, in one line", () => {
  const cases: [string[], string][] = [
    [["--frobnicate"], "Unknown option '--frobnicate'"],
    [["-x"], "Unknown option '-x'"],
    [["-vx"], "Unknown option '-x'"],
    [["--json=yes"], "Option '--json' does not take a value"],
    [["--duration"], "Option '--duration' needs a value"],
    [["--duration", "--json"], "Option '--duration' needs a value"],
    [["-p"], "Option '-p' needs a value: write --path VALUE"],
    [["--constructor"], "Unknown option '--constructor'"],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseOptions(argv, SPEC), new OptionError(message), argv.join(" "));
  }
});
