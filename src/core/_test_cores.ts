/**
 * Test helper: makes real core files of small targets, with `gcore` and with
 * the kernel. Every process it starts is killed and awaited before it returns,
 * so tests that share a core do not trip the resource sanitizer.
 *
 * The kernel cores rely on `/proc/sys/kernel/core_pattern` writing a file in
 * the target's working directory; {@linkcode kernelCoresUsable} says whether it
 * does (a pattern that pipes to a program, or points elsewhere, makes the kernel
 * tests skip themselves rather than change the machine's setting).
 *
 * @module
 */

import { pathExists } from "../fs_checks.ts";

const PYENV_ROOT = Deno.env.get("PYENV_ROOT") ?? `${Deno.env.get("HOME")}/.pyenv`;
/** pyenv's CPython 3.11.7 (a `--enable-shared` build: libpython is a separate file). */
export const PYENV_PYTHON = `${PYENV_ROOT}/versions/3.11.7/bin/python3.11`;
/** Debian's CPython 3.11 (libpython linked into the executable). */
export const DEBIAN_PYTHON = "/usr/bin/python3.11";
/** `sleep` as found on PATH, resolved. */
export const SLEEP = Deno.realPathSync("/usr/bin/sleep");

let shared: string | undefined;
const made = new Map<string, Promise<unknown>>();

/** A temporary directory for this test run's cores, removed when the run ends. */
export function coreDir(): string {
  if (!shared) {
    const dir = shared = Deno.makeTempDirSync({ prefix: "pystack-cores-" });
    addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
  }
  return shared;
}

/** A fresh subdirectory of {@linkcode coreDir}. */
export function freshDir(): string {
  return Deno.makeTempDirSync({ dir: coreDir() });
}

/** Runs `make` once per `key` for the whole test run (cores are slow to make). */
export function once<T>(key: string, make: () => Promise<T>): Promise<T> {
  let promise = made.get(key) as Promise<T> | undefined;
  if (!promise) made.set(key, promise = make());
  return promise;
}

/** A core and facts about the process it came from. */
export interface MadeCore {
  path: string;
  pid: number;
  ppid: number;
  /** Thread ids of the live process (main thread first). */
  tids: number[];
}

/** A live target: its pid, and what `before` gathered while it was alive. */
export interface Live<T> {
  pid: number;
  extra: T;
}

/** Whether the kernel writes cores as `core` in the crashing process's cwd. */
export function kernelCoresUsable(): boolean {
  try {
    const pattern = Deno.readTextFileSync("/proc/sys/kernel/core_pattern").trim();
    return pattern === "core" || pattern === "core.%p";
  } catch {
    return false;
  }
}

/** Waits until `pid` (and `threads` threads of it) sleeps in (clock_)nanosleep. */
async function waitAsleep(pid: number, threads: number): Promise<number[]> {
  for (let i = 0; i < 500; i++) {
    try {
      const tids = [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => Number(e.name))
        .sort((a, b) => a - b);
      const asleep = tids.filter((tid) => {
        const call = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/syscall`).split(" ")[0];
        return call === "230" || call === "35";
      });
      if (tids.length === threads && asleep.length === threads) return tids;
    } catch {
      // not started yet, or a thread came and went
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Cannot make a core: process ${pid} never went to sleep`);
}

/** Options for {@linkcode gcoreOf}. */
export interface GcoreOptions<T> {
  env?: Record<string, string>;
  /** Number of threads to wait for (1). */
  threads?: number;
  /** Runs while the target sleeps, before `gcore`. */
  before?: (pid: number) => T | Promise<T>;
}

/** Starts `argv`, waits until it sleeps, runs `before`, gcores it into `dir`, kills it. */
export async function gcoreOf<T = undefined>(
  dir: string,
  argv: string[],
  options: GcoreOptions<T> = {},
): Promise<MadeCore & { extra: T }> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = new Deno.Command(cmd, {
    args,
    env: options.env ?? {},
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const tids = await waitAsleep(child.pid, options.threads ?? 1);
    const extra = (await options.before?.(child.pid)) as T;
    const prefix = `${dir}/gcore`;
    const out = await new Deno.Command("gcore", {
      args: ["-o", prefix, String(child.pid)],
      stdout: "null",
      stderr: "piped",
    }).output();
    const path = `${prefix}.${child.pid}`;
    if (!out.success || !pathExists(path)) {
      throw new Error(`gcore failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return { path, pid: child.pid, ppid: Deno.pid, tids, extra };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }
}

/** Options for {@linkcode kernelCoreOf}. */
export interface KernelCoreOptions<T> {
  env?: Record<string, string>;
  /** Runs while the target sleeps, before it is signalled (needs `signal`). */
  before?: (pid: number) => T | Promise<T>;
  /** Kill the target with this signal once it sleeps; without it the target must crash itself. */
  signal?: Deno.Signal;
  threads?: number;
}

/**
 * Runs `script` under `bash -c` with `ulimit -c unlimited` in `dir` (the
 * script should `exec` the target so that it keeps bash's pid), and returns
 * the core the kernel wrote there.
 */
export async function kernelCoreOf<T = undefined>(
  dir: string,
  script: string,
  options: KernelCoreOptions<T> = {},
): Promise<MadeCore & { extra: T }> {
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -c unlimited; ${script}`],
    env: options.env ?? {},
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let tids = [child.pid];
  let extra = undefined as T;
  try {
    if (options.signal) {
      tids = await waitAsleep(child.pid, options.threads ?? 1);
      extra = (await options.before?.(child.pid)) as T;
      child.kill(options.signal);
    }
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  } finally {
    await child.status;
  }
  for (const name of ["core", `core.${child.pid}`]) {
    const path = `${dir}/${name}`;
    if (pathExists(path)) return { path, pid: child.pid, ppid: Deno.pid, tids, extra };
  }
  throw new Error(`The kernel wrote no core for process ${child.pid} in ${dir}`);
}

/** Reads `length` bytes of a live process at `address` through `/proc/PID/mem`. */
export function readLive(pid: number, address: bigint, length: number): Uint8Array {
  using file = Deno.openSync(`/proc/${pid}/mem`);
  file.seekSync(address, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = file.readSync(out.subarray(got));
    if (n === null || n === 0) throw new Error(`short read of process ${pid} memory`);
    got += n;
  }
  return out;
}

/** A live process's mappings of `path` (its `/proc/PID/maps` lines), start and file offset. */
export function liveMappings(pid: number, path: string): { start: bigint; offset: bigint }[] {
  return Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[5] === path)
    .map((f) => ({
      start: BigInt(`0x${f[0]!.split("-")[0]}`),
      offset: BigInt(`0x${f[2]}`),
    }));
}

/** Copies the first `length` bytes of `from` into a new file `to`. */
export function truncatedCopy(from: string, to: string, length: number): void {
  using src = Deno.openSync(from);
  using dst = Deno.openSync(to, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(1 << 20);
  let left = length;
  while (left > 0) {
    const n = src.readSync(buf.subarray(0, Math.min(left, buf.length)));
    if (n === null) break;
    for (let w = 0; w < n;) w += dst.writeSync(buf.subarray(w, n));
    left -= n;
  }
}

// ---- The cores the tests share ----------------------------------------------

const SLEEP_THREADS = [
  "import threading, time",
  "for _ in range(3): threading.Thread(target=time.sleep, args=(100,), daemon=True).start()",
  "time.sleep(100)",
].join("\n");

/** What a Python fixture saw of itself while alive. */
export interface LiveRuntime {
  /** Address of `_PyRuntime` and its first 512 bytes, read from `/proc/PID/mem`. */
  runtimeAddress: bigint;
  runtimeBytes: Uint8Array;
  /** `/proc/PID/maps` of the live process. */
  maps: string;
}

/** Reads `_PyRuntime` of a live python whose symbol lives in `file`. */
export async function liveRuntime(pid: number, file: string): Promise<LiveRuntime> {
  const { ElfFile, fileSource } = await import("../elf/elf_file.ts");
  using source = fileSource(file);
  const elf = new ElfFile(source);
  const symbol = elf.findSymbols(["_PyRuntime"]).get("_PyRuntime");
  if (symbol === undefined) throw new Error(`no _PyRuntime in ${file}`);
  const base = liveMappings(pid, file).find((m) => m.offset === 0n)!.start;
  const runtimeAddress = base + symbol - elf.loadBase();
  return {
    runtimeAddress,
    runtimeBytes: readLive(pid, runtimeAddress, 512),
    maps: Deno.readTextFileSync(`/proc/${pid}/maps`),
  };
}

/** pyenv's libpython. */
export const PYENV_LIBPYTHON = `${PYENV_ROOT}/versions/3.11.7/lib/libpython3.11.so.1.0`;

/** gcore of `sleep 100`. */
export function sleepGcore() {
  return once("sleepGcore", () => gcoreOf(freshDir(), [SLEEP, "100"]));
}

/** Kernel core of `sleep 100` killed by pystack's test process with SIGSEGV. */
export function sleepKernelSegv() {
  return once(
    "sleepKernelSegv",
    () => kernelCoreOf(freshDir(), `exec ${SLEEP} 100`, { signal: "SIGSEGV" }),
  );
}

/** Kernel core of bash aborting itself with `kill -ABRT $$`. */
export function bashKernelAbort() {
  return once("bashKernelAbort", () => kernelCoreOf(freshDir(), "kill -ABRT $$"));
}

/** gcore of pyenv's python 3.11 sleeping in 4 threads, with its live `_PyRuntime`. */
export function pyenvGcore() {
  return once("pyenvGcore", () =>
    gcoreOf(freshDir(), [PYENV_PYTHON, "-c", SLEEP_THREADS], {
      threads: 4,
      before: (pid) => liveRuntime(pid, PYENV_LIBPYTHON),
    }));
}

/** Kernel core of pyenv's python 3.11 calling `os.abort()`. */
export function pyenvKernelAbort() {
  return once(
    "pyenvKernelAbort",
    () => kernelCoreOf(freshDir(), `exec ${PYENV_PYTHON} -c 'import os; os.abort()'`),
  );
}

/** Kernel core of Debian's python3.11 sleeping, killed with SIGSEGV, with its live `_PyRuntime`. */
export function debianKernelSegv() {
  return once(
    "debianKernelSegv",
    () =>
      kernelCoreOf(freshDir(), `exec ${DEBIAN_PYTHON} -c 'import time; time.sleep(100)'`, {
        signal: "SIGSEGV",
        before: (pid) => liveRuntime(pid, DEBIAN_PYTHON),
      }),
  );
}

/** Kernel core of Debian's python3.11 faulting at 0x75bcd15 through ctypes. */
export function debianSegfault() {
  return once("debianSegfault", () =>
    kernelCoreOf(
      freshDir(),
      `exec ${DEBIAN_PYTHON} -c 'import ctypes; ctypes.string_at(123456789)'`,
    ));
}

/** Kernel core of a `#!/usr/bin/python3.11` script that aborts. */
export function scriptKernelAbort() {
  return once("scriptKernelAbort", async () => {
    const dir = freshDir();
    const script = `${dir}/crash.py`;
    Deno.writeTextFileSync(script, `#!${DEBIAN_PYTHON}\nimport os\nos.abort()\n`, { mode: 0o755 });
    return { ...await kernelCoreOf(dir, `exec ${script}`), script };
  });
}

/**
 * A kernel core of pyenv's python 3.11 run from a private copy of its
 * executable and libpython (`prefix/bin`, `prefix/lib`), after which `prefix`
 * was renamed to `moved`: the core names files that no longer exist. pyenv's
 * own tree is only read.
 */
export function relocatedKernelCore() {
  return once("relocatedKernelCore", async () => {
    const dir = freshDir();
    const prefix = `${dir}/prefix`;
    Deno.mkdirSync(`${prefix}/bin`, { recursive: true });
    Deno.mkdirSync(`${prefix}/lib`);
    Deno.copyFileSync(PYENV_PYTHON, `${prefix}/bin/python3.11`);
    Deno.copyFileSync(PYENV_LIBPYTHON, `${prefix}/lib/libpython3.11.so.1.0`);
    const made = await kernelCoreOf(
      dir,
      `exec ${prefix}/bin/python3.11 -c 'import time; time.sleep(100)'`,
      {
        env: {
          LD_LIBRARY_PATH: `${prefix}/lib`,
          PYTHONHOME: PYENV_PYTHON.replace(/\/bin\/python3\.11$/, ""),
        },
        signal: "SIGSEGV",
        before: (pid) => liveRuntime(pid, `${prefix}/lib/libpython3.11.so.1.0`),
      },
    );
    const moved = `${dir}/moved`;
    Deno.renameSync(prefix, moved);
    return { ...made, prefix, moved };
  });
}

/** Kernel core of pyenv's python 3.11 sleeping in 4 threads, killed with SIGSEGV. */
export function pyenvKernelThreads() {
  return once(
    "pyenvKernelThreads",
    () =>
      kernelCoreOf(freshDir(), `exec ${PYENV_PYTHON} -c '${SLEEP_THREADS}'`, {
        signal: "SIGSEGV",
        threads: 4,
      }),
  );
}
