#!/usr/bin/env -S deno run -A
/**
 * Triage of hung Python processes, with the pystack library.
 *
 * Usage: `scripts/triage.ts NAME [--interval MS]`
 *
 * Finds every Python process whose command line contains NAME, reads the
 * stacks of each twice, `--interval` apart (default 200 ms), and prints a
 * short report per process: its threads grouped by identical stacks, what
 * each group is doing (`lock`: acquiring a lock; `wait`: a condition, event,
 * join or queue; `sleep`; `io`; `running`: holds the GIL; `other`), where
 * (the innermost frame, and the innermost frame of the program's own code
 * when that is in the standard library), and a verdict:
 *
 * - `STUCK (possible deadlock)`: two threads or more wait for locks, and
 *   none of them moved between the two reads;
 * - `STUCK`: no thread moved or held the GIL, and some wait for a lock,
 *   condition, event, join or queue;
 * - `RUNNING`: some thread holds the GIL or moved;
 * - `IDLE`: every thread sleeps or waits for I/O.
 *
 * Exit code: 0 when no process looks stuck, 1 when one does, 2 when no
 * Python process matches (or on a bad command line).
 *
 * @module
 */

import $ from "dax";
import { parseArgs } from "node:util";
import {
  inspectProcess,
  NotPythonError,
  type PyFrame,
  PystackError,
  type PyThread,
} from "../mod.ts";

/** What a thread is doing, from its innermost frames. */
type Activity = "lock" | "wait" | "sleep" | "io" | "running" | "other";

/** Threads whose stacks are identical. */
interface Group {
  activity: Activity;
  threads: PyThread[];
  /** Whether any of them moved between the two reads. */
  moved: boolean;
}

/** One process, read twice. */
interface Triage {
  pid: number;
  commandLine: string;
  pythonVersion: string;
  groups: Group[];
  verdict: string;
  stuck: boolean;
}

const STDLIB_WAITS = new Set([
  "wait",
  "wait_for",
  "join",
  "_wait_for_tstate_lock",
  "get",
  "put",
  "result",
  "_wait",
]);
const LOCK_LINE = /\.acquire\(|^with\s+[\w.\[\]]*(lock|mutex|sem)\w*\s*(as\s+\w+\s*)?:/i;
const SLEEP_LINE = /\bsleep\(/;
const IO_LINE = /\b(select|poll|epoll|accept|recv\w*|read\w*|connect|sendall|communicate)\(/;

function usage(message: string): never {
  $.logError("triage:", message);
  console.error("usage: scripts/triage.ts NAME [--interval MS]");
  Deno.exit(2);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      options: { interval: { type: "string", default: "200" } },
      allowPositionals: true,
    });
  } catch (e) {
    usage((e as Error).message.split("\n")[0]!);
  }
})();
const name = positionals[0];
if (name === undefined || positionals.length > 1) usage("expected one NAME");
const intervalMs = Number(values.interval);
if (!Number.isFinite(intervalMs) || intervalMs < 0) usage(`bad --interval ${values.interval}`);

/** PIDs whose command line contains `needle`, with that command line; not this process. */
function matchingProcesses(needle: string): { pid: number; commandLine: string }[] {
  const found: { pid: number; commandLine: string }[] = [];
  for (const entry of $.path("/proc").readDirSync()) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    let commandLine: string;
    try {
      commandLine = $.path(`/proc/${pid}/cmdline`).readTextSync().replace(/\0+$/, "")
        .replaceAll("\0", " ");
    } catch {
      continue; // gone meanwhile
    }
    if (commandLine.includes(needle)) found.push({ pid, commandLine });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

const sources = new Map<string, string[] | undefined>();

/** Line `line` of `file` as process `pid` sees it, stripped; undefined when unreadable. */
function sourceLine(pid: number, file: string, line: number | undefined): string | undefined {
  if (line === undefined || line < 1 || !file.startsWith("/")) return undefined;
  const path = `/proc/${pid}/root${file}`;
  if (!sources.has(path)) {
    try {
      sources.set(path, $.path(path).readTextSync().split(/\r?\n/));
    } catch {
      sources.set(path, undefined);
    }
  }
  return sources.get(path)?.[line - 1]?.trim();
}

function isStdlib(frame: PyFrame): boolean {
  return /\/lib\/python[\d.]+t?\//.test(frame.file) && !/\/(site|dist)-packages\//.test(frame.file);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Holds the GIL, or, in a free-threaded build, has its thread state attached. */
function runsPython(thread: PyThread): boolean {
  return thread.holdsGil === true || thread.threadState === "attached";
}

function activityOf(pid: number, thread: PyThread): Activity {
  const innermost = thread.frames.at(-1);
  if (innermost === undefined) return runsPython(thread) ? "running" : "other";
  const line = sourceLine(pid, innermost.file, innermost.location.line) ?? "";
  if (isStdlib(innermost) && STDLIB_WAITS.has(innermost.function)) return "wait";
  if (LOCK_LINE.test(line) || innermost.function === "acquire") return "lock";
  if (SLEEP_LINE.test(line)) return "sleep";
  if (IO_LINE.test(line)) return "io";
  if (runsPython(thread)) return "running";
  return "other";
}

/** The stack as one string: frames with their lines, oldest first. */
function stackKey(thread: PyThread): string {
  return thread.frames.map((f) => `${f.file}:${f.location.line}:${f.function}`).join("\n");
}

/** `file:line in function`, plus the program's own innermost frame when the innermost is stdlib. */
function where(pid: number, thread: PyThread): string {
  const innermost = thread.frames.at(-1);
  if (innermost === undefined) return "no Python frame";
  const at = (f: PyFrame) => `${basename(f.file)}:${f.location.line} in ${f.function}`;
  const line = sourceLine(pid, innermost.file, innermost.location.line);
  let text = `at ${at(innermost)}${line === undefined ? "" : `: ${line}`}`;
  if (isStdlib(innermost)) {
    const own = thread.frames.findLast((f) => !isStdlib(f));
    if (own !== undefined) {
      const ownLine = sourceLine(pid, own.file, own.location.line);
      text += `  <- ${at(own)}${ownLine === undefined ? "" : `: ${ownLine}`}`;
    }
  }
  return text;
}

function triage(pid: number, commandLine: string): Triage {
  const first = inspectProcess(pid);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, intervalMs);
  const second = inspectProcess(pid);
  const before = new Map(first.threads.map((t) => [t.tid, stackKey(t)]));
  const heldGil = new Set(first.threads.filter(runsPython).map((t) => t.tid));
  const groups = new Map<string, Group>();
  for (const thread of second.threads) {
    const key = stackKey(thread);
    const moved = before.get(thread.tid) !== key;
    const activity = activityOf(pid, thread);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { activity, threads: [thread], moved });
    else {
      group.threads.push(thread);
      group.moved ||= moved;
    }
  }
  const all = [...groups.values()];
  const count = (a: Activity) =>
    all.filter((g) => g.activity === a && !g.moved).reduce((n, g) => n + g.threads.length, 0);
  const running = all.some((g) => g.moved || g.threads.some(runsPython)) ||
    second.threads.some((t) => heldGil.has(t.tid));
  const locked = count("lock");
  const waiting = count("wait");
  let verdict: string;
  let stuck = false;
  if (locked >= 2) {
    verdict = `STUCK (possible deadlock): ${locked} threads wait for locks and none moved ` +
      `in ${intervalMs} ms`;
    stuck = true;
  } else if (!running && locked + waiting > 0) {
    verdict = `STUCK: no thread ran in ${intervalMs} ms; ${locked + waiting} wait for a lock, ` +
      "condition, event, join or queue";
    stuck = true;
  } else if (running) {
    verdict = "RUNNING";
  } else {
    verdict = "IDLE: every thread sleeps or waits for I/O";
  }
  // Stuck threads first, then by size.
  const order: Activity[] = ["lock", "wait", "running", "io", "sleep", "other"];
  all.sort((a, b) =>
    order.indexOf(a.activity) - order.indexOf(b.activity) || b.threads.length - a.threads.length
  );
  return {
    pid,
    commandLine,
    pythonVersion: second.pythonVersion,
    groups: all,
    verdict,
    stuck,
  };
}

function report(t: Triage): string[] {
  const threads = t.groups.reduce((n, g) => n + g.threads.length, 0);
  const lines = [
    `PID ${t.pid}  ${t.commandLine}`,
    `  Python ${t.pythonVersion}, ${threads} thread${threads === 1 ? "" : "s"}: ${t.verdict}`,
  ];
  for (const g of t.groups) {
    const who = g.threads.map((th) => `${th.name ?? "?"} (${th.tid})`).join(", ");
    const n = g.threads.length;
    const same = n > 1 ? ", identical stacks" : "";
    const moved = g.moved ? ", moved" : "";
    lines.push(`  - ${n} thread${n === 1 ? "" : "s"} [${g.activity}${same}${moved}] ${who}`);
    lines.push(`      ${where(t.pid, g.threads[0]!)}`);
  }
  return lines;
}

const candidates = matchingProcesses(name);
const results: Triage[] = [];
let notPython = 0;
for (const { pid, commandLine } of candidates) {
  try {
    results.push(triage(pid, commandLine));
  } catch (e) {
    if (e instanceof NotPythonError) notPython++;
    else if (e instanceof PystackError) $.logWarn("triage:", `PID ${pid}: ${e.message}`);
    else throw e;
  }
}

if (results.length === 0) {
  $.logError(
    "triage:",
    `no Python process matches '${name}'` +
      (notPython > 0 ? ` (${notPython} other process${notPython === 1 ? "" : "es"} do)` : ""),
  );
  Deno.exit(2);
}
const stuck = results.filter((r) => r.stuck).length;
const out = [
  `${results.length} Python ${results.length === 1 ? "process matches" : "processes match"} ` +
  `'${name}'` +
  (stuck > 0 ? `; ${stuck} look${stuck === 1 ? "s" : ""} stuck` : "; none looks stuck"),
];
for (const r of results) out.push("", ...report(r));
console.log(out.join("\n"));
Deno.exit(stuck > 0 ? 1 : 0);
