/**
 * Fixtures run the way a container runtime (runc) runs a program: in their
 * own mount and PID namespaces, `pivot_root`ed into a root made of bind
 * mounts, the interpreter at `/opt/python` (a path the host does not have)
 * and the fixture at `/app` (a copy only the container has).
 *
 * `unshare --mount --pid --fork --kill-child` runs `sh` as PID 1 of the new
 * namespace; it builds the root on a tmpfs, pivots into it and then either
 * execs the fixture (the fixture is PID 1: `init: "fixture"`) or starts it
 * and waits (`init: "shell"`: the shell stays PID 1). The root holds:
 *
 * | path            | what                                                          |
 * | --------------- | ------------------------------------------------------------- |
 * | `/usr`          | the host's, read-only (`/bin`, `/lib`, `/lib64` link into it) |
 * | `/opt/python`   | pyenv's prefix read-only, or Debian's binary alone            |
 * | `/app`          | a copy of the fixture and `_fixture.py`, read-only            |
 * | `/run/pystack`  | a host directory: the ready file, and the cwd (kernel cores)  |
 * | `/proc`, `/tmp` | the namespace's own procfs, a tmpfs; `/dev` the host's        |
 *
 * @module
 */
import { FIXTURES_DIR, type Skip, sleep } from "./_harness.ts";
import type { Python } from "./_pythons.ts";
import { onPath } from "./_cores.ts";
import { pathExists } from "../src/fs_checks.ts";
import { concatBytes } from "../src/bytes.ts";

/** Where the container has the interpreter's prefix. */
export const CONTAINER_PREFIX = "/opt/python";
/** Where the container has the fixture. */
export const CONTAINER_APP = "/app";

const READY_TIMEOUT_MS = 15_000;
const SETTLE_MS = 100;

/** A fixture running in a container. `await using` it. */
export interface ContainerFixture extends AsyncDisposable {
  /** The fixture's pid as the host sees it. */
  pid: number;
  /** Its pid inside its namespace (1 with `init: "fixture"`). */
  nsPid: number;
  /** The script's path as the container sees it (`/app/NAME`): the frames' file. */
  scriptPath: string;
  /** The host directory holding `app/` (the copy) and `run/` (the container's `/run/pystack`). */
  dir: string;
  /** The interpreter binary inside the container (`/opt/python/bin/pythonX.Y`). */
  binary: string;
  /** Files the interpreter maps from its prefix, as `[container path, host path]`. */
  files: [string, string][];
  /** Host tid → tid inside the container, from `/proc/PID/task/TID/status` (`NSpid:`). */
  nsTids(): Map<number, number>;
  /** What the container's shell and the fixture wrote to stderr. */
  stderr(): string;
  /** Resolves when the container has ended (after a crash or `stop`). */
  ended: Promise<void>;
  /** Kills the container (SIGKILL to unshare: its PID 1, so every process in it, dies). */
  stop(): Promise<void>;
}

/** Options of {@linkcode startContainerFixture}. */
export interface ContainerOptions {
  /** `fixture`: the fixture is PID 1 of its namespace; `shell` (default): a shell is. */
  init?: "fixture" | "shell";
  /** Host directories the container also has, read-only, at the same paths. */
  binds?: string[];
}

/** Why a container cannot be made here, if it cannot. */
export function containerSkip(python: Python): Skip | undefined {
  if (python.missing) return { reason: python.missing, missing: true };
  if (Deno.uid() !== 0) return { reason: "making namespaces needs root", missing: true };
  for (const tool of ["unshare", "pivot_root", "mount", "umount"]) {
    if (!onPath(tool)) return { reason: `${tool} (util-linux) is not installed`, missing: true };
  }
  return undefined;
}

/** The interpreter's files as the container has them, and its prefix on the host. */
function layout(python: Python): { prefix?: string; binary: string; files: [string, string][] } {
  const [major, minor] = python.version;
  const name = `python${major}.${minor}`;
  const binary = `${CONTAINER_PREFIX}/bin/${name}`;
  if (!python.path.startsWith("/usr/")) {
    // pyenv: PREFIX/bin/pythonX.Y and PREFIX/lib/libpythonX.Y.so.1.0.
    const prefix = python.path.slice(0, python.path.lastIndexOf("/bin/"));
    const lib = `lib/lib${name}.so.1.0`;
    return {
      prefix,
      binary,
      files: [[binary, python.path], [`${CONTAINER_PREFIX}/${lib}`, `${prefix}/${lib}`]],
    };
  }
  return { binary, files: [[binary, python.path]] }; // Debian's: static, its stdlib in /usr
}

/**
 * Start `fixtures/<fixtureName>` in a container and wait until it wrote
 * `ready` (15 s at most), then 100 ms more.
 */
export async function startContainerFixture(
  python: Python,
  fixtureName: string,
  options: ContainerOptions = {},
): Promise<ContainerFixture> {
  const dir = await Deno.makeTempDir({ prefix: "pystack-container-" });
  await Deno.mkdir(`${dir}/app`);
  await Deno.mkdir(`${dir}/run`);
  await Deno.mkdir(`${dir}/root`);
  for (const file of [fixtureName, "_fixture.py"]) {
    await Deno.copyFile(FIXTURES_DIR + file, `${dir}/app/${file}`);
  }
  const { prefix, binary, files } = layout(python);
  const init = options.init ?? "shell";
  const run = [
    "env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1",
    `LD_LIBRARY_PATH=${CONTAINER_PREFIX}/lib`,
    `${binary} -S ${CONTAINER_APP}/${fixtureName} /run/pystack/ready`,
  ].join(" ");
  const R = `${dir}/root`;
  const script = [
    "set -e",
    `mount -t tmpfs -o mode=755 pystack-root ${R}`,
    `mkdir -p ${R}/usr ${R}/opt/python ${R}/app ${R}/run/pystack ${R}/proc ${R}/tmp ${R}/dev`,
    `mkdir ${R}/.oldroot`,
    `mount --bind /usr ${R}/usr && mount -o remount,bind,ro ${R}/usr`,
    `ln -s usr/bin ${R}/bin && ln -s usr/lib ${R}/lib && ln -s usr/lib64 ${R}/lib64`,
    prefix !== undefined
      ? `mount --bind ${prefix} ${R}/opt/python && mount -o remount,bind,ro ${R}/opt/python`
      : `mkdir ${R}/opt/python/bin && touch ${R}${binary} && mount --bind ${python.path} ${R}${binary}`,
    `mount --bind ${dir}/app ${R}/app && mount -o remount,bind,ro ${R}/app`,
    `mount --bind ${dir}/run ${R}/run/pystack`,
    // Before the binds: a bound path under /tmp (a clone there) must not be hidden by it.
    `mount -t tmpfs tmp ${R}/tmp`,
    ...(options.binds ?? []).map((path) =>
      `mkdir -p ${R}${path} && mount --bind ${path} ${R}${path} && ` +
      `mount -o remount,bind,ro ${R}${path}`
    ),
    `mount --rbind /dev ${R}/dev`,
    `mount -t proc proc ${R}/proc`,
    `cd ${R}`,
    "pivot_root . .oldroot",
    "cd /",
    "umount -l /.oldroot",
    "rmdir /.oldroot",
    "cd /run/pystack",
    "ulimit -c unlimited",
    init === "fixture" ? `exec ${run}` : `${run} & wait $!`,
  ].join("\n");
  const child = new Deno.Command("unshare", {
    args: ["--mount", "--pid", "--fork", "--kill-child", "--propagation", "private"].concat(
      ["sh", "-c", script],
    ),
    clearEnv: true,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const chunks: Uint8Array[] = [];
  const drained = (async () => {
    for await (const chunk of child.stderr) chunks.push(chunk);
  })();
  let exited = false;
  const ended = child.status.then(() => drained).finally(() => {
    exited = true;
  });
  const stderr = () => new TextDecoder().decode(concatBytes(chunks));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await ended;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!pathExists(`${dir}/run/ready`)) {
      if (exited) throw new Error(`The container exited before it was ready:\n${stderr()}`);
      if (Date.now() > deadline) throw new Error(`The container was not ready:\n${stderr()}`);
      await sleep(10);
    }
    await sleep(SETTLE_MS);
    const pid = fixturePid(child.pid, init === "fixture" ? 1 : 2);
    const nsTids = () => readNsTids(pid);
    return {
      pid,
      nsPid: nsTids().get(pid)!,
      scriptPath: `${CONTAINER_APP}/${fixtureName}`,
      dir,
      binary,
      files,
      nsTids,
      stderr,
      ended,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The fixture: `depth` generations below unshare (its child is the namespace's PID 1). */
function fixturePid(unsharePid: number, depth: number): number {
  let parents = [unsharePid];
  for (let level = 0; level < depth; level++) {
    const children = [...Deno.readDirSync("/proc")].flatMap((entry) => {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid)) return [];
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return parents.includes(ppid) ? [pid] : [];
      } catch {
        return [];
      }
    });
    if (children.length !== 1) {
      throw new Error(`Expected one process below ${parents}, found ${children.join(", ")}`);
    }
    parents = children;
  }
  return parents[0]!;
}

/** Host tid → tid in the innermost namespace, for every thread of `pid`. */
function readNsTids(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    const status = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/status`);
    const ids = /^NSpid:\s*(.*)$/m.exec(status)![1]!.trim().split(/\s+/).map(Number);
    if (ids.length !== 2) throw new Error(`thread ${entry.name}: NSpid ${ids}, want 2 ids`);
    out.set(ids[0]!, ids[1]!);
  }
  return out;
}
