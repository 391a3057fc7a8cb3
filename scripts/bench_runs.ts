/**
 * What the benchmark scripts share besides the fixture: timing one command,
 * the children left to kill on the way out, the median of a sample, and
 * whether a tool is on `PATH`.
 *
 * @module
 */

/** What one command printed, and how long it took (spawn to exit). */
export interface Outcome {
  wallMs: number;
  /** -1 when it was killed for taking longer than its time. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Every child that may outlive a command: kill them on the way out ({@linkcode killAll}). */
export const children = new Set<Deno.ChildProcess>();

/** Kills `child` (already gone is fine). */
export function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/** Kills every child still running. */
export function killAll(): void {
  for (const child of children) kill(child);
}

/** Runs `cmd` from `cwd` with `NO_COLOR=1`, killing it after `timeoutMs`. */
export async function runTimed(
  cmd: readonly string[],
  options: { cwd: string; timeoutMs: number },
): Promise<Outcome> {
  const [program, ...args] = cmd;
  const start = performance.now();
  const child = new Deno.Command(program!, {
    args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  children.add(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill(child);
  }, options.timeoutMs);
  try {
    const out = await child.output();
    const text = new TextDecoder();
    return {
      wallMs: performance.now() - start,
      code: timedOut ? -1 : out.code,
      stdout: text.decode(out.stdout),
      stderr: timedOut ? `timed out after ${options.timeoutMs} ms` : text.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
    children.delete(child);
  }
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The executable `tool` on `PATH`, if any. */
export function which(tool: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    const path = `${dir}/${tool}`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}
