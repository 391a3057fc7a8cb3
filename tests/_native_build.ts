/**
 * Builds the native-frame fixtures' extension (`fixtures/native/`) for one
 * interpreter, at test time, against that interpreter's own headers:
 *
 * - `libpystack_hop.so`: `hop.c`, no debug information, `strip --strip-all`;
 * - `pystack_native_fixture.so`: `pystack_native_fixture.c` (`cc -O2 -g -fPIC`)
 *   and `relay.cpp` (`g++ -O2 -g -fPIC`), linked by g++ against the hop
 *   library (rpath `$ORIGIN`).
 *
 * One build per interpreter and test process, in a temporary directory
 * removed when the process unloads.
 *
 * @module
 */
import { FIXTURES_DIR, type Skip } from "./_harness.ts";
import { onPath } from "./_cores.ts";
import type { Python } from "./_pythons.ts";

/** A built extension: the directory to put on `sys.path`. */
export interface NativeExtension {
  dir: string;
}

const SOURCES = `${FIXTURES_DIR}native/`;
const builds = new Map<string, Promise<NativeExtension>>();
const dirs: string[] = [];
addEventListener("unload", () => {
  for (const dir of dirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already removed
    }
  }
});

/** Why the extension cannot be built here, if it cannot (no compiler). */
export function buildSkip(): Skip | undefined {
  for (const tool of ["cc", "g++", "strip"]) {
    if (!onPath(tool)) return { reason: `${tool} is not installed`, missing: true };
  }
  return undefined;
}

/** The extension built for `python` (built once per test process). */
export function nativeExtension(python: Python): Promise<NativeExtension> {
  let build = builds.get(python.id);
  if (build === undefined) {
    build = buildFor(python);
    builds.set(python.id, build);
  }
  return build;
}

async function buildFor(python: Python): Promise<NativeExtension> {
  const include = (await run(python.path, [
    "-S",
    "-c",
    'import sysconfig; print(sysconfig.get_paths()["include"])',
  ])).trim();
  const dir = await Deno.makeTempDir({ prefix: `pystack-native-${python.id}-` });
  dirs.push(dir);
  await run("cc", ["-O2", "-shared", "-fPIC", "-o", `${dir}/libpystack_hop.so`, `${SOURCES}hop.c`]);
  await run("strip", ["--strip-all", `${dir}/libpystack_hop.so`]);
  await run("g++", [
    "-O2",
    "-g",
    "-fPIC",
    ...includeFlags(include),
    "-c",
    `${SOURCES}relay.cpp`,
    "-o",
    `${dir}/relay.o`,
  ]);
  await run("cc", [
    "-O2",
    "-g",
    "-fPIC",
    ...includeFlags(include),
    "-c",
    `${SOURCES}pystack_native_fixture.c`,
    "-o",
    `${dir}/fixture.o`,
  ]);
  await run("g++", [
    "-shared",
    "-o",
    `${dir}/pystack_native_fixture.so`,
    `${dir}/fixture.o`,
    `${dir}/relay.o`,
    `-L${dir}`,
    "-lpystack_hop",
    "-Wl,-rpath,$ORIGIN",
    "-lpthread",
  ]);
  return { dir };
}

/**
 * The interpreter's include directory, and its parent: Debian's multiarch
 * `pyconfig.h` includes `<x86_64-linux-gnu/python3.X/pyconfig.h>`, found from
 * the parent when the headers are not installed under /usr/include.
 */
function includeFlags(include: string): string[] {
  return [`-I${include}`, `-I${include.slice(0, include.lastIndexOf("/"))}`];
}

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdin: "null" }).output();
  const text = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${text.decode(output.stdout)}${
        text.decode(output.stderr)
      }`,
    );
  }
  return text.decode(output.stdout);
}
