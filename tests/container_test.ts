/**
 * Processes in containers, inspected from the host (issue 16): host thread
 * ids for every thread in every mode, `nsTid` in `--json`, source lines of
 * files only the container has, merged native stacks with the container's
 * libraries, and cores read through `--lib-search-root` over an unpacked
 * image (real files, or links as a content-addressed store makes them).
 *
 * The fixture is `named_threads.py` (`main` joins `worker-1..3`), run by
 * `tests/_container.ts` in its own mount and PID namespaces.
 */
import assert from "node:assert/strict";
import {
  describeRun,
  expectedFrames,
  parseTraceback,
  registerTest,
  runPystack,
  threadSnapshot,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { FIXTURES } from "./_fixture_specs.ts";
import { checkStacks, type StackExpectations } from "./_check_stacks.ts";
import { checkJsonRun } from "./_check_json.ts";
import { parseLocalsOutput } from "./_locals.ts";
import { isNative, parseNativeTraceback } from "./_native_traceback.ts";
import { assertValidReport } from "./_json_schema.ts";
import { gcoreSkip, kernelCoreSkip } from "./_cores.ts";
import {
  CONTAINER_APP,
  CONTAINER_PREFIX,
  type ContainerFixture,
  containerSkip,
  startContainerFixture,
} from "./_container.ts";
import { REPO_ROOT, type Skip, startFixture } from "./_harness.ts";
import { onPath } from "./_cores.ts";
import { remoteSkip } from "./_remote_cases.ts";
import {
  attachOptionsFor,
  NativeStacks,
  NO_INTERPRETER_RULES,
} from "../src/native/native_stacks.ts";
import { ProcessTracer } from "../src/process/tracer.ts";

const FIXTURE = "named_threads.py";
const SPEC = FIXTURES.find((spec) => spec.key === "named_threads")!;
const FRAMES = await expectedFrames(FIXTURE);
const PYTHON_IDS = ["3.8-pyenv", "3.10-pyenv", "3.11-debian", "3.12-pyenv", "3.13-pyenv"];
const pythons = await findPythons();

function pythonOf(id: string): Python {
  const python = pythons.find((p) => p.id === id);
  if (python === undefined) throw new Error(`tests/_pythons.ts has no ${id}`);
  return python;
}

function expectations(box: ContainerFixture, python: Python): StackExpectations {
  return {
    pid: box.pid,
    scriptPath: box.scriptPath,
    threads: SPEC.threads(python.version),
    frames: FRAMES,
    checkSource: false, // the container's files: checkContainerSources
  };
}

/** Where the host has a file the container has at `path` (its prefix, `/app`, `/usr`). */
function hostPath(box: ContainerFixture, python: Python, path: string): string {
  if (path.startsWith(`${CONTAINER_APP}/`)) return `${box.dir}/app/${path.slice(5)}`;
  if (path.startsWith(`${CONTAINER_PREFIX}/`) && !python.path.startsWith("/usr/")) {
    return python.path.slice(0, python.path.lastIndexOf("/bin/")) +
      path.slice(CONTAINER_PREFIX.length);
  }
  return path;
}

/**
 * Every frame shows the line of its file as the container has it: the
 * fixture's (`/app/…`, which the host does not have) and the standard
 * library's (`/opt/python/lib/…` for pyenv's builds).
 */
function checkContainerSources(stdout: string, box: ContainerFixture, python: Python): void {
  const lines = new Map<string, string[]>();
  let fixtureFrames = 0;
  for (const thread of parseTraceback(stdout)) {
    for (const frame of thread.frames) {
      const host = hostPath(box, python, frame.file);
      if (!lines.has(host)) lines.set(host, Deno.readTextFileSync(host).split("\n"));
      assert.equal(
        frame.source,
        lines.get(host)![frame.line - 1]!.trim(),
        `thread ${thread.tid}: the source line of ${frame.file}:${frame.line}`,
      );
      if (frame.file === box.scriptPath) fixtureFrames++;
    }
  }
  const marked = [...FRAMES.values()].reduce((sum, frames) => sum + frames.length, 0);
  assert.equal(fixtureFrames, marked, "every frame of the fixture has its source line");
}

/** The ids printed are the host's, exactly the threads of `/proc/PID/task`, with their names. */
function checkHostRun(
  result: Awaited<ReturnType<typeof runPystack>>,
  box: ContainerFixture,
  python: Python,
): void {
  assert.equal(result.code, 0, "exit code 0");
  assert.equal(result.stderr, "", "nothing on stderr");
  checkStacks(parseTraceback(result.stdout), {
    ...expectations(box, python),
    osThreads: threadSnapshot(box.pid),
  });
  checkContainerSources(result.stdout, box, python);
}

/** What the tests need of a container: the premise that ids and paths differ from the host's. */
function checkPremise(box: ContainerFixture): Map<number, number> {
  const nsTids = box.nsTids();
  assert.equal(nsTids.size, 4, "main and three workers");
  for (const [host, inner] of nsTids) assert.notEqual(host, inner, "ids differ in the container");
  assert.throws(() => Deno.statSync(box.scriptPath), "the host has no /app");
  assert.throws(() => Deno.statSync(box.binary), "the host has no /opt/python");
  return nsTids;
}

async function run(args: string[]) {
  return await runPystack(args);
}

function withOutput<T>(result: { command: string[] }, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\n\n${describeRun(result as Parameters<typeof describeRun>[0])}`,
      { cause: error },
    );
  }
}

for (const id of PYTHON_IDS) {
  const python = pythonOf(id);
  const init = id === "3.12-pyenv" ? "fixture" : "shell";
  registerTest(
    `container remote python=${id} init=${init} modes=block,no-block,json,locals,native`,
    containerSkip(python),
    async () => {
      await using box = await startContainerFixture(python, FIXTURE, { init });
      const nsTids = checkPremise(box);
      // PID 1, or a child of the namespace's shell (after the commands that built the root).
      assert.ok(init === "fixture" ? box.nsPid === 1 : box.nsPid > 1, `pid ${box.nsPid} inside`);
      const pid = String(box.pid);

      const block = await run(["remote", pid]);
      withOutput(block, () => checkHostRun(block, box, python));

      const noBlock = await run(["remote", pid, "--no-block"]);
      withOutput(noBlock, () => checkHostRun(noBlock, box, python));

      // --json: valid, the same threads as the text, and each thread's id in the container.
      const doc = await checkJsonRun(["remote", pid], block, { expect: expectations(box, python) });
      const threads = doc.threads as unknown as { tid: number; nsTid?: number }[];
      assert.deepEqual(
        new Map(threads.map((t) => [t.tid, t.nsTid])),
        nsTids,
        "nsTid: the NSpid of each thread",
      );

      // -v says the process is in another PID namespace.
      const verbose = await run(["remote", pid, "-v"]);
      assert.match(
        verbose.stderr,
        new RegExp(`process ${pid} is pid ${box.nsPid} in its own PID namespace`),
      );
      const listed = /thread ids in its namespace: (.*)/.exec(verbose.stderr)?.[1] ?? "";
      assert.deepEqual(
        new Map(
          listed.split(", ").map((pair) => pair.split(" is ").map(Number) as [number, number]),
        ),
        nsTids,
        "-v lists each thread's id in the container",
      );

      // --locals: Python thread names (read by pthread ident) next to host ids, and arguments.
      const locals = await run(["remote", pid, "--locals"]);
      withOutput(locals, () => {
        assert.equal(locals.code, 0);
        const parsed = parseLocalsOutput(locals.stdout);
        assert.deepEqual(
          parsed.map((t) => [t.tid, t.pythonName]).sort((a, b) => Number(a[0]) - Number(b[0])),
          [...nsTids.keys()].sort((a, b) => a - b).map((tid) => [
            tid,
            tid === box.pid ? "MainThread" : undefined, // workers' OS names are their names
          ]),
        );
        const worker1 = parsed.find((t) => t.osName === "worker-1")!;
        const frame = worker1.frames.find((f) => f.func === "worker_1")!;
        assert.equal(frame.args.length, 1);
        assert.equal(frame.args[0]![0], "started");
        assert.match(frame.args[0]![1], /^<threading\.Event object at 0x[0-9a-f]+>$/);
      });

      // --native: unwound on the host's ids, the container's libraries, merged.
      const native = await run(["remote", pid, "--native"]);
      withOutput(native, () => {
        assert.equal(native.code, 0, "exit code 0 (libdw did not abort)");
        const parsed = parseNativeTraceback(native.stdout);
        assert.deepEqual(
          parsed.map((t) => t.tid).sort((a, b) => a - b),
          [...nsTids.keys()].sort((a, b) => a - b),
          "the host's ids",
        );
        const interpreter = python.path.startsWith("/usr/")
          ? box.binary
          : `${CONTAINER_PREFIX}/lib/libpython${python.version.join(".")}.so.1.0`;
        for (const thread of parsed) {
          assert.ok(
            !native.stdout.includes("Unable to merge native stack"),
            "every stack merged",
          );
          const kinds = thread.stack.map((f) => (isNative(f) ? "C" : "Py")).join(",");
          assert.match(kinds, /^C(,C)*,Py(,Py|,C)*,Py,C(,C)*$/, `thread ${thread.tid}: C…Py…C`);
          const libraries = thread.stack.filter(isNative).map((f) => f.library);
          assert.ok(
            libraries.includes(interpreter),
            `thread ${thread.tid}: frames in ${interpreter} (${[...new Set(libraries)]})`,
          );
          const fixtureFrames = thread.frames.filter((f) => f.file === box.scriptPath);
          assert.ok(fixtureFrames.length > 0, `thread ${thread.tid}: the fixture's frames`);
        }
        assert.equal(threadSnapshot(box.pid).get(box.pid)?.tracerPid, 0, "detached");
      });
    },
  );
}

/** An unpacked image of the container's interpreter: real files, or links to blobs. */
function makeImage(box: ContainerFixture, kind: "real" | "symlinked"): string {
  const root = `${box.dir}/image-${kind}`;
  box.files.forEach(([inside, host], i) => {
    if (kind === "real") {
      Deno.mkdirSync(`${root}${inside.slice(0, inside.lastIndexOf("/"))}`, { recursive: true });
      Deno.copyFileSync(host, `${root}${inside}`);
      return;
    }
    // /opt/python -> /layers/python (absolute: inside the image), its files links to
    // /store/sha-N, alternately absolute and relative (climbing above the root on purpose).
    Deno.mkdirSync(`${root}/store`, { recursive: true });
    Deno.copyFileSync(host, `${root}/store/sha-${i}`);
    const inLayer = `${root}/layers/python${inside.slice(CONTAINER_PREFIX.length)}`;
    Deno.mkdirSync(inLayer.slice(0, inLayer.lastIndexOf("/")), { recursive: true });
    const depth = inside.split("/").length + 2;
    Deno.symlinkSync(
      i % 2 === 0 ? `/store/sha-${i}` : `${"../".repeat(depth)}store/sha-${i}`,
      inLayer,
    );
  });
  if (kind === "symlinked") {
    Deno.mkdirSync(`${root}/opt`, { recursive: true });
    Deno.symlinkSync("/layers/python", `${root}/opt/python`);
  }
  return root;
}

function coreSkip(python: Python, maker: "gcore" | "kernel"): Skip | undefined {
  return containerSkip(python) ?? (maker === "gcore" ? gcoreSkip() : kernelCoreSkip());
}

/** Cores of a container: a kernel core (the fixture is PID 2) and a gcore (PID 1). */
const CORE_CASES = [
  { id: "3.8-pyenv", maker: "kernel" },
  { id: "3.11-debian", maker: "kernel" },
  { id: "3.12-pyenv", maker: "kernel" },
  { id: "3.13-pyenv", maker: "gcore" },
] as const;

for (const { id, maker } of CORE_CASES) {
  const python = pythonOf(id);
  const init = maker === "gcore" ? "fixture" : "shell";
  registerTest(
    `container core python=${id} maker=${maker} init=${init} images=none,real,symlinked`,
    coreSkip(python, maker),
    async () => {
      await using box = await startContainerFixture(python, FIXTURE, { init });
      const nsTids = checkPremise(box);
      let core: string;
      if (maker === "kernel") {
        // The kernel writes the core in the process's cwd: /run/pystack, the host's run/.
        Deno.kill(box.pid, "SIGABRT");
        await box.ended;
        core = `${box.dir}/run/core`;
      } else {
        // An init ignores signals it has no handler for: gcore from the host.
        core = `${box.dir}/gcore`;
        const made = await new Deno.Command("gcore", {
          args: ["-o", core, String(box.pid)],
          stdout: "null",
          stderr: "piped",
        }).output();
        assert.ok(made.success, new TextDecoder().decode(made.stderr));
        core = `${core}.${box.pid}`;
      }
      // The core's ids: the container's for the kernel (it numbers as the dying process sees),
      // the host's for gdb, with the container's as nsTid where the interpreter records them.
      const wantTids = maker === "kernel" ? [...nsTids.values()] : [...nsTids.keys()];
      const wantPid = maker === "kernel" ? box.nsPid : box.pid;

      // Without an image: the files are named as the container had them.
      const none = await run(["core", core]);
      withOutput(none, () => {
        assert.equal(none.code, 5, "not found: exit 5");
        for (const [inside] of box.files) assert.ok(none.stderr.includes(inside), inside);
      });
      const empty = `${box.dir}/image-empty`;
      Deno.mkdirSync(empty);
      const notFound = await run(["core", core, "--lib-search-root", empty]);
      assert.match(notFound.stderr, new RegExp(`looked for at the same paths under ${empty}`));

      for (const kind of ["real", "symlinked"] as const) {
        const image = makeImage(box, kind);
        const args = ["core", core, "--lib-search-root", image];
        const result = await run(args);
        withOutput(result, () => {
          assert.equal(result.code, 0, `exit code 0 with the ${kind} image`);
          assert.doesNotMatch(result.stderr, /not found/);
          const text = result.stdout.slice(result.stdout.indexOf("Traceback for thread"));
          const traceback = parseTraceback(text);
          assert.deepEqual(
            traceback.map((t) => t.tid).sort((a, b) => a - b),
            wantTids.sort((a, b) => a - b),
            "the core's thread ids",
          );
          // A core has no OS names: tell the workers apart by their frames.
          for (const thread of traceback) {
            const spec = thread.tid === wantPid
              ? "main"
              : thread.frames.find((f) => /^worker_\d$/.test(f.func))!.func.replace("_", "-");
            assert.deepEqual(
              thread.frames.filter((f) => f.file === box.scriptPath).map((f) => [f.func, f.line]),
              FRAMES.get(spec)!.map((f) => [f.func, f.lines[0]]),
              `thread ${thread.tid} (${spec})`,
            );
          }
        });
        if (kind === "symlinked") {
          // Native frames from the image's files (found behind links), merged.
          const native = await run([...args, "--native"]);
          withOutput(native, () => {
            assert.equal(native.code, 0, "exit code 0");
            assert.ok(!native.stdout.includes("Unable to merge"), "every stack merged");
            const text = native.stdout.slice(native.stdout.indexOf("Traceback for thread"));
            const parsed = parseNativeTraceback(text);
            assert.deepEqual(
              parsed.map((t) => t.tid).sort((a, b) => a - b),
              wantTids.sort((a, b) => a - b),
            );
            const interpreter = box.files.at(-1)![0].slice(
              box.files.at(-1)![0].lastIndexOf("/") + 1,
            );
            for (const thread of parsed) {
              const kinds = thread.stack.map((f) => (isNative(f) ? "C" : "Py")).join(",");
              assert.match(kinds, /^C(,C)*,Py(,Py|,C)*,Py,C(,C)*$/, `thread ${thread.tid}: C…Py…C`);
              assert.ok(
                thread.stack.filter(isNative).some((f) => f.library === interpreter),
                `thread ${thread.tid}: frames in ${interpreter}`,
              );
            }
          });
        }
        if (kind === "real" && maker === "gcore") {
          const json = await run([...args, "--json"]);
          const doc = JSON.parse(json.stdout);
          assertValidReport(doc);
          assert.deepEqual(
            new Map(doc.threads.map((t: { tid: number; nsTid?: number }) => [t.tid, t.nsTid])),
            nsTids,
            "a gcore has the host's ids; native_thread_id gives the container's",
          );
        }
      }
    },
  );
}

// libdw asserts (SIGABRT, the whole run lost) when asked to unwind a thread whose registers it
// cannot read, as it was with a container's ids: only the threads pystack holds reach it.
const precondition = pythonOf("3.12-pyenv");
registerTest(
  "NativeStacks.unwindLive() hands libdw only the threads pystack holds stopped",
  remoteSkip(precondition),
  async () => {
    await using fixture = await startFixture(precondition, FIXTURE);
    using native = NativeStacks.forProcess(fixture.pid);
    const tracer = ProcessTracer.stopAll(fixture.pid);
    const held = [...tracer.tids];
    try {
      // 1 (init) and 999999999 (nobody) are not held: what a container's ids looked like.
      native.unwindLive([1, ...held, 999_999_999], new Set(held));
    } finally {
      tracer.release();
    }
    const warnings: string[] = [];
    const threads = native.attach(
      [],
      attachOptionsFor("all", NO_INTERPRETER_RULES, undefined),
      warnings,
    );
    assert.deepEqual(warnings, [
      "the native stack of thread 1 could not be unwound: thread 1 is not one pystack holds stopped",
      "the native stack of thread 999999999 could not be unwound: " +
      "thread 999999999 is not one pystack holds stopped",
    ]);
    for (const tid of held) {
      const thread = threads.find((t) => t.tid === tid);
      assert.ok(thread?.native?.some((f) => f.symbol === "start_thread" || f.symbol === "_start"));
    }
  },
);

// Inside the container (root has CAP_SYS_PTRACE there): the container's own view, as before.
const inside = pythonOf("3.12-pyenv");
registerTest(
  "container inside python=3.12-pyenv: pystack run in the container's namespaces",
  containerSkip(inside) ??
    (onPath("nsenter") ? undefined : { reason: "nsenter is not installed", missing: true }),
  async () => {
    const repo = REPO_ROOT.replace(/\/$/, "");
    await using box = await startContainerFixture(inside, FIXTURE, { binds: [repo] });
    const nsTids = checkPremise(box);
    const inContainer = async (args: string[]) => {
      const output = await new Deno.Command("nsenter", {
        args: ["-t", String(box.pid), "-m", "-p", "--", "env", "-i", "PATH=/usr/bin:/bin"]
          .concat(["DENO_DIR=/tmp/deno", "HOME=/tmp", "NO_COLOR=1", "deno", "run", "-A"])
          .concat(["--no-lock", `${repo}/src/main.ts`, "--no-color", ...args]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      return {
        code: output.code,
        stdout: decode(output.stdout),
        stderr: decode(output.stderr),
        command: ["nsenter", "…", ...args],
      };
    };
    const result = await inContainer(["remote", String(box.nsPid)]);
    withOutput(result, () => {
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      const traceback = parseTraceback(result.stdout);
      checkStacks(traceback, { ...expectations(box, inside), pid: box.nsPid });
      assert.deepEqual(
        traceback.map((t) => t.tid).sort((a, b) => a - b),
        [...nsTids.values()].sort((a, b) => a - b),
        "the container's ids",
      );
      checkContainerSources(result.stdout, box, inside);
    });
    // The host's pid of the fixture means nothing in there (or another process).
    const hidden = await inContainer(["remote", String(box.pid)]);
    withOutput(hidden, () => {
      assert.equal(hidden.code, 3, "no such process: exit 3");
      assert.match(hidden.stderr, /No such process.*another PID namespace/);
      assert.equal(hidden.stderr.trim().split("\n").length, 1, "one line");
    });
  },
);
