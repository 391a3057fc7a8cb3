/**
 * The exception each thread handles (`fixtures/exceptions.py`), on every
 * interpreter: `pystack remote` and then `pystack core` of the same process
 * (gcore, or a kernel core where gcore cannot dump the interpreter whole),
 * text and `--json`. Each thread's `Handling …` lines are asserted exactly:
 * type, message, chain and where each exception was raised (the lines marked
 * `# @exc NAME` in the fixture); threads handling nothing show none.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FIXTURES_DIR, parseTraceback, registerTest, runPystack } from "./_harness.ts";
import type { TracebackThread } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { type CoreMaker, makeCore, makerSkip, startCoreTarget } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";

const FILE = "exceptions.py";
const SCRIPT = FIXTURES_DIR + FILE;

/** Line numbers of the `# @exc NAME` markers. */
async function raiseLines(): Promise<Map<string, number>> {
  const lines = (await Deno.readTextFile(SCRIPT)).split("\n");
  const out = new Map<string, number>();
  lines.forEach((text, i) => {
    const m = /# @exc (\w+)/.exec(text);
    if (m) out.set(m[1]!, i + 1);
  });
  return out;
}

/** A regular expression matching exactly `text`. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Each thread's expected exception lines (regular expressions), by thread name. */
function expectedLines(version: Python["version"], at: Map<string, number>): Map<string, string[]> {
  const where = (name: string) => literal(` (at ${SCRIPT}:${at.get(name)})`);
  const line = (text: string, name: string) => `^${literal(text)}${where(name)}$`;
  const py2 = version[0] === 2;
  const longText = `Handling ValueError: ${"x".repeat(200)}...(+10040 ${py2 ? "bytes" : "chars"})`;
  return new Map([
    [
      "chained",
      py2 ? [line("    Handling ValueError: bad input 42", "value")] : [
        line("    Handling ValueError: bad input 42", "value"),
        line("      caused by KeyError: 'missing-key'", "key"),
      ],
    ],
    [
      "nested",
      py2 ? [line("    Handling IOError: timed out", "timeout")] : [
        line("    Handling TimeoutError: timed out", "timeout"),
        line(
          "      while handling ConnectionRefusedError: [Errno 111] Connection refused",
          "refused",
        ),
      ],
    ],
    // 2.7 does not record the exception a `finally` block runs for.
    ["finally", py2 ? [] : [line("    Handling RuntimeError: propagating", "runtime")]],
    ["custom", [`^    Handling AppError object at 0x[0-9a-f]+${where("app")}$`]],
    ["long", [line(`    ${longText}`, "long")]],
    [
      "generator",
      // 2.7 and 3.6 swap a running generator's exception into the thread state: one shows.
      version[0] === 2 || version[1] === 6
        ? [line("    Handling RuntimeError: in generator", "gen")]
        : [
          line("    Handling RuntimeError: in generator", "gen"),
          line("      while handling LookupError: outer-handler", "outer"),
        ],
    ],
    ["idle", []],
  ]);
}

/** The `Handling`/`caused by`/`while handling` lines of a thread. */
function exceptionLines(thread: TracebackThread): string[] {
  return thread.extra.filter((l) =>
    /^ {4}(Handling|Raising) | {6}(caused by|while handling) /.test(l)
  );
}

/** Checks every thread of `text` (named by `names`, tid → name) against the expectations. */
function checkText(
  stdout: string,
  names: Map<number, string>,
  expected: Map<string, string[]>,
  pid: number,
): void {
  const threads = parseTraceback(stdout);
  assert.equal(threads.length, 8, "seven workers and the main thread");
  for (const thread of threads) {
    const name = thread.tid === pid ? "main" : names.get(thread.tid);
    assert.ok(name !== undefined, `thread ${thread.tid} is known`);
    const want = name === "main" ? [] : expected.get(name);
    assert.ok(want !== undefined, `thread ${name} is expected`);
    const got = exceptionLines(thread);
    assert.equal(got.length, want.length, `${name}: ${JSON.stringify(got)}`);
    got.forEach((l, i) => assert.match(l, new RegExp(want[i]!), `${name}, line ${i}`));
    assert.deepEqual(
      thread.extra.filter((l) => !got.includes(l)),
      [],
      `${name}: no other unknown lines`,
    );
  }
}

interface JsonException {
  type: string;
  message?: string;
  address: string;
  raisedAt?: { file: string; line: number; function: string };
  state?: string;
  relation?: string;
  chain?: JsonException[];
}

/** The JSON twin: valid, and the same exceptions as the text run (addresses included). */
async function checkJson(args: string[], stdout: string, at: Map<string, number>): Promise<void> {
  const result = await runPystack([...args, "--json"]);
  try {
    assert.equal(result.code, 0, "--json exit code");
    const doc = JSON.parse(result.stdout);
    assertValidReport(doc);
    const text = new Map(parseTraceback(stdout).map((t) => [t.tid, exceptionLines(t)]));
    for (const t of doc.threads as { tid: number; exception?: JsonException }[]) {
      const lines = text.get(t.tid) ?? [];
      if (t.exception === undefined) {
        assert.deepEqual(lines, [], `thread ${t.tid}: no exception in JSON, none in text`);
        continue;
      }
      const all = [t.exception, ...t.exception.chain ?? []];
      assert.equal(all.length, lines.length, `thread ${t.tid}: as many as in text`);
      all.forEach((e, i) => {
        assert.ok(lines[i]!.includes(e.type), `${e.type} in ${lines[i]}`);
        if (e.message === undefined) assert.ok(lines[i]!.includes(`object at ${e.address}`));
        else assert.ok(lines[i]!.includes(`${e.type}: ${e.message.slice(0, 50)}`));
        if (e.raisedAt !== undefined) {
          assert.ok(lines[i]!.endsWith(` (at ${e.raisedAt.file}:${e.raisedAt.line})`));
        }
      });
      assert.equal(t.exception.state, "handling");
    }
    const chained = (doc.threads as { exception?: JsonException }[])
      .map((t) => t.exception).find((e) => e?.message === "bad input 42");
    assert.ok(chained !== undefined, "the chained thread's ValueError");
    assert.deepEqual(chained.raisedAt, {
      file: SCRIPT,
      line: at.get("value"),
      function: "chained",
    });
    const generator = (doc.threads as { exception?: JsonException }[])
      .map((t) => t.exception).find((e) => e?.message === "in generator");
    assert.ok(generator !== undefined, "the generator's RuntimeError");
    assert.deepEqual(
      generator.chain!.map((e) => [e.relation, e.type]),
      generator.chain!.length === 0 ? [] : [["outer", "LookupError"]],
      "the enclosing handler's exception, linked through the generator's exc state",
    );
    if (chained.chain!.length > 0) {
      assert.equal(chained.chain![0]!.relation, "cause");
      assert.equal(chained.chain![0]!.raisedAt?.function, "lookup");
    }
  } catch (error) {
    throw withRun(error, result);
  }
}

function skipFor(python: Python, maker: CoreMaker) {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  return makerSkip(maker);
}

const at = await raiseLines();
for (const python of await findPythons()) {
  const maker: CoreMaker = python.gcoreSkip === undefined ? "gcore" : "kernel-abrt";
  const name = `exceptions remote and core python=${python.id} maker=${maker}`;
  registerTest(name, skipFor(python, maker), async () => {
    await using target = await startCoreTarget([python.path, "-S", SCRIPT, "{dir}/ready"], {
      readyFile: "ready",
    });
    const expected = expectedLines(python.version, at);
    const names = new Map<number, string>();
    for (const entry of Deno.readDirSync(`/proc/${target.pid}/task`)) {
      const tid = Number(entry.name);
      names.set(tid, Deno.readTextFileSync(`/proc/${target.pid}/task/${tid}/comm`).trim());
    }
    const liveArgs = ["remote", String(target.pid)];
    const live = await runPystack(liveArgs);
    try {
      assert.equal(live.code, 0, "remote exit code");
      checkText(live.stdout, names, expected, target.pid);
    } catch (error) {
      throw withRun(error, live);
    }
    await checkJson(liveArgs, live.stdout, at);
    const core = await makeCore(target, maker);
    const coreArgs = ["core", core.path];
    const result = await runPystack(coreArgs);
    try {
      assert.equal(result.code, 0, "core exit code");
      checkText(result.stdout, names, expected, target.pid);
      const liveLines = parseTraceback(live.stdout).map((t) => [t.tid, exceptionLines(t)]);
      const coreLines = parseTraceback(result.stdout).map((t) => [t.tid, exceptionLines(t)]);
      assert.deepEqual(coreLines, liveLines, "the core shows what the live process showed");
    } catch (error) {
      throw withRun(error, result);
    }
    await checkJson(coreArgs, result.stdout, at);
  });
}

for (const python of await findPythons()) {
  if (python.version[0] !== 2) continue;
  const name = `exceptions old-style class python=${python.id} maker=gcore`;
  registerTest(name, skipFor(python, "gcore"), async () => {
    const script = FIXTURES_DIR + "exceptions_py2.py";
    const line = (await Deno.readTextFile(script)).split("\n")
      .findIndex((l) => l.includes("# @exc old")) + 1;
    await using target = await startCoreTarget([python.path, "-S", script, "{dir}/ready"], {
      readyFile: "ready",
    });
    const want = new RegExp(
      `^ {4}Handling OldStyle object at 0x[0-9a-f]+ \\(at ${literal(script)}:${line}\\)$`,
    );
    const live = await runPystack(["remote", String(target.pid)]);
    const core = await makeCore(target, "gcore");
    const fromCore = await runPystack(["core", core.path]);
    for (const result of [live, fromCore]) {
      try {
        assert.equal(result.code, 0);
        const [main] = parseTraceback(result.stdout);
        assert.equal(main?.extra.length, 1, "one exception line");
        assert.match(main!.extra[0]!, want);
      } catch (error) {
        throw withRun(error, result);
      }
    }
  });
}
