/**
 * greenlet for the interpreters Debian packages it not for: built at test
 * time from the sources Debian's python3-greenlet (2.0.2) installs beside its
 * module, against each interpreter's headers (`g++ -O1`, a few seconds), into
 * a temporary `greenlet/` package that `fixtures/greenlet_switch.py` imports
 * through `PYSTACK_GREENLET_DIR`.
 *
 * @module
 */
import type { Skip } from "./_harness.ts";
import { onPath } from "./_cores.ts";
import type { Python } from "./_pythons.ts";

/** Where Debian's python3-greenlet installs greenlet, sources included. */
export const DEBIAN_GREENLET = "/usr/lib/python3/dist-packages/greenlet/";

const builds = new Map<string, Promise<string>>();
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

/** Why greenlet cannot be built for `python`, if it cannot. */
export function greenletBuildSkip(python: Python): Skip | undefined {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  const [major, minor] = python.version;
  if (major !== 3 || minor < 7) {
    return { reason: "2.7 and 3.6 keep the GC lists in a C static that pystack does not read" };
  }
  if (minor > 11) return { reason: "greenlet 2.0.2 (Debian's sources) supports up to 3.11" };
  if (!onPath("g++")) return { reason: "g++ is not installed", missing: true };
  try {
    Deno.statSync(`${DEBIAN_GREENLET}greenlet.cpp`);
  } catch {
    return { reason: "python3-greenlet's sources are not installed", missing: true };
  }
  return undefined;
}

/** A directory holding a `greenlet` package built for `python` (once per test process). */
export function greenletFor(python: Python): Promise<string> {
  let build = builds.get(python.id);
  if (build === undefined) {
    build = buildFor(python);
    builds.set(python.id, build);
  }
  return build;
}

async function buildFor(python: Python): Promise<string> {
  const include = (await run(python.path, [
    "-S",
    "-c",
    'import sysconfig; print(sysconfig.get_paths()["include"])',
  ])).trim();
  const dir = await Deno.makeTempDir({ prefix: `pystack-greenlet-${python.id}-` });
  dirs.push(dir);
  await Deno.mkdir(`${dir}/greenlet`);
  await Deno.copyFile(`${DEBIAN_GREENLET}__init__.py`, `${dir}/greenlet/__init__.py`);
  await run("g++", [
    "-O1",
    "-shared",
    "-fPIC",
    `-I${include}`,
    `${DEBIAN_GREENLET}greenlet.cpp`,
    "-o",
    `${dir}/greenlet/_greenlet.so`,
  ]);
  return dir;
}

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${decoder.decode(output.stderr)}`);
  }
  return decoder.decode(output.stdout);
}
