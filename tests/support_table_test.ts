/**
 * `scripts/support_table.ts` builds README.md's table of supported interpreters
 * from the results of a test run (`.ci/run` checks the README with its own
 * run's results); here, from a JUnit report written for the purpose, and the
 * README's table lists every interpreter of `tests/_pythons.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { END, parseJunit, START, supportTable } from "../scripts/support_table.ts";

const JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="6" failures="1" errors="0" time="0.062">
    <testsuite name="./tests/remote_test.ts" tests="6" disabled="2" errors="0" failures="1">
        <testcase name="remote python=3.12-pyenv fixture=x mode=block" classname="./t.ts" time="0.000" line="1" col="6">
        </testcase>
        <testcase name="remote python=2.7-pyenv fixture=x mode=block" classname="./t.ts" time="0.000" line="3" col="6">
            <failure message="Uncaught Error: boom &lt;x&gt;">Error: boom</failure>
        </testcase>
        <testcase name="remote python=3.13-sid fixture=x mode=block (skipped: Debian sid's Pythons could not be fetched: down)" classname="./t.ts" time="0.000" line="2" col="6">
            <skipped/>
        </testcase>
        <testcase name="remote python=3.6-pyenv fixture=x mode=block (skipped: needs &quot;root&quot; &amp; more)" classname="./t.ts" time="0.000" line="2" col="6">
            <skipped/>
        </testcase>
        <testcase name="remote python=3.12-pyenv fixture=x mode=no-block" classname="./t.ts" time="0.000" line="1" col="6">
        </testcase>
        <testcase name="remote python=3.6-pyenv fixture=x mode=no-block" classname="./t.ts" time="0.000" line="1" col="6">
        </testcase>
    </testsuite>
</testsuites>
`;

Deno.test("parseJunit() reads each test case's name and outcome", () => {
  assert.deepEqual(parseJunit(JUNIT).map((t) => [t.name.slice(0, 40), t.outcome]), [
    ["remote python=3.12-pyenv fixture=x mode=", "passed"],
    ["remote python=2.7-pyenv fixture=x mode=b", "failed"],
    ["remote python=3.13-sid fixture=x mode=bl", "skipped"],
    ["remote python=3.6-pyenv fixture=x mode=b", "skipped"],
    ["remote python=3.12-pyenv fixture=x mode=", "passed"],
    ["remote python=3.6-pyenv fixture=x mode=n", "passed"],
  ]);
  assert.ok(parseJunit(JUNIT)[3]!.name.endsWith('(skipped: needs "root" & more)'), "entities");
});

Deno.test("supportTable() says tested, failed or skipped from the results", async () => {
  const table = await supportTable([
    { id: "2.7-pyenv" },
    { id: "3.6-pyenv" },
    { id: "3.12-pyenv" },
    { id: "3.13-sid", unavailable: "Debian sid's Pythons could not be fetched: down" },
    { id: "3.14-sid" },
  ], parseJunit(JUNIT));
  const rows = table.trimEnd().split("\n").map((line) => line.split("|").map((c) => c.trim()));
  const cells = (id: string) => rows.find((r) => r[2] === `\`${id}\``)!.slice(3, 5);
  assert.deepEqual(rows[0]!.slice(3, 5), ["remote", "remote --no-block"]);
  assert.deepEqual(cells("2.7-pyenv"), ["failed", ""], "a failed test is not tested");
  assert.deepEqual(cells("3.6-pyenv"), ["skipped (1)", "tested"]);
  assert.deepEqual(cells("3.12-pyenv"), ["tested", "tested"]);
  // The mirror could not be reached: the run cannot check these cells, which stay tested.
  assert.deepEqual(cells("3.13-sid"), ["tested", ""]);
  assert.deepEqual(cells("3.14-sid"), ["", ""], "no result, no claim");
  assert.match(table, /^- \(1\) needs "root" & more$/m);
});

Deno.test("README.md's supported-interpreters table lists every interpreter under test", async () => {
  const readme = await Deno.readTextFile(`${REPO_ROOT}README.md`);
  const section = readme.slice(readme.indexOf(START), readme.indexOf(END));
  const ids = [...section.matchAll(/^\| [^|]+\| `([^`]+)` *\|/gm)].map((m) => m[1]);
  assert.deepEqual(ids, (await findPythons()).map((p) => p.id));
});
