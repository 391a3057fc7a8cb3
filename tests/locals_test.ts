/**
 * `pystack remote PID --locals` on `fixtures/locals.py`, for every interpreter
 * (pyenv 3.6-3.13 and Debian's 3.11; 2.7 skipped with its reason): every
 * argument and local of the fixture's frames, in order, with its exact value
 * (also checked against the interpreter's own `repr`), the Python thread names
 * in the headers; the same with `--no-block`; and without `--locals`, the same
 * output minus the variables and Python names.
 *
 * @module
 */
import assert from "node:assert/strict";
import { expectedFrames, registerTest, runPystack, startFixture } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons } from "./_pythons.ts";
import {
  checkLocalsFixture,
  checkLocalsWorkers,
  localsSkip,
  type LocalsThread,
  parseLocalsOutput,
  type Reprs,
} from "./_locals.ts";
import { assertValidReport } from "./_json_schema.ts";

/** The output without `--locals` lines and Python thread names. */
function withoutLocals(stdout: string): string {
  const out: string[] = [];
  let inSection = false;
  for (const line of stdout.split("\n")) {
    if (line === "      Arguments:" || line === "      Locals:") {
      inSection = true;
      continue;
    }
    if (inSection && line.startsWith("        ") && !line.startsWith("         ")) {
      if (/^ {8}[^ :][^:]*: /.test(line)) continue;
    }
    inSection = false;
    out.push(
      line.replace(/^(Traceback for thread \d+(?: \(.*\))?) "(?:[^"\\]|\\.)*"( \[)/, "$1$2"),
    );
  }
  return out.join("\n");
}

/** A `--locals --json` document as `parseLocalsOutput` reads the text. */
function localsFromJson(doc: {
  threads: {
    tid: number;
    name: string | null;
    pythonName?: string | null;
    frames: {
      file: string;
      line: number;
      function: string;
      variables?: { name: string; value: string; argument: boolean }[];
    }[];
  }[];
}): LocalsThread[] {
  return doc.threads.map((thread) => {
    const out: LocalsThread = { tid: thread.tid, frames: [] };
    if (thread.name !== null) out.osName = thread.name;
    // The text shows the Python name only where it differs from the OS name.
    const python = thread.pythonName ?? undefined;
    if (python !== undefined && python !== thread.name) out.pythonName = python;
    out.frames = thread.frames.map((frame) => {
      const variables = frame.variables ?? [];
      const pairs = (argument: boolean) =>
        variables.filter((v) => v.argument === argument).map((v) =>
          [v.name, v.value] as [string, string]
        );
      return {
        file: frame.file,
        line: frame.line,
        func: frame.function,
        args: pairs(true),
        locals: pairs(false),
      };
    });
    return out;
  });
}

for (const python of await findPythons()) {
  registerTest(`locals remote python=${python.id}`, localsSkip(python), async () => {
    await using target = await startFixture(python, "locals.py");
    const reprs = JSON.parse(await Deno.readTextFile(`${target.dir}/reprs.json`)) as Reprs;
    const pid = String(target.pid);
    for (const mode of [[], ["--no-block"]]) {
      const result = await runPystack(["remote", pid, "--locals", ...mode]);
      try {
        assert.equal(result.code, 0, "exit code");
        assert.equal(result.stderr, "", "nothing on stderr");
        const threads = parseLocalsOutput(result.stdout);
        checkLocalsFixture(threads, target.scriptPath, reprs, await expectedFrames("locals.py"));
        checkLocalsWorkers(threads, target.scriptPath);
        const main = threads.find((t) => t.tid === target.pid)!;
        assert.equal(main.pythonName, "MainThread", "the main thread's Python name");
      } catch (error) {
        throw withRun(error, result);
      }
    }
    // --locals --json: the same threads, names, arguments and locals as the text.
    const text = await runPystack(["remote", pid, "--locals"]);
    const json = await runPystack(["remote", pid, "--locals", "--json"]);
    try {
      assert.equal(json.code, 0, "exit code");
      assert.equal(json.stderr, "", "nothing on stderr");
      const doc = JSON.parse(json.stdout);
      assertValidReport(doc);
      const threads = localsFromJson(doc);
      checkLocalsFixture(threads, target.scriptPath, reprs, await expectedFrames("locals.py"));
      checkLocalsWorkers(threads, target.scriptPath);
      assert.deepEqual(threads, parseLocalsOutput(text.stdout), "JSON and text agree");
    } catch (error) {
      throw withRun(error, json);
    }
    const plain = await runPystack(["remote", pid]);
    const withLocals = await runPystack(["remote", pid, "--locals"]);
    try {
      assert.doesNotMatch(plain.stdout, /Arguments:|Locals:|"MainThread"/, "no locals by default");
      assert.equal(withoutLocals(withLocals.stdout), plain.stdout, "the rest is unchanged");
    } catch (error) {
      throw withRun(error, withLocals);
    }
  });
}
