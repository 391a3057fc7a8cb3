/**
 * Native frames symbolised from pystack's decompressed images of separate
 * debug files (`src/native/debug_images.ts`) are the frames libdw gives
 * when it reads the compressed files itself: Debian's python3.11 with
 * python3.11-dbg and libc6-dbg (their `.debug` files compress DWARF with
 * zlib), `fixtures/bench_threads.py`, live and from a core; with libdeflate,
 * with zlib (`_PYSTACK_NO_LIBDEFLATE`), and without images
 * (`_PYSTACK_NO_DEBUG_IMAGES`: libdw decompresses). Same JSON (every frame's
 * symbol, file, line, `inlined`), same text; and the text is the same
 * whether every frame's source line is read or only those it shows.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { fixtureCore, gcoreSkip } from "./_cores.ts";
import { ElfFile, fileSource } from "../src/elf/elf_file.ts";
import { debugFileByBuildId } from "../src/native/debug_images.ts";
import { inspectCore } from "../src/inspect_core.ts";
import { renderText } from "../src/render/text.ts";

const python = (await findPythons()).find((p) => p.id === "3.11-debian");
const FIXTURE = "bench_threads.py";
/** Its `ticker` thread wakes up every millisecond: its stack is not the same from run to run. */
const MOVING_THREAD = "ticker";

const VARIANTS = {
  libdeflate: {},
  zlib: { _PYSTACK_NO_LIBDEFLATE: "1" },
  libdw: { _PYSTACK_NO_DEBUG_IMAGES: "1" },
} as const;

function skip(): Skip | undefined {
  if (python === undefined) return { reason: "Debian's python3.11 is not listed" };
  if (python.missing) return { reason: python.missing, missing: true };
  for (const file of [python.path, "/lib/x86_64-linux-gnu/libc.so.6"]) {
    using source = fileSource(file);
    const id = new ElfFile(source).buildId();
    if (id === undefined || debugFileByBuildId(id) === undefined) {
      return {
        reason: `no debug file for ${file} (install python3.11-dbg and libc6-dbg)`,
        missing: true,
      };
    }
  }
  return undefined;
}

/** The threads of a `--json` run but the moving one (and their native frames), as compared. */
function stableThreads(result: PystackResult): unknown[] {
  assert.equal(result.code, 0, `exit code\n${describeRun(result)}`);
  const doc = JSON.parse(result.stdout);
  const threads = doc.threads.filter((t: { name: string | null }) => t.name !== MOVING_THREAD);
  // bench_threads.py's default: 4 workers (they copy their names into their OS names) and main,
  // the ticker left out; a core records no OS names, and its ticker does not move: all 6.
  const names = threads.map((t: { name: string | null }) => t.name);
  assert.equal(threads.at(-1).tid, doc.target.pid, "the main thread last");
  if (doc.target.kind === "process") {
    assert.deepEqual(names.slice(0, 4).sort(), ["bench-0", "bench-1", "bench-2", "bench-3"]);
    assert.equal(threads.length, 5, `the 4 workers and the main thread: ${names}`);
  } else {
    assert.equal(threads.length, 6, "the ticker, the 4 workers and the main thread");
  }
  for (const thread of threads) {
    assert.ok(
      thread.native.some((f: { file: string | null }) => f.file?.endsWith(".c")),
      `thread ${thread.tid}: native frames with source files`,
    );
  }
  return threads;
}

/** The text of a `--native` run without the moving thread's block. */
function stableText(result: PystackResult): string {
  assert.equal(result.code, 0, `exit code\n${describeRun(result)}`);
  const blocks = result.stdout.slice(result.stdout.indexOf("Traceback for thread "))
    .split(/\n(?=Traceback for thread )/);
  return blocks.filter((b) => !b.startsWith(`Traceback for thread `) || !/\(ticker\)/.test(b))
    .join("\n");
}

/** Runs `args` in every variant and checks that they agree. */
async function checkVariants(args: string[], core: boolean): Promise<void> {
  const json: Record<string, unknown[]> = {};
  const text: Record<string, string> = {};
  for (const [name, env] of Object.entries(VARIANTS)) {
    const run = await runPystack([...args, "--native-all", "--json"], { env });
    json[name] = stableThreads(run);
    const plain = await runPystack([...args, "--native", "-v"], { env });
    text[name] = stableText(plain);
    const said = /debug information: \d+ file\(s\) decompressed with (\w+)/.exec(plain.stderr);
    if (name === "libdw") {
      assert.equal(said, null, `libdw decompresses: ${plain.stderr}`);
    } else {
      assert.ok(said !== null, `-v says what was decompressed: ${plain.stderr}`);
      if (name === "zlib") assert.equal(said[1], "zlib");
    }
    if (core) assert.ok(!/Unable to merge/.test(plain.stdout), "every stack merged");
  }
  assert.deepEqual(json.libdeflate, json.libdw, "JSON: images (libdeflate) and libdw agree");
  assert.deepEqual(json.zlib, json.libdw, "JSON: images (zlib) and libdw agree");
  assert.equal(text.libdeflate, text.libdw, "text: images and libdw agree");
  assert.equal(text.zlib, text.libdw, "text: images (zlib) and libdw agree");
}

registerTest(`native debug-images python=3.11-debian backend=live`, skip(), async () => {
  await using fixture = await startFixture(python!, FIXTURE);
  await checkVariants(["remote", String(fixture.pid)], false);
});

registerTest(
  `native debug-images python=3.11-debian backend=core`,
  skip() ?? gcoreSkip(),
  async () => {
    await using core = await fixtureCore(python!, FIXTURE, "gcore");
    await checkVariants(["core", core.path], true);
    // The text reads source lines only for the frames it shows: the same text as with all.
    for (const native of ["python", "all", "last"] as const) {
      const text = async (nativeLines: "all" | "shown") =>
        renderText(await inspectCore(core.path, { native, nativeLines }), { color: false, native });
      const shown = await text("shown");
      assert.deepEqual(shown, await text("all"), `--native-${native}: lines "shown" and "all"`);
      assert.ok(shown.some((line) => /\(C\) File "[^?]/.test(line)), "native lines with files");
    }
  },
);
