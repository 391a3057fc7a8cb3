/**
 * `--timeout`'s hard backstop. The walk and the FFI calls are synchronous:
 * when the main thread is stuck inside one of them (a read that never
 * returns), no check of the deadline can run. A worker thread, started only
 * with `--timeout`, then ends the whole process at the deadline plus a short
 * grace: it writes one line on stderr (and the JSON error document on stdout
 * under `--json`) and calls libc's `_exit`. The kernel detaches every thread
 * pystack held as it exits (they were stopped with `PTRACE_INTERRUPT`, not
 * with a signal), so the target runs on.
 *
 * @module
 */

/** What the backstop prints and exits with. */
export interface BackstopOptions {
  /** When to end the process, in milliseconds since the epoch. */
  atEpochMs: number;
  /** The exit code. */
  code: number;
  /** The line written on stderr (a newline is added). */
  stderrLine: string;
  /** Lines written on stdout first (`--json`: the error document). */
  stdoutLines?: readonly string[];
  /** Called when the backstop cannot work (libc's `_exit` cannot be loaded), with why. */
  onUnavailable?: (reason: string) => void;
}

/**
 * The worker's source: a classic script (no imports: it is started from a blob URL, so that
 * the bundle and the compiled executable need no file beside them). It opens libc at once,
 * so that nothing is left to load when the time comes.
 */
const WORKER_SOURCE = `
self.onmessage = (event) => {
  const { atEpochMs, code, stderrText, stdoutText } = event.data;
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", { _exit: { parameters: ["i32"], result: "void" } });
  } catch (e) {
    self.postMessage({ unavailable: e instanceof Error ? e.message : String(e) });
    return;
  }
  const encoder = new TextEncoder();
  const writeAll = (file, text) => {
    try {
      const bytes = encoder.encode(text);
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
    } catch {
      // a closed stream: the exit code still tells
    }
  };
  const exitNow = () => {
    if (stdoutText !== "") writeAll(Deno.stdout, stdoutText);
    writeAll(Deno.stderr, stderrText);
    libc.symbols._exit(code);
  };
  setTimeout(exitNow, Math.max(0, atEpochMs - Date.now()));
};
`;

/**
 * Starts the backstop; disposing of it (the run ended in time) stops the worker.
 *
 * @example
 * ```ts ignore
 * using _ = startBackstop({ atEpochMs: Date.now() + 1500, code: 10, stderrLine: "timed out" });
 * ```
 */
export function startBackstop(options: BackstopOptions): Disposable {
  const url = URL.createObjectURL(
    new Blob([WORKER_SOURCE], { type: "application/javascript" }),
  );
  const worker = new Worker(url, { type: "module" });
  worker.onmessage = (event: MessageEvent<{ unavailable: string }>) => {
    options.onUnavailable?.(event.data.unavailable);
  };
  // Whatever goes wrong in the worker must not end the run it guards.
  worker.onerror = (event) => {
    event.preventDefault();
    options.onUnavailable?.(event.message);
  };
  const stdout = options.stdoutLines ?? [];
  worker.postMessage({
    atEpochMs: options.atEpochMs,
    code: options.code,
    stderrText: `${options.stderrLine}\n`,
    stdoutText: stdout.length === 0 ? "" : `${stdout.join("\n")}\n`,
  });
  return { [Symbol.dispose]: () => worker.terminate() };
}
