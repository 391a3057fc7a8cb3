/**
 * Crash triage on kernel cores of real crashes (`fixtures/crash.py`), on every
 * interpreter: a SIGSEGV in libc through `ctypes.string_at(0)` on the main
 * thread and on a worker thread, `os.abort()`, `Py_FatalError()` (through
 * `ctypes.pythonapi`) and a NULL read in a C extension (`_ctypes`'s `i_get`,
 * named where the extension keeps its symbol table; and the native fixture's
 * `read_null_pointer()`, always named), and a SIGSEGV a worker sends the main
 * thread with pthread_kill while it sleeps (said as sent by the process, not
 * raised where the main thread was). With faulthandler enabled (`*-handled`),
 * the signal the process dies of is raised by faulthandler: the header gives
 * the fault first, read from the signal frame on the stack, then where it was
 * raised again. The crashing thread comes
 * first with `[Crashed: SIG…]`, the header names the faulting function (or
 * `???` when no symbol holds it) and library, and the innermost Python frame;
 * `--json` carries the same (`crashed`, `core.crash`). A gcore core (no crash)
 * is checked by `core_test.ts` to keep its order and say it did not crash.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FIXTURES_DIR, parseTraceback, registerTest, runPystack } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { kernelCoreSkip } from "./_cores.ts";
import { assertValidReport } from "./_json_schema.ts";
import { buildSkip, nativeExtension } from "./_native_build.ts";
import { ElfFile, fileSource } from "../src/elf/elf_file.ts";
import { debugFileByBuildId } from "../src/native/debug_images.ts";

const SCRIPT = FIXTURES_DIR + "crash.py";
const MODES = [
  "segv-main",
  "segv-worker",
  "abort",
  "assert",
  "fatal",
  "segv-ext",
  "fpe",
  "bus",
  "ill",
  "raising",
  "segv-native",
  "uncaught",
  "segv-sent",
  // faulthandler enabled: it catches the fault and raises the signal again (Python 3)
  "segv-main-handled",
  "segv-worker-handled",
  "fpe-handled",
  // faulthandler catching a signal that was sent: no fault to find
  "segv-sent-handled",
  "fpe-sent-handled",
] as const;
type Mode = typeof MODES[number];

/** Line numbers of the `# @crash NAME` markers. */
async function crashLines(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  (await Deno.readTextFile(SCRIPT)).split("\n").forEach((text, i) => {
    const m = /# @crash (\w+)/.exec(text);
    if (m) out.set(m[1]!, i + 1);
  });
  return out;
}

/** Runs the fixture in a fresh directory until it crashes; returns the core and the crasher. */
async function crash(
  python: Python,
  mode: Mode,
): Promise<{ dir: string; core: string; pid: number; tid: number }> {
  const extension = mode === "segv-native"
    ? { PYSTACK_FIXTURE_EXT: (await nativeExtension(python)).dir }
    : {};
  const dir = await Deno.makeTempDir({ prefix: "pystack-crash-" });
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -c unlimited && exec "$@"',
      "bash",
      python.path,
      "-S",
      SCRIPT,
      `${dir}/ready`,
      mode,
    ],
    cwd: dir,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      LC_ALL: "C.UTF-8",
      PYTHONDONTWRITEBYTECODE: "1",
      ...extension,
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const status = await child.output();
  const expected = signalOf(mode);
  assert.equal(status.signal, expected, new TextDecoder().decode(status.stderr));
  const tid = mode === "segv-worker" || mode === "segv-worker-handled"
    ? Number(await Deno.readTextFile(`${dir}/ready.tid`))
    : child.pid;
  for (const name of ["core", `core.${child.pid}`]) {
    try {
      Deno.statSync(`${dir}/${name}`);
      return { dir, core: `${dir}/${name}`, pid: child.pid, tid };
    } catch {
      // not this name
    }
  }
  throw new Error(`The kernel wrote no core in ${dir}`);
}

/** The mode without `-handled` (faulthandler enabled): the same fault. */
function faultOf(mode: Mode): Mode {
  return mode.replace(/-handled$/, "") as Mode;
}

/** A fault that faulthandler caught and raised again: the header gives the fault first. */
function handledFault(mode: Mode): boolean {
  return mode.endsWith("-handled") && !mode.includes("-sent");
}

function signalOf(mode: Mode): string {
  const other = {
    "fpe-sent": "SIGFPE",
    abort: "SIGABRT",
    assert: "SIGABRT",
    fatal: "SIGABRT",
    fpe: "SIGFPE",
    bus: "SIGBUS",
    ill: "SIGILL",
    raising: "SIGILL",
  };
  return other[faultOf(mode) as keyof typeof other] ?? "SIGSEGV";
}

/** The fixture's function whose marked line is the crashed thread's innermost frame. */
const OWN_FRAME: Partial<Record<Mode, [string, string]>> = {
  abort: ["main", "abort"],
  assert: ["main", "assert"],
  fatal: ["main", "fatal"],
  "segv-ext": ["main", "ext"],
  fpe: ["main", "fpe"],
  bus: ["bus_error", "bus"],
  ill: ["illegal_instruction", "ill"],
  raising: ["raise_in_c", "raising"],
  "segv-native": ["main", "native"],
  "segv-sent": ["main", "sent"],
  "fpe-handled": ["main", "fpe"],
  "segv-sent-handled": ["main", "sent"],
  "fpe-sent-handled": ["main", "fpesent"],
};

/** How each mode's signal came about (`crash.origin`). */
function originOf(mode: Mode): string {
  if (mode === "segv-sent") return "process";
  if (mode.endsWith("-handled")) return "self"; // raised again by faulthandler
  return signalOf(mode) === "SIGABRT" ? "self" : "fault";
}

/** The start of the failure line, before `called from`, per mode (a regular expression). */
function failureStart(mode: Mode, dir: string): string {
  const hex = "0x[0-9a-f]+";
  switch (mode) {
    case "segv-ext":
      return String.raw`^The process died due to a segmentation fault accessing address: 0x0 ` +
        String.raw`in (i_get\+${hex}|\?\?\?) \(_ctypes[^ ()]*\.so\+${hex}\), `;
    case "segv-native":
      // Built with symbols (cc -O2 -g): the function is named.
      return String.raw`^The process died due to a segmentation fault accessing address: 0x0 ` +
        String.raw`in read_null_pointer(\+${hex})? \(pystack_native_fixture[^ ()]*\.so\+${hex}\), `;
    case "abort":
    case "assert":
    case "fatal": {
      const causes = {
        abort: String.raw`abort\(\)`,
        assert: String.raw`a failed C assert\(\)`,
        fatal: String.raw`Py_FatalError\(\)`,
      };
      return String.raw`^The process died due to signal SIGABRT, which it raised itself by ` +
        causes[mode] + String.raw`, inferred from return addresses on its stack, in \S+ ` +
        String.raw`\((libc\.so\.6|python\d\.\d+)\+${hex}\), `;
    }
    case "fpe":
      return String.raw`^The process died due to an arithmetic error \(SIGFPE\) at address: ` +
        String.raw`${hex} \(in \S*libc\.so\.6\) in div\+${hex} \(libc\.so\.6\+${hex}\), `;
    case "fpe-handled":
      // From the signal frame: the instruction's address, without the mapping's path.
      return String.raw`^The process died due to an arithmetic error \(SIGFPE\) at address: ` +
        String.raw`${hex} in div\+${hex} \(libc\.so\.6\+${hex}\), `;
    case "bus":
      return String.raw`^The process died due to a bus error \(SIGBUS\) accessing address: ` +
        `${hex} \\(in ${escape(dir)}/truncated\\) in \\S+ \\([^ ()]+\\+${hex}\\), `;
    case "segv-sent-handled":
    case "fpe-sent-handled":
      // faulthandler raised again the signal it caught: no fault found in its frame.
      return String.raw`^The process died due to signal ${signalOf(mode)}, which it raised ` +
        String.raw`itself in \S+ \((libc\.so\.6|python\d\.\d+)\+${hex}\), `;
    case "segv-sent":
      // Where the main thread slept (libc's, or the static interpreter's own copy of it).
      return String.raw`^The process died due to signal SIGSEGV, sent by the process itself ` +
        String.raw`\(tgkill, as pthread_kill does\) to thread \d+; when it arrived, that thread ` +
        String.raw`was in \S+ \((libc\.so\.6|python\d\.\d+)\+${hex}\), `;
    case "ill":
    case "raising":
      return String.raw`^The process died due to an illegal instruction \(SIGILL\) at address: ` +
        String.raw`(${hex}) \(in /dev/zero \(deleted\)\) in \?\?\? \(\1\), `;
    default:
      throw new Error(`no failure line for ${mode}`);
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether the system's libc has its debug file (libc6-dbg): its internal functions are named. */
function systemLibcDebugFile(): boolean {
  try {
    using source = fileSource("/lib/x86_64-linux-gnu/libc.so.6");
    const id = new ElfFile(source).buildId();
    return id !== undefined && debugFileByBuildId(id) !== undefined;
  } catch {
    return false;
  }
}
const LIBC_NAMED = systemLibcDebugFile();

/** The libc function each mode crashes in, where the system's libc is named (not sid's). */
const LIBC_FUNCTION: Partial<Record<Mode, RegExp>> = {
  "segv-main": /^__strlen_\w+$/,
  "segv-worker": /^__strlen_\w+$/,
  uncaught: /^__strlen_\w+$/,
  // Where faulthandler raised the signal again.
  "segv-main-handled": /^__pthread_kill_implementation$/,
  "segv-worker-handled": /^__pthread_kill_implementation$/,
  "fpe-handled": /^__pthread_kill_implementation$/,
  abort: /^__pthread_kill_implementation$/,
  fpe: /^div$/,
};

const lines = await crashLines();
const CTYPES_FRAME = /^string_at$/;

for (const python of await findPythons()) {
  for (const mode of MODES) {
    const skip = python.unavailable
      ? { reason: python.unavailable }
      : python.missing
      ? { reason: python.missing, missing: true }
      : mode.endsWith("-handled") && python.version[0] < 3
      ? { reason: "Python 2.7 has no faulthandler module" }
      : kernelCoreSkip() ?? (mode === "segv-native" ? buildSkip() : undefined);
    registerTest(`crash triage python=${python.id} mode=${mode}`, skip, async () => {
      const made = await crash(python, mode);
      try {
        const result = await runPystack(["core", made.core]);
        const signal = signalOf(mode);
        let siteFrame: { file: string; line: number; func: string };
        try {
          assert.equal(result.code, 0, "exit code");
          const threads = parseTraceback(result.stdout);
          const first = threads[0]!;
          assert.equal(first.tid, made.tid, "the crashed thread comes first");
          assert.equal(first.status[0], `Crashed: ${signal}`);
          assert.deepEqual(
            threads.slice(1).filter((t) => t.status.some((s) => s.startsWith("Crashed"))),
            [],
            "no other thread is marked",
          );
          siteFrame = first.frames.at(-1)!;
          const fixtureFrames = first.frames.filter((f) => f.file === SCRIPT);
          const failure = threads.preamble.find((l) => l.startsWith("The process died"));
          assert.deepEqual(
            threads.preamble.filter((l) => l.startsWith("Uncaught exception")).map((l) =>
              l.replace(/\(sys\.last_(exc|value)\)/, "(sys.last_…)")
            ),
            mode === "uncaught"
              ? [
                "Uncaught exception (sys.last_…): ValueError: uncaught 7 " +
                `(at ${SCRIPT}:${lines.get("uncaught")})`,
              ]
              : [],
            "the uncaught exception that ended the program, from sys",
          );
          assert.ok(failure !== undefined, "the failure line");
          const handledTail = "; a signal handler caught it and raised ";
          const [faultLine, raisedAgain] = failure.split(handledTail) as [string, string?];
          if (handledFault(mode)) {
            assert.match(
              raisedAgain ?? "",
              new RegExp(
                String.raw`^${signal} again in \S+ \((libc\.so\.6|python\d\.\d+)\+0x[0-9a-f]+\): ` +
                  "the fault was read from the signal frame on the thread's stack$",
              ),
              failure,
            );
          } else assert.equal(raisedAgain, undefined, failure);
          const own = OWN_FRAME[mode];
          if (own !== undefined) {
            // Crashed in C called from the fixture's own line: its frame is the innermost.
            const [func, marker] = own;
            assert.deepEqual([siteFrame.file, siteFrame.line, siteFrame.func], [
              SCRIPT,
              lines.get(marker),
              func,
            ]);
            const calledFrom = `called from ${func} \\(${escape(SCRIPT)}:${lines.get(marker)}\\)$`;
            assert.match(faultLine, new RegExp(failureStart(mode, made.dir) + calledFrom));
            // C code set an exception and crashed before returning: it is in flight.
            assert.deepEqual(
              first.extra,
              mode === "raising" ? ["    Raising ValueError: in flight"] : [],
              "the exception line",
            );
          } else {
            assert.match(siteFrame.func, CTYPES_FRAME);
            assert.match(siteFrame.file, /ctypes\/__init__\.py$/);
            assert.deepEqual(
              fixtureFrames.slice(-2).map((f) => [f.func, f.line]),
              [
                ...(faultOf(mode) === "segv-main"
                  ? [["main", lines.get("main")]]
                  : faultOf(mode) === "segv-worker"
                  ? [["crasher", lines.get("worker")]]
                  : []), // uncaught: an atexit handler, called by the interpreter's exit
                ["read_null", lines.get("segv")],
              ],
            );
            assert.equal(
              faultLine.replace(/ in \S+ \([^)]*\), called from .*$/, ""),
              "The process died due to a segmentation fault accessing address: 0x0",
            );
            assert.match(
              faultLine,
              new RegExp(
                ` in \\S+ \\((?:libc\\.so\\.6|python\\d\\.\\d+)\\+0x[0-9a-f]+\\), called from string_at \\(` +
                  `${siteFrame.file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${siteFrame.line}\\)$`,
              ),
            );
          }
        } catch (error) {
          throw withRun(error, result);
        }
        const json = await runPystack(["core", made.core, "--json"]);
        try {
          assert.equal(json.code, 0);
          const doc = JSON.parse(json.stdout);
          assertValidReport(doc);
          assert.equal(doc.threads[0].tid, made.tid);
          assert.equal(doc.threads[0].crashed, signal);
          const c = doc.target.core.crash;
          assert.equal(c.tid, made.tid);
          assert.equal(c.signal, signal);
          assert.equal(c.origin, originOf(mode));
          assert.match(c.address, /^0x[0-9a-f]+$/);
          if (mode === "ill" || mode === "raising") {
            assert.equal(c.library, undefined, "no library at the mmap'ed page");
          } else {
            assert.match(
              c.library,
              /^(libc\.so\.6|python\d\.\d+|_ctypes.*\.so|mmap.*\.so|libpython.*|pystack_native.*)$/,
            );
          }
          assert.deepEqual(c.calledFrom, {
            function: siteFrame.func,
            file: siteFrame.file,
            line: siteFrame.line,
          });
          if (mode === "abort") assert.ok(c.abortPath.includes("abort"), "abort() on the stack");
          if (mode === "segv-sent") assert.equal(c.abortPath, undefined);
          if (handledFault(mode)) {
            const h = c.handled;
            assert.match(h.address, /^0x[0-9a-f]+$/);
            assert.equal(h.library, "libc.so.6");
            if (mode === "fpe-handled") {
              assert.deepEqual([h.trap, h.faultAddress, h.symbol], [0, undefined, "div"]);
            } else {
              assert.deepEqual([h.trap, h.faultAddress], [14, "0x0"], "a page fault at 0");
              if (LIBC_NAMED && !python.id.includes("-sid")) assert.match(h.symbol, /^__strlen_/);
            }
          } else assert.equal(c.handled, undefined, "no handler caught a fault");
          if (mode === "uncaught") {
            const e = c === undefined ? undefined : doc.target.core.lastException;
            assert.deepEqual(
              [e.state, e.type, e.message, e.raisedAt, e.chain],
              [
                "uncaught",
                "ValueError",
                "uncaught 7",
                { file: SCRIPT, line: lines.get("uncaught"), function: "main" },
                [],
              ],
            );
          } else assert.equal(doc.target.core.lastException, undefined);
          if (mode === "raising") {
            const e = doc.threads[0].exception;
            assert.deepEqual([e.state, e.type, e.message, e.chain], [
              "raising",
              "ValueError",
              "in flight",
              [],
            ]);
          }
          if (mode === "fatal") assert.ok(c.abortPath.includes("Py_FatalError"), c.abortPath);
          const libcFunction = LIBC_FUNCTION[mode];
          if (libcFunction !== undefined && LIBC_NAMED && !python.id.includes("-sid")) {
            // A stripped libc's internal function, named from its debug file's symbol table.
            assert.match(c.symbol ?? "???", libcFunction);
          }
          if (mode === "assert") assert.ok(c.abortPath.includes("__assert_fail"), c.abortPath);
          if (mode === "segv-ext" && python.id.endsWith("-pyenv")) {
            // pyenv's builds keep their symbol tables: the faulting function is named.
            assert.equal(c.symbol, "i_get");
          }
        } catch (error) {
          throw withRun(error, json);
        }
      } finally {
        await Deno.remove(made.dir, { recursive: true });
      }
    });
  }
}
