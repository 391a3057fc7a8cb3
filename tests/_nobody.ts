/**
 * Running a command as the user nobody (`setpriv`), for the tests of what an
 * unprivileged user is refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isAbsolute } from "node:path";
import { pystackCommand, REPO_ROOT, type Skip } from "./_harness.ts";

/** nobody's uid and gid. */
export const NOBODY_ID = 65534;
/** The command prefix that runs the rest as nobody, without groups or capabilities. */
export const NOBODY = [
  "setpriv",
  `--reuid=${NOBODY_ID}`,
  `--regid=${NOBODY_ID}`,
  "--clear-groups",
  "--inh-caps=-all",
];

/** Why nothing can run as nobody here, if it cannot. */
export function nobodySkip(): Skip | undefined {
  if (Deno.uid() !== 0) return { reason: "needs root to run pystack as nobody", missing: true };
  const path = Deno.env.get("PATH") ?? "";
  const found = path.split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/setpriv`).isFile;
    } catch {
      return false;
    }
  });
  return found ? undefined : { reason: "setpriv not found", missing: true };
}

/**
 * A fresh HOME and DENO_DIR owned by nobody (the CLI imports nothing remote,
 * so an empty DENO_DIR works offline), after checking that nobody can read
 * every path in the pystack command.
 */
export async function nobodyEnvironment(): Promise<
  AsyncDisposable & { env: Record<string, string> }
> {
  for (const word of pystackCommand()) {
    if (!word.includes("/")) continue;
    const path = isAbsolute(word) ? word : REPO_ROOT + word;
    const { success } = await new Deno.Command(NOBODY[0]!, {
      args: [...NOBODY.slice(1), "test", "-r", path],
    }).output();
    assert.ok(
      success,
      `User nobody (uid ${NOBODY_ID}) cannot read ${path} from the pystack command; ` +
        "make it and its directories world-readable, or set PYSTACK_CMD to a copy that is",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "pystack-nobody-" });
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: `${dir}/home`,
    DENO_DIR: `${dir}/deno`,
    LC_ALL: "C.UTF-8",
  };
  for (const path of [dir, env.HOME, env.DENO_DIR]) {
    await Deno.mkdir(path, { recursive: true });
    await Deno.chown(path, NOBODY_ID, NOBODY_ID);
  }
  return {
    env,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
