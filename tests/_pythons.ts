/**
 * The CPython interpreters the integration tests run against.
 *
 * Every interpreter we expect is listed, present or not: a missing one carries
 * a `missing` reason so that its tests are still registered and reported as
 * skipped (see `registerTest` in `_harness.ts`), never silently dropped.
 *
 * @module
 */

/** One interpreter under test. */
export interface Python {
  /** Readable id used in test names: `3.11-pyenv`, `3.11-debian`, `2.7-pyenv`. */
  id: string;
  /** What it is, for the README's table (`scripts/support_table.ts`); the id if absent. */
  label?: string;
  /** Major and minor version. */
  version: readonly [number, number];
  /** The real binary (never a pyenv shim). */
  path: string;
  /** Set when the binary is not there: the reason its tests are skipped. */
  missing?: string;
  /**
   * Set when the interpreter could not be fetched (Debian's mirror did not answer):
   * its tests are skipped with this reason, even with `PYSTACK_TEST_REQUIRE_ALL=1`.
   */
  unavailable?: string;
  /**
   * The interpreter binary when `path` is not it: `path` is then a script that execs the
   * dynamic loader on it (`/proc/PID/exe` is the loader).
   */
  interpreter?: string;
  /** A free-threaded build (`--disable-gil`): no GIL, threads are attached or detached. */
  freeThreaded?: boolean;
  /** Set when gdb's `gcore` cannot dump this interpreter's processes whole: why. */
  gcoreSkip?: string;
}

/** pyenv versions we install, oldest first; another patch release of the same minor also counts. */
const PYENV_VERSIONS = [
  "2.7.18",
  "3.6.15",
  "3.7.16",
  "3.8.18",
  "3.9.18",
  "3.10.13",
  "3.11.7",
  "3.12.1",
  "3.13.0",
];

/** Debian's statically linked, stripped interpreter. */
const DEBIAN_PYTHON = {
  id: "3.11-debian",
  label: "Debian 12's python3.11 (static, stripped)",
  version: [3, 11] as const,
  path: "/usr/bin/python3.11",
};

/** Debian unstable's builds (static, stripped), fetched by `scripts/get_pythons.ts`. */
const SID_MINORS = ["3.13", "3.14", "3.15"] as const;
/** The sid build also run through its loader, so that `/proc/PID/exe` is ld.so. */
const SID_LOADER_MINOR = "3.14";
const SID_CACHE = decodeURIComponent(new URL("../.cache/pythons/", import.meta.url).pathname);
/**
 * glibc 2.43 guards thread stacks with MADV_GUARD_INSTALL pages inside the stack's mapping;
 * reading them through /proc/PID/mem fails, and gdb 13's gcore then writes the whole
 * stack as zeros, so frames entered from C on a thread's stack are lost (kernel cores keep them).
 */
const SID_GCORE_SKIP = "gdb 13's gcore writes the thread stacks that glibc 2.43 guards with " +
  "MADV_GUARD_INSTALL as zeros";

let cached: Promise<Python[]> | undefined;

/**
 * All interpreters under test, oldest pyenv build first, then Debian's (bookworm's, sid's).
 * The pyenv root is `$PYENV_ROOT`, else the output of `pyenv root`, else `/root/.pyenv`.
 */
export function findPythons(): Promise<Python[]> {
  cached ??= discover();
  return cached;
}

async function discover(): Promise<Python[]> {
  const root = await pyenvRoot();
  const installed = listDir(`${root}/versions`);
  const pythons = PYENV_VERSIONS.map((wanted) => {
    const [major, minor] = wanted.split(".").map(Number) as [number, number];
    const dir = pickVersionDir(installed, wanted, major, minor);
    const path = `${root}/versions/${dir}/bin/python${major}.${minor}`;
    return withPresence({
      id: `${major}.${minor}-pyenv`,
      label: `pyenv's CPython ${wanted} (shared libpython, symbols)`,
      version: [major, minor],
      path,
    });
  });
  pythons.push(withPresence({ ...DEBIAN_PYTHON }));
  pythons.push(...sidPythons());
  pythons.push(withPresence({
    ...FREE_THREADED_PYTHON,
    path: `${SID_CACHE}3.13t/bin/python3.13t`,
  }, "run `deno run -A scripts/get_freethreaded.ts`"));
  return pythons;
}

/** The free-threaded 3.13 build of `../shared/pythons/`, unpacked by `scripts/get_freethreaded.ts`. */
const FREE_THREADED_PYTHON = {
  id: "3.13t",
  label: "CPython 3.13.15t, free-threaded (symbols)",
  version: [3, 13] as const,
  freeThreaded: true,
};

/**
 * `3.13-sid`, `3.14-sid`, `3.15-sid` and `3.14-sid-loader` (the same 3.14 started as
 * `ld-linux-x86-64.so.2 --library-path … python3.14`).
 */
function sidPythons(): Python[] {
  let unavailable: string | undefined;
  try {
    const failure = JSON.parse(Deno.readTextFileSync(`${SID_CACHE}unavailable.json`));
    unavailable = `Debian sid's Pythons could not be fetched: ${failure.reason}`;
  } catch {
    // no recorded failure
  }
  const fetch = "run `deno run -A scripts/get_pythons.ts`";
  const pythons: Python[] = [];
  for (const minor of SID_MINORS) {
    const version = minor.split(".").map(Number) as [number, number];
    const dir = `${SID_CACHE}${minor}-sid/`;
    const variants: Python[] = [{
      id: `${minor}-sid`,
      label: `Debian sid's python${minor} (static, stripped)`,
      version,
      path: `${dir}usr/bin/python${minor}`,
      gcoreSkip: SID_GCORE_SKIP,
    }];
    if (minor === SID_LOADER_MINOR) {
      variants.push({
        id: `${minor}-sid-loader`,
        label: `Debian sid's python${minor}, started as \`ld.so python${minor}\``,
        version,
        path: `${dir}bin/python${minor}-via-loader`,
        interpreter: `${dir}usr/bin/python${minor}`,
        gcoreSkip: SID_GCORE_SKIP,
      });
    }
    for (const python of variants) {
      const present = withPresence(python);
      if (present.missing === undefined) pythons.push(present);
      else if (unavailable !== undefined) pythons.push({ ...python, unavailable });
      else pythons.push({ ...present, missing: `${present.missing}: ${fetch}` });
    }
  }
  return pythons;
}

/** The wanted patch release if installed, else the newest installed `major.minor.N`. */
function pickVersionDir(installed: string[], wanted: string, major: number, minor: number): string {
  if (installed.includes(wanted)) return wanted;
  const pattern = new RegExp(`^${major}\\.${minor}\\.(\\d+)$`);
  const candidates = installed
    .map((name) => ({ name, patch: Number(pattern.exec(name)?.[1] ?? NaN) }))
    .filter((candidate) => !Number.isNaN(candidate.patch))
    .sort((a, b) => b.patch - a.patch);
  return candidates[0]?.name ?? wanted;
}

function withPresence(python: Python, fix?: string): Python {
  try {
    if (Deno.statSync(python.path).isFile) return python;
  } catch {
    // reported below
  }
  return { ...python, missing: `${python.path} not found${fix === undefined ? "" : `: ${fix}`}` };
}

async function pyenvRoot(): Promise<string> {
  const fromEnv = Deno.env.get("PYENV_ROOT");
  if (fromEnv) return fromEnv;
  try {
    const output = await new Deno.Command("pyenv", { args: ["root"], stderr: "null" }).output();
    const root = new TextDecoder().decode(output.stdout).trim();
    if (output.success && root) return root;
  } catch {
    // pyenv is not installed
  }
  return "/root/.pyenv";
}

function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((entry) => entry.name);
  } catch {
    return [];
  }
}
