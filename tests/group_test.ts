/**
 * `--group` on `fixtures/pool50.py` (50 pool threads in the same function and
 * 3 others): one group of exactly the 50, live on every interpreter (text and
 * JSON), and from a `gcore` core.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  FIXTURES_DIR,
  registerTest,
  runPystack,
  startFixture,
  threadIds,
  threadName,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { gcoreSkip } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";

const pythons = await findPythons();
const FIXTURE = "pool50.py";
const POOL_LINE = Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n")
  .findIndex((l) => l.endsWith("# @group pool")) + 1;

function skipOf(python: Python) {
  const reason = python.unavailable ?? python.missing;
  return reason === undefined ? undefined : { reason, missing: python.missing !== undefined };
}

/** Checks grouped text: the 50 first, each `TID (pool-N)`, then the 3 others alone. */
function checkText(stdout: string, pid: number, scriptPath: string, names: Map<number, string>) {
  const blocks = stdout.slice(stdout.indexOf("50 threads: ")).trimEnd().split("\n\n");
  assert.equal(blocks.length, 4, stdout);
  const [title, ...body] = blocks[0]!.split("\n");
  const match = /^50 threads: (.*):$/.exec(title!);
  assert.ok(match !== null, title);
  const members = match[1]!.split(", ").map((m) => {
    // A core records no OS names: the members are then named from the live process.
    const parts = /^(\d+)(?: \(([^)]*)\))?$/.exec(m)!;
    return [Number(parts[1]), parts[2] ?? names.get(Number(parts[1]))!] as const;
  });
  assert.deepEqual(
    members.map(([, name]) => name).sort(),
    Array.from({ length: 50 }, (_, i) => `pool-${i + 1}`).sort(),
  );
  for (const [tid, name] of members) assert.equal(names.get(tid), name, `thread ${tid}`);
  assert.ok(
    body.includes(`    (Python) File "${scriptPath}", line ${POOL_LINE}, in serve`),
    blocks[0],
  );
  const others = blocks.slice(1).map((b) => /^Traceback for thread (\d+) /.exec(b)?.[1]);
  assert.deepEqual(
    others.map((tid) => tid === String(pid) ? "main" : names.get(Number(tid))).sort(),
    ["main", "other-1", "other-2"],
  );
}

for (const python of pythons) {
  registerTest(
    `remote --group gives one group of 50 python=${python.id}`,
    skipOf(python),
    async () => {
      await using fixture = await startFixture(python, FIXTURE);
      const names = new Map(
        threadIds(fixture.pid).map((tid) => [tid, threadName(fixture.pid, tid)]),
      );
      const text = await runPystack(["remote", String(fixture.pid), "--group"]);
      assert.equal(text.code, 0, describeRun(text));
      checkText(text.stdout, fixture.pid, fixture.scriptPath, names);
      const json = await runPystack(["remote", String(fixture.pid), "--group", "--json"]);
      assert.equal(json.code, 0, describeRun(json));
      const doc = JSON.parse(json.stdout);
      assertValidReport(doc);
      assert.deepEqual(doc.groups.map((g: { count: number }) => g.count), [50, 1, 1, 1]);
      const pool = new Set(doc.groups[0].tids as number[]);
      assert.deepEqual(
        [...pool].map((tid) => names.get(tid)!).sort(),
        Array.from({ length: 50 }, (_, i) => `pool-${i + 1}`).sort(),
      );
      assert.equal(doc.groups.flatMap((g: { tids: number[] }) => g.tids).length, 53);
    },
  );
}

const main = pythons.find((p) => p.id === "3.12-pyenv") ?? pythons.at(-1)!;
registerTest(
  `core --group gives one group of 50 python=${main.id}`,
  skipOf(main) ?? gcoreSkip(),
  async () => {
    await using fixture = await startFixture(main, FIXTURE);
    const names = new Map(threadIds(fixture.pid).map((tid) => [tid, threadName(fixture.pid, tid)]));
    const core = `${fixture.dir}/core`;
    const made = await new Deno.Command("gcore", {
      args: ["-o", core, String(fixture.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(made.code, 0, "gcore");
    const text = await runPystack(["core", `${core}.${fixture.pid}`, "--group"]);
    assert.equal(text.code, 0, describeRun(text));
    checkText(text.stdout, fixture.pid, fixture.scriptPath, names);
  },
);

registerTest(
  `watch --group gives one stuck group of 50 python=${main.id}`,
  skipOf(main),
  async () => {
    await using fixture = await startFixture(main, FIXTURE);
    const names = new Map(threadIds(fixture.pid).map((tid) => [tid, threadName(fixture.pid, tid)]));
    const args = ["watch", String(fixture.pid), "--group", "--samples", "3", "--interval", "20ms"];
    const text = await runPystack(args);
    assert.equal(text.code, 0, describeRun(text));
    const titles = text.stdout.split("\n").filter((l) => /^(\d+ threads?: |Thread )/.test(l));
    assert.equal(titles.length, 4, text.stdout);
    assert.match(titles[0]!, /^50 threads: .*: STUCK \(the same stack in all 3 samples, /);
    const json = await runPystack([...args, "--json"]);
    assert.equal(json.code, 0, describeRun(json));
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(doc.groups.map((g: { count: number }) => g.count), [50, 1, 1, 1]);
    assert.deepEqual(
      (doc.groups[0].tids as number[]).map((tid) => names.get(tid)!).sort(),
      Array.from({ length: 50 }, (_, i) => `pool-${i + 1}`).sort(),
    );
  },
);
