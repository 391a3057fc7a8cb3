/**
 * What the README promises about the command line itself: plain `pystack`
 * runs the demo, `core --help`, `-v`'s pause time, colours on a terminal and
 * `NO_COLOR`, a closed pipe ending quietly, exit code 1 (another failure),
 * exit code 6 (a Python version pystack does not read), and 2.7's file names
 * shown as UTF-8.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  FIXTURES_DIR,
  parseTraceback,
  pystackCommand,
  type PystackResult,
  registerTest,
  REPO_ROOT,
  runPystack,
  startFixture,
} from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { startCoreTarget } from "./_cores.ts";

const pythons = await findPythons();
const python = pythons.find((p) => p.id === "3.12-pyenv" && !remoteSkip(p)) ??
  pythons.find((p) => !remoteSkip(p) && p.version[0] === 3)!;
const pythonSkip = remoteSkip(python);

/** Assert a failed run: the exit code, nothing on stdout, exactly `line` on stderr. */
function checkFailure(result: PystackResult, code: number, line: string | RegExp): void {
  try {
    assert.equal(result.code, code, "exit code");
    assert.equal(result.stdout, "", "nothing on stdout");
    const stderr = result.stderr.replace(/\n$/, "");
    assert.ok(!stderr.includes("\n"), "one line on stderr");
    if (typeof line === "string") assert.equal(stderr, line);
    else assert.match(stderr, line);
  } catch (error) {
    throw withRun(error, result);
  }
}

registerTest("cli core --help", undefined, async () => {
  const result = await runPystack(["core", "--help"]);
  try {
    assert.equal(result.code, 0, "exit code");
    assert.equal(result.stderr, "", "nothing on stderr");
    assert.match(result.stdout, /^Usage: pystack core CORE \[EXECUTABLE\]/m);
    for (const option of ["--lib-search-path", "--lib-search-root", "--native", "--locals"]) {
      assert.ok(result.stdout.includes(option), `mentions ${option}`);
    }
    assert.ok(!result.stdout.includes("--no-block"), "core has no --no-block");
  } catch (error) {
    throw withRun(error, result);
  }
});

registerTest("cli exit=1 the demo's interpreter cannot start", undefined, async () => {
  const result = await runPystack(["demo"], { env: { PYSTACK_DEMO_PYTHON: "/nonexistent/py" } });
  checkFailure(
    result,
    1,
    /^pystack: Cannot start the demo program with '\/nonexistent\/py': .+; install python3 or set PYSTACK_DEMO_PYTHON to a Python interpreter$/,
  );
});

registerTest("cli exit=1 the demo's interpreter exits at once", undefined, async () => {
  const result = await runPystack(["demo"], { env: { PYSTACK_DEMO_PYTHON: "/bin/false" } });
  checkFailure(
    result,
    1,
    "pystack: The demo program exited before reaching its deadlock (/bin/false); " +
      "check that PYSTACK_DEMO_PYTHON (or python3) runs",
  );
});

registerTest(
  `cli -v python=${python.id} says how long the target was paused`,
  pythonSkip,
  async () => {
    await using target = await startFixture(python, "single_thread.py");
    for (const flag of ["-v", "-vv"]) {
      const result = await runPystack([flag, "remote", String(target.pid)]);
      try {
        assert.equal(result.code, 0, "exit code");
        const lines = result.stderr.trimEnd().split("\n");
        const paused = lines.filter((line) =>
          /^pystack: target paused for \d+\.\d\d ms$/.test(line)
        );
        assert.equal(paused.length, 1, "one line says how long the target was paused");
        assert.ok(lines.every((line) => line.startsWith("pystack: ")), "every line is pystack's");
        const reader = lines.filter((line) => line.startsWith("pystack: memory read "));
        assert.deepEqual(
          reader.map((line) => line.replace(/\d+ reads/, "N reads")),
          flag === "-vv" ? ["pystack: memory read with process_vm_readv (N reads)"] : [],
          "-vv, and only -vv, says which memory reader was used",
        );
      } catch (error) {
        throw withRun(error, result);
      }
    }
  },
);

/** Run the CLI (without `--no-color`) under `script`, which gives it a pseudo-terminal. */
async function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const command = [...pystackCommand(), ...args].map((word) => `'${word}'`).join(" ");
  const out = await new Deno.Command("script", {
    args: ["-q", "-e", "-c", command, "/dev/null"],
    cwd: REPO_ROOT,
    env: { ...env, TERM: "xterm" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `script -c ${command}: ${stdout}`);
  return stdout;
}

const ESC = "\x1b[";

registerTest(
  `cli colour python=${python.id} on a terminal, not with NO_COLOR or --no-color`,
  pythonSkip,
  async () => {
    await using target = await startFixture(python, "single_thread.py");
    const coloured = await onTerminal(["remote", String(target.pid)], {});
    assert.ok(coloured.includes(ESC), `colours on a terminal:\n${coloured}`);
    const plain = coloured.replace(new RegExp(`${ESC.replace("[", "\\[")}[0-9;]*m`, "g"), "");
    assert.match(
      plain,
      /^Traceback for thread \d+ \(python3\.\d+\) \[\] \(most recent call last\):/m,
    );
    const noColor = await onTerminal(["remote", String(target.pid)], { NO_COLOR: "1" });
    assert.ok(!noColor.includes(ESC), `no colour with NO_COLOR:\n${noColor}`);
    assert.equal(noColor, plain, "the same text without the colours");
    const flag = await onTerminal(["--no-color", "remote", String(target.pid)], {});
    assert.ok(!flag.includes(ESC), `no colour with --no-color:\n${flag}`);
    // Not a terminal: no colour either (runPystack passes --no-color, so run it bare here).
    const [cmd, ...rest] = pystackCommand();
    const piped = await new Deno.Command(cmd!, {
      args: [...rest, "remote", String(target.pid)],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(piped.stdout);
    assert.equal(piped.code, 0);
    assert.ok(text.length > 0 && !text.includes(ESC), `no colour into a pipe:\n${text}`);
  },
);

registerTest(
  `cli closed-pipe python=${python.id} ends quietly with exit 0`,
  pythonSkip,
  async () => {
    // 500 frames: far more output than a pipe holds, written after the reader is gone.
    await using target = await startFixture(python, "deep_recursion.py");
    const [cmd, ...rest] = pystackCommand();
    const child = new Deno.Command(cmd!, {
      args: [...rest, "--no-color", "remote", String(target.pid)],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read(); // `| head -1`: read a little, then close the pipe
    assert.ok(!first.done && first.value.length > 0, "some output before the pipe closes");
    await reader.cancel();
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.equal(stderr, "", "nothing on stderr");
    assert.equal(status.signal, null, "not killed by SIGPIPE");
    assert.equal(status.code, 0, "exit code 0");
  },
);

/** `/usr/bin/python3.11`'s `Py_Version` (static build): file offset from readelf. */
function pyVersionOffset(path: string): number {
  const read = (args: string[]) =>
    new TextDecoder().decode(
      new Deno.Command("readelf", { args: [...args, path] }).outputSync().stdout,
    );
  const symbol = read(["-sW", "--dyn-syms"]).split("\n").map((l) => l.trim().split(/\s+/))
    .find((f) => f[7] === "Py_Version");
  assert.ok(symbol, `readelf lists Py_Version in ${path}`);
  const address = BigInt(`0x${symbol[1]}`);
  const load = read(["-lW"]).split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === "LOAD")
    .map((f) => ({ offset: BigInt(f[1]!), vaddr: BigInt(f[2]!), size: BigInt(f[4]!) }))
    .find((l) => l.vaddr <= address && address < l.vaddr + l.size);
  assert.ok(load, "a LOAD segment holds Py_Version");
  return Number(address - load.vaddr + load.offset);
}

const debian = pythons.find((p) => p.id === "3.11-debian")!;

registerTest(
  "cli exit=6 a Python that says it is 3.5 (Debian's python3.11 with Py_Version patched)",
  remoteSkip(debian),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pystack-py35-" });
    try {
      const copy = `${dir}/python3.11`;
      const bytes = Deno.readFileSync(debian.path);
      const view = new DataView(bytes.buffer);
      const at = pyVersionOffset(debian.path);
      assert.equal(view.getBigUint64(at, true) >> 16n, 0x030bn, "Py_Version says 3.11");
      view.setBigUint64(at, 0x030500f0n, true); // 3.5.0 final
      Deno.writeFileSync(copy, bytes, { mode: 0o755 });
      const fake: Python = { ...debian, path: copy };
      await using target = await startFixture(fake, "single_thread.py", {
        env: { PYTHONHOME: "/usr" },
      });
      const line = "pystack: Cannot read this process: it runs Python 3.5.0, and pystack reads " +
        "Python 2.7 and 3.6 to 3.15; use a pystack release that supports this version";
      checkFailure(await runPystack(["remote", String(target.pid)]), 6, line);
      const json = await runPystack(["remote", String(target.pid), "--json"]);
      assert.equal(json.code, 6, describeRun(json));
      const doc = JSON.parse(json.stdout);
      assert.equal(doc.error.code, "unsupported_version");
      assert.equal(doc.error.exitCode, 6);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

const python27 = pythons.find((p) => p.id === "2.7-pyenv")!;

registerTest(
  "cli python=2.7-pyenv file names (bytes) are shown as UTF-8",
  remoteSkip(python27),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pystack-utf8-" });
    try {
      const script = `${dir}/ünïcødé_名前.py`;
      await Deno.copyFile(`${FIXTURES_DIR}_fixture.py`, `${dir}/_fixture.py`);
      await Deno.copyFile(`${FIXTURES_DIR}single_thread.py`, script);
      await using target = await startCoreTarget([python27.path, "-S", script, "{dir}/ready"], {
        readyFile: "ready",
      });
      const result = await runPystack(["remote", String(target.pid)]);
      try {
        assert.equal(result.code, 0, "exit code");
        const [main] = parseTraceback(result.stdout);
        assert.deepEqual(
          main!.frames.map((f) => [f.file, f.func]),
          [
            [script, "<module>"],
            [script, "first_func"],
            [script, "second_func"],
            [script, "third_func"],
          ],
          "the file name as UTF-8",
        );
        assert.equal(main!.frames.at(-1)!.source, "time.sleep(1000)  # @frame main:3 third_func");
      } catch (error) {
        throw withRun(error, result);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
