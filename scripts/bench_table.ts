/**
 * The side-by-side table of issue 15: pystack (source, bundle, executable)
 * against gdb, eu-stack, Bloomberg PyStack and py-spy, on the 4-thread,
 * 30-frame fixture under Debian's `/usr/bin/python3.11`, all measured in the
 * same run (round-robin, medians of the timed runs after one warm-up).
 *
 * Rows: `deno run` of an empty file (the floor of any Deno tool), `--version`,
 * `remote PID`, `core CORE` (a gcore of the fixture), `remote PID --native`,
 * `core CORE --native`. Columns, each left out with a note saying why when its
 * tool is absent:
 *
 * - pystack: `deno run -A src/main.ts`, `deno run -A dist/pystack.js` (when
 *   built: `deno task bundle`), `dist/pystack` (when built: `deno task compile`);
 *   with `--baseline DIR`, the same builds of another checkout (before/after);
 * - gdb: `thread apply all py-bt` (Python rows), `thread apply all bt` (native rows);
 * - eu-stack: `eu-stack -p PID`, `eu-stack --core CORE -e PYTHON` (native rows);
 * - Bloomberg PyStack: the executable `PYSTACK_PEER` names (`remote`, `core`, `--native`);
 * - py-spy: `py-spy dump --pid PID` / `--core CORE`, `--native`, when one is on `PATH`.
 *
 * Each output is checked (the fixture's frames are in it) before its time
 * counts; a command that fails says so in its cell. Nothing is installed.
 *
 * Usage: `deno run -A scripts/bench_table.ts [--runs N] [--baseline DIR]`
 * (also printed by `deno task bench`).
 *
 * @module
 */

import { BENCH_PYTHON, BENCH_SHAPE, startBenchFixture } from "./bench_fixture.ts";
import { pathExists } from "../src/fs_checks.ts";
import { children, kill, median, type Outcome, runTimed, which } from "./bench_runs.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const PYTHON = BENCH_PYTHON;
const DENO = Deno.execPath();
const SHAPE = BENCH_SHAPE;
/** Tracebacks pystack prints for the fixture: its threads, the main thread and the ticker. */
const THREADS = SHAPE.threads + 2;
/** Python frames of the workers (the main thread recurses in main_recurse). */
const PY_FRAMES = SHAPE.threads * SHAPE.depth;
const TIMEOUT_MS = 60_000;

/** The column of Bloomberg PyStack (`PYSTACK_PEER`). */
const PEER_COLUMN = "Bloomberg PyStack";

/** The rows, in the order. */
export const ROWS = ["floor", "version", "remote", "core", "remote-native", "core-native"] as const;
type Row = typeof ROWS[number];

const ROW_LABELS: Record<Row, string> = {
  floor: "`deno run` of an empty file (the floor)",
  version: "`--version`",
  remote: "`remote`",
  core: "`core`",
  "remote-native": "`remote --native`",
  "core-native": "`core --native`",
};

/** One cell: a command to time, or why there is none. */
export type Cell =
  | { cmd: string[]; check: (out: Outcome) => string | undefined }
  | { note: string };

/** One column: a tool (or a build of pystack) and its cell for each row. */
export interface Column {
  name: string;
  cells: Partial<Record<Row, Cell>>;
}

/** Options of {@linkcode sideBySideTable}. */
export interface TableOptions {
  /** Timed runs per command (after one warm-up). */
  runs: number;
  /** Another checkout whose builds get columns of their own (before/after). */
  baseline?: string;
  /** Progress messages. */
  log?: (message: string) => void;
}

function firstLine(out: Outcome): string {
  return (out.stderr.trim() || out.stdout.trim()).split("\n")[0]!.slice(0, 120);
}

/** A check: exit 0 (unless `anyCode`) and at least `count` matches of `pattern`. */
function expect(pattern: RegExp, count: number, anyCode = false) {
  return (out: Outcome): string | undefined => {
    if (out.code !== 0 && !anyCode) return `exit ${out.code}: ${firstLine(out)}`;
    const found = (out.stdout + out.stderr).match(pattern)?.length ?? 0;
    return found >= count ? undefined : `${found} matches of ${pattern}, expected ${count}`;
  };
}

/** pystack's (and Bloomberg PyStack's) output: every thread, every frame, native ones too. */
function pystackCheck(native: boolean) {
  return (out: Outcome): string | undefined =>
    expect(/^Traceback for thread/gm, THREADS)(out) ??
      expect(/in bench_recurse/g, PY_FRAMES)(out) ??
      (native ? expect(/\(C\) File/g, THREADS)(out) : undefined);
}

const VERSION_CHECK = expect(/\d+\.\d+/g, 1);

/** The columns of one pystack checkout (`root`): source, and the builds found in it. */
function pystackColumns(root: string, label: string, pid: number, core: string): Column[] {
  const builds: { name: string; cmd: string[]; missing?: string }[] = [
    { name: `${label} (source)`, cmd: [DENO, "run", "-A", `${root}src/main.ts`] },
    pathExists(`${root}dist/pystack.js`)
      ? { name: `${label} (bundle)`, cmd: [DENO, "run", "-A", `${root}dist/pystack.js`] }
      : { name: `${label} (bundle)`, cmd: [], missing: "not built (deno task bundle)" },
    pathExists(`${root}dist/pystack`)
      ? { name: `${label} (executable)`, cmd: [`${root}dist/pystack`] }
      : {
        name: `${label} (executable)`,
        cmd: [],
        missing: "not built (deno task compile, with DENORT_BIN set)",
      },
  ];
  return builds.map((b): Column => {
    if (b.missing !== undefined) return { name: b.name, cells: { version: { note: b.missing } } };
    return {
      name: b.name,
      cells: {
        version: { cmd: [...b.cmd, "--version"], check: VERSION_CHECK },
        remote: { cmd: [...b.cmd, "remote", String(pid)], check: pystackCheck(false) },
        core: { cmd: [...b.cmd, "core", core], check: pystackCheck(false) },
        "remote-native": {
          cmd: [...b.cmd, "remote", String(pid), "--native"],
          check: pystackCheck(true),
        },
        "core-native": { cmd: [...b.cmd, "core", core, "--native"], check: pystackCheck(true) },
      },
    };
  });
}

/** Every column of the table; tools that are absent get a note instead of cells. */
function columns(pid: number, core: string, options: TableOptions, empty: string): Column[] {
  const out: Column[] = [];
  const ours = pystackColumns(ROOT, "pystack", pid, core);
  ours[0]!.cells.floor = { cmd: [DENO, "run", "-A", empty], check: expect(/^/g, 1) };
  out.push(...ours);
  if (options.baseline !== undefined) {
    const root = options.baseline.replace(/\/?$/, "/");
    out.push(
      ...pystackColumns(root, "baseline", pid, core).filter((c) => !("note" in c.cells.version!)),
    );
  }

  const gdb = which("gdb");
  if (gdb === undefined) {
    out.push({ name: "gdb", cells: { remote: { note: "gdb is not installed" } } });
  } else {
    const live = (command: string) => [gdb, "-batch", "-p", String(pid), "-ex", command, PYTHON];
    const dead = (command: string) => [gdb, "-batch", "-ex", command, PYTHON, core];
    const pyBt = expect(/in bench_recurse/g, PY_FRAMES);
    const bt = expect(/^Thread \d+ /gm, THREADS);
    out.push({
      name: "gdb (py-bt; bt for native)",
      cells: {
        remote: { cmd: live("thread apply all py-bt"), check: pyBt },
        core: { cmd: dead("thread apply all py-bt"), check: pyBt },
        "remote-native": { cmd: live("thread apply all bt"), check: bt },
        "core-native": { cmd: dead("thread apply all bt"), check: bt },
      },
    });
  }

  const euStack = which("eu-stack");
  const euCheck = expect(/^TID \d+/gm, THREADS, true); // exits 1 when a frame is unreadable
  out.push(
    euStack === undefined
      ? { name: "eu-stack", cells: { "remote-native": { note: "eu-stack is not installed" } } }
      : {
        name: "eu-stack",
        cells: {
          "remote-native": { cmd: [euStack, "-p", String(pid)], check: euCheck },
          "core-native": { cmd: [euStack, "--core", core, "-e", PYTHON], check: euCheck },
        },
      },
  );

  const peer = Deno.env.get("PYSTACK_PEER");
  if (peer === undefined || peer === "") {
    out.push({
      name: PEER_COLUMN,
      cells: { remote: { note: "PYSTACK_PEER does not name its executable" } },
    });
  } else if (!pathExists(peer) && which(peer) === undefined) {
    out.push({
      name: PEER_COLUMN,
      cells: { remote: { note: `PYSTACK_PEER=${peer} is not an executable here` } },
    });
  } else {
    out.push({
      name: PEER_COLUMN,
      cells: {
        version: { cmd: [peer, "--version"], check: VERSION_CHECK },
        remote: { cmd: [peer, "remote", String(pid)], check: pystackCheck(false) },
        core: { cmd: [peer, "core", core, PYTHON], check: pystackCheck(false) },
        "remote-native": {
          cmd: [peer, "remote", String(pid), "--native"],
          check: pystackCheck(true),
        },
        "core-native": { cmd: [peer, "core", core, PYTHON, "--native"], check: pystackCheck(true) },
      },
    });
  }

  const pySpy = which("py-spy");
  const spyCheck = expect(/in bench_recurse|bench_recurse \(/g, PY_FRAMES);
  const spyNative = expect(/^Thread \d+/gm, THREADS);
  out.push(
    pySpy === undefined
      ? { name: "py-spy `dump`", cells: { remote: { note: "py-spy is not on PATH" } } }
      : {
        name: "py-spy `dump`",
        cells: {
          version: { cmd: [pySpy, "--version"], check: VERSION_CHECK },
          remote: { cmd: [pySpy, "dump", "--pid", String(pid)], check: spyCheck },
          core: { cmd: [pySpy, "dump", "--core", core], check: spyCheck },
          "remote-native": {
            cmd: [pySpy, "dump", "--native", "--pid", String(pid)],
            check: spyNative,
          },
          "core-native": { cmd: [pySpy, "dump", "--native", "--core", core], check: spyNative },
        },
      },
  );
  return out;
}

/** A measured cell: the median and range of its runs, or why there is no figure. */
export type Figure = { medianMs: number; minMs: number; maxMs: number; runs: number } | {
  problem: string;
};

/**
 * Measures every cell and returns the table as Markdown lines, with notes
 * saying where each figure comes from and why a column or cell is empty.
 */
export async function sideBySideTable(options: TableOptions): Promise<string[]> {
  const log = options.log ?? (() => {});
  if (!pathExists(PYTHON)) return [`side-by-side table: not measured: ${PYTHON} is missing`];
  const dir = await Deno.makeTempDir({ prefix: "pystack-bench-table-" });
  let fixture: Deno.ChildProcess | undefined;
  try {
    const empty = `${dir}/empty.ts`;
    Deno.writeTextFileSync(empty, "");
    fixture = await startBenchFixture(dir);
    const pid = fixture.pid;
    let core = `${dir}/core.${pid}`;
    const gcore = which("gcore");
    const made = gcore === undefined
      ? undefined
      : await runTimed([gcore, "-o", `${dir}/core`, String(pid)], {
        cwd: "/",
        timeoutMs: TIMEOUT_MS,
      });
    const coreProblem = gcore === undefined
      ? "gcore is not installed (apt-get install gdb): no core rows"
      : made!.code !== 0 || !pathExists(core)
      ? `gcore failed: ${firstLine(made!)}`
      : undefined;
    if (coreProblem !== undefined) core = "";
    const table = columns(pid, core, options, empty);
    if (coreProblem !== undefined) {
      for (const column of table) {
        for (const row of ["core", "core-native"] as const) {
          if (column.cells[row] !== undefined) column.cells[row] = { note: coreProblem };
        }
      }
    }
    const timed = table.flatMap((column) =>
      ROWS.flatMap((row) => {
        const cell = column.cells[row];
        return cell !== undefined && "cmd" in cell ? [{ column, row, cell }] : [];
      })
    );
    log(`side-by-side table: ${timed.length} commands x ${options.runs} runs (pid ${pid})`);
    const walls = new Map(timed.map((t) => [t, [] as number[]]));
    const problems = new Map<typeof timed[number], string>();
    for (let round = 0; round <= options.runs; round++) {
      for (const t of timed) {
        if (problems.has(t)) continue;
        const out = await runTimed(t.cell.cmd, { cwd: "/", timeoutMs: TIMEOUT_MS });
        const problem = t.cell.check(out);
        if (problem !== undefined) {
          problems.set(t, problem);
          continue;
        }
        if (round > 0) walls.get(t)!.push(out.wallMs);
      }
    }
    const figure = (t: typeof timed[number]): Figure => {
      const problem = problems.get(t);
      if (problem !== undefined) return { problem };
      const w = walls.get(t)!;
      return { medianMs: median(w), minMs: Math.min(...w), maxMs: Math.max(...w), runs: w.length };
    };
    const figures = new Map(timed.map((t) => [`${t.column.name}\0${t.row}`, figure(t)]));
    return renderTable(table, figures, { runs: options.runs, coreProblem });
  } finally {
    if (fixture !== undefined) {
      kill(fixture);
      await fixture.status;
      children.delete(fixture);
    }
    for (const child of children) kill(child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The table as Markdown lines, then a line on how it was measured and one
 * note per column or cell without a figure. `figures` are keyed by column
 * name and row, joined by a NUL character; a column whose cells are all
 * notes is left out of the table and named in a note.
 */
export function renderTable(
  table: readonly Column[],
  figures: ReadonlyMap<string, Figure>,
  { runs, coreProblem }: { runs: number; coreProblem?: string | undefined },
): string[] {
  const notes: string[] = [];
  const shown = table.filter((c) =>
    ROWS.some((row) => {
      const cell = c.cells[row];
      return cell !== undefined && "cmd" in cell;
    })
  );
  for (const c of table) {
    if (shown.includes(c)) continue;
    const note = Object.values(c.cells).find((cell) => cell !== undefined && "note" in cell);
    notes.push(
      `${c.name}: not measured: ${note !== undefined && "note" in note ? note.note : "?"}`,
    );
  }
  const lines = [
    `| command (${SHAPE.threads} threads x ${SHAPE.depth} frames, Debian python3.11) | ${
      shown.map((c) => c.name).join(" | ")
    } |`,
    `|---|${shown.map(() => "---").join("|")}|`,
  ];
  for (const row of ROWS) {
    const cells = shown.map((c) => {
      const cell = c.cells[row];
      if (cell === undefined) return "";
      if ("note" in cell) return cell.note === coreProblem ? "n/a" : "";
      const f = figures.get(`${c.name}\0${row}`)!;
      if ("problem" in f) {
        notes.push(`${c.name}, ${ROW_LABELS[row]}: no figure: ${f.problem}`);
        return "fails (see notes)";
      }
      return `${f.medianMs.toFixed(0)} ms (${f.minMs.toFixed(0)}-${f.maxMs.toFixed(0)})`;
    });
    lines.push(`| ${ROW_LABELS[row]} | ${cells.join(" | ")} |`);
  }
  lines.push("");
  lines.push(
    `Medians of ${runs} runs after one warm-up (min-max in brackets), wall time spawn to exit, ` +
      "every command in turn (round-robin) in the same run; native rows of gdb are " +
      "`thread apply all bt`, of eu-stack `eu-stack -p PID` / `--core CORE -e PYTHON`.",
  );
  lines.push(...goalLines(shown, figures));
  if (coreProblem !== undefined) notes.push(`core rows: ${coreProblem}`);
  for (const n of notes) lines.push(`- ${n}`);
  return lines;
}

/** Issue 15's goal: `--native`, live and core, at most this share of Bloomberg PyStack's time. */
const PEER_GOAL = 0.4;

/**
 * pystack's share of Bloomberg PyStack's time on the native rows (the bundle's
 * figure, else the source's), against the goal; nothing without PyStack's figures.
 */
function goalLines(shown: readonly Column[], figures: ReadonlyMap<string, Figure>): string[] {
  const median = (column: string, row: Row) => {
    const f = figures.get(`${column}\0${row}`);
    return f === undefined || "problem" in f ? undefined : f.medianMs;
  };
  const ours = ["pystack (bundle)", "pystack (source)"].find((name) =>
    shown.some((c) => c.name === name)
  );
  const out: string[] = [];
  for (const row of ["remote-native", "core-native"] as const) {
    const mine = ours === undefined ? undefined : median(ours, row);
    const theirs = median(PEER_COLUMN, row);
    if (mine === undefined || theirs === undefined) continue;
    const share = mine / theirs;
    out.push(
      `${ROW_LABELS[row]}: ${ours} / ${PEER_COLUMN} = ${share.toFixed(2)} (goal <= ${PEER_GOAL}: ${
        share <= PEER_GOAL ? "met" : "MISSED"
      })`,
    );
  }
  return out;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i < 0 ? undefined : args[i + 1];
  };
  const runs = Number(value("--runs") ?? 7);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`bench_table: invalid --runs '${value("--runs")}'`);
    Deno.exit(2);
  }
  const baseline = value("--baseline");
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      for (const child of children) kill(child);
      Deno.exit(130);
    });
  }
  try {
    const lines = await sideBySideTable({
      runs,
      ...(baseline === undefined ? {} : { baseline }),
      log: (m) => console.error(m),
    });
    console.log(lines.join("\n"));
  } catch (error) {
    console.error(`bench_table: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(2);
  }
}
