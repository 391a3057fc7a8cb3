/**
 * `scripts/triage.ts`, run as a shebang script against two fixtures: the
 * demo's deadlock (stuck) and a pool of idle workers next to a busy thread
 * (running, with identical stacks grouped).
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerTest, REPO_ROOT, startFixture } from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { remoteSkip } from "./_remote_cases.ts";

const pythons = await findPythons();
const python = pythons.find((p) => !p.missing && !p.unavailable && p.version[0] === 3);
const TRIAGE_TEST = "triage.ts reports the deadlock as stuck and groups identical stacks";

async function triage(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(`${REPO_ROOT}scripts/triage.ts`, {
    args,
    cwd: "/",
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The report block of `pid`: from its `PID` line to the next blank line. */
function block(stdout: string, pid: number): string {
  const start = stdout.indexOf(`PID ${pid} `);
  assert.ok(start >= 0, `a block for PID ${pid}`);
  const end = stdout.indexOf("\n\n", start);
  return stdout.slice(start, end < 0 ? undefined : end);
}

registerTest(
  TRIAGE_TEST,
  python ? undefined : { reason: "no Python 3 interpreter is installed", missing: true },
  async () => {
    const marker = `triage-test-${crypto.randomUUID().slice(0, 8)}`;
    await using deadlock = await startFixture(python!, "demo.py", { args: [marker] });
    await using pool = await startFixture(python!, "triage_pool.py", { args: [marker] });
    const result = await triage([marker]);
    const where = `exit ${result.code}\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
    assert.equal(result.code, 1, `exit code 1: a process looks stuck\n${where}`);
    assert.equal(
      result.stdout.split("\n")[0],
      `2 Python processes match '${marker}'; 1 looks stuck`,
      where,
    );
    const stuck = block(result.stdout, deadlock.pid);
    assert.match(stuck, /: STUCK \(possible deadlock\): 2 threads wait for locks/, where);
    assert.match(
      stuck,
      /\[lock\] transfer-a \(\d+\)\n\s+at demo\.py:\d+ in transfer_a: with lock_y:/,
    );
    assert.match(
      stuck,
      /\[lock\] transfer-b \(\d+\)\n\s+at demo\.py:\d+ in transfer_b: with lock_x:/,
    );
    assert.match(stuck, /\[wait\] waiter \(\d+\)\n.*<- demo\.py:\d+ in wait_for_event/);
    const running = block(result.stdout, pool.pid);
    assert.match(running, /5 threads: RUNNING/, where);
    const group = /- 3 threads \[wait, identical stacks\] (.*)\n.*<- triage_pool\.py:\d+ in serve/
      .exec(running);
    assert.ok(group, `the three pool threads form one group\n${where}`);
    assert.deepEqual(
      group[1]!.split(", ").map((who) => who.replace(/ \(\d+\)$/, "")).sort(),
      ["pool-1", "pool-2", "pool-3"],
    );
    assert.match(running, /\[running[^\]]*\] busy \(\d+\)\n\s+at triage_pool\.py:\d+ in spin/);
  },
);

Deno.test("triage.ts exits 2 when no Python process matches", async () => {
  const result = await triage([`no-such-process-${crypto.randomUUID()}`]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /no Python process matches/);
});

for (const ft of pythons.filter((p) => p.freeThreaded === true)) {
  registerTest(
    `triage.ts python=${ft.id}: a free-threaded build's attached thread is running`,
    remoteSkip(ft),
    async () => {
      const marker = `triage-test-${crypto.randomUUID().slice(0, 8)}`;
      await using pool = await startFixture(ft, "triage_pool.py", { args: [marker] });
      const result = await triage([marker]);
      const where = `exit ${result.code}\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
      assert.equal(result.code, 0, where);
      const running = block(result.stdout, pool.pid);
      assert.match(running, /5 threads: RUNNING/, where);
      assert.match(
        running,
        /\[running[^\]]*\] busy \(\d+\)\n\s+at triage_pool\.py:\d+ in spin/,
        where,
      );
    },
  );
}
