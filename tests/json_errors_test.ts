/**
 * `--json` on failures: one `{ "error": … }` document on stdout that
 * validates, with the stable code and the exit code of the text run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertValidReport } from "./_json_schema.ts";
import { describeRun, runPystack, startCommand } from "./_harness.ts";

/** Run `args` as text and as `--json`; assert the JSON error and the shared exit code. */
async function checkJsonError(args: string[], code: string, exitCode: number): Promise<void> {
  const [text, json] = await Promise.all([runPystack(args), runPystack([...args, "--json"])]);
  const where = `${describeRun(json)}\n--- text ---\n${describeRun(text)}`;
  assert.equal(text.code, exitCode, `text exit code\n${where}`);
  assert.equal(json.code, exitCode, `--json exit code\n${where}`);
  const doc = JSON.parse(json.stdout);
  assertValidReport(doc, `the error document\n${where}`);
  assert.equal(doc.error.code, code, where);
  assert.equal(doc.error.exitCode, exitCode, where);
  assert.equal(
    `pystack: ${doc.error.message}${doc.error.hint === null ? "" : `; ${doc.error.hint}`}\n`,
    text.stderr,
    `the message and hint are the text run's\n${where}`,
  );
}

Deno.test("--json: a bad command line is a usage error", async () => {
  await checkJsonError(["remote"], "usage", 2);
  await checkJsonError(["remote", "12x"], "usage", 2);
});

Deno.test("--json: a PID that does not exist is process_not_found", async () => {
  await checkJsonError(["remote", "1073741823"], "process_not_found", 3);
});

Deno.test("--json: a process that is not Python is not_python", async () => {
  await using sleep = await startCommand(["sleep", "100"]);
  await checkJsonError(["remote", String(sleep.pid)], "not_python", 5);
});

Deno.test("--json: a missing core is core_not_found, a non-core ELF file not_a_core", async () => {
  await checkJsonError(["core", "/nonexistent/core"], "core_not_found", 2);
  await checkJsonError(["core", Deno.realPathSync("/bin/sleep")], "not_a_core", 8);
});
