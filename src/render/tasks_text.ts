/**
 * `--tasks` as text: per thread running an event loop, the tree of its tasks as
 * `python -m asyncio pstree` draws it (3.14+): each task `(T) NAME`, under it the coroutines of
 * its stack that lead to the tasks it awaits, outermost first, one `function FILE:LINE` each;
 * a task that awaits no task shows its own stack, and what its innermost coroutine waits on.
 * A task awaited through a cycle is drawn once and marked, never followed again.
 *
 * @module
 */

import type { AsyncTask, TaskFrame } from "../model.ts";

interface Node {
  label: string;
  children: Node[];
  /** Coroutine children by label, to share the frames two awaits have in common. */
  byLabel: Map<string, Node>;
  task?: AsyncTask;
}

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

function frameLabel(f: TaskFrame): string {
  return ` ${f.function} ${f.file}:${f.line}`;
}

function taskLabel(t: AsyncTask): string {
  const notes = [
    ...(t.current ? ["running"] : []),
    ...(t.partial === undefined ? [] : [`(!) incomplete: ${t.partial}`]),
  ];
  return `(T) ${t.name}${notes.length === 0 ? "" : ` [${notes.join("; ")}]`}`;
}

function newNode(label: string, task?: AsyncTask): Node {
  return { label, children: [], byLabel: new Map(), ...(task === undefined ? {} : { task }) };
}

/** The coroutine node for `frame` under `parent`, made once. */
function coroutineNode(parent: Node, label: string): Node {
  let node = parent.byLabel.get(label);
  if (node === undefined) {
    node = newNode(label);
    parent.byLabel.set(label, node);
    parent.children.push(node);
  }
  return node;
}

/**
 * The text lines of `tasks`, after a blank line: one section per thread (in thread id order,
 * tasks of no known thread last), each a forest of task trees.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskTreeLines } from "./tasks_text.ts";
 * const frame = (fn: string, line: number) => ({ function: fn, file: "/app.py", line });
 * const lines = taskTreeLines([
 *   { id: 1n, name: "Task-1", state: "pending", thread: 7, current: false, awaitedBy: [],
 *     coroutineStack: [frame("main", 9)] },
 *   { id: 2n, name: "child", state: "pending", thread: 7, current: false, awaitedBy: [1n],
 *     coroutineStack: [frame("work", 3)] },
 * ]);
 * assert.deepEqual(lines, [
 *   "",
 *   "Asyncio tasks of the event loop in thread 7:",
 *   "└── (T) Task-1",
 *   "    └──  main /app.py:9",
 *   "        └── (T) child",
 *   "            └──  work /app.py:3",
 * ]);
 * ```
 */
export function taskTreeLines(tasks: readonly AsyncTask[]): string[] {
  if (tasks.length === 0) return ["", "No asyncio tasks."];
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const nodes = new Map(tasks.map((t) => [t.id, newNode(taskLabel(t), t)]));
  const awaiting = new Set<bigint>();
  const isChild = new Set<bigint>();
  for (const child of tasks) {
    for (const parentId of child.awaitedBy) {
      const parent = byId.get(parentId);
      if (parent === undefined || parentId === child.id) continue;
      awaiting.add(parentId);
      isChild.add(child.id);
      let cur = nodes.get(parentId)!;
      for (const f of parent.coroutineStack) cur = coroutineNode(cur, frameLabel(f));
      const childNode = nodes.get(child.id)!;
      if (!cur.children.includes(childNode)) cur.children.push(childNode);
    }
  }
  for (const t of tasks) {
    if (awaiting.has(t.id)) continue;
    let cur = nodes.get(t.id)!;
    t.coroutineStack.forEach((f, i) => {
      const last = i === t.coroutineStack.length - 1;
      const waits = last && t.awaiting !== undefined
        ? `  (awaits ${t.awaiting.type} at ${hex(t.awaiting.address)}${
          t.awaiting.sleepUntil === undefined
            ? ""
            : `: asyncio.sleep until loop time ${t.awaiting.sleepUntil}`
        }${
          t.awaiting.on === undefined
            ? ""
            : `: ${t.awaiting.on.what} at ${hex(t.awaiting.on.address)}`
        })`
        : "";
      cur = coroutineNode(cur, frameLabel(f) + waits);
    });
  }
  // Roots: tasks nobody awaits; then, for cycles (every task of one awaited), their first task.
  const drawn = new Set<bigint>();
  const sections = new Map<string, string[]>();
  const draw = (root: AsyncTask) => {
    const key = `${root.thread ?? ""}/${root.interpreterId ?? 0}`;
    const out = sections.get(key) ?? [];
    sections.set(key, out);
    render(nodes.get(root.id)!, "", true, new Set(), out, drawn);
  };
  for (const t of tasks) if (!isChild.has(t.id)) draw(t);
  for (const t of tasks) if (!drawn.has(t.id)) draw(t);
  const order = (key: string) => {
    const [thread, interpreter] = key.split("/");
    return [thread === "" ? Infinity : Number(thread), Number(interpreter)] as const;
  };
  const keys = [...sections.keys()].sort((a, b) => {
    const [ta, ia] = order(a);
    const [tb, ib] = order(b);
    return ta === tb ? ia - ib : ta < tb ? -1 : 1;
  });
  const lines: string[] = [];
  for (const key of keys) {
    const [thread, interpreter] = key.split("/");
    const of = interpreter === "0" ? "" : ` (interpreter ${interpreter})`;
    lines.push(
      "",
      thread === ""
        ? `Asyncio tasks of event loops no thread is running${of}:`
        : `Asyncio tasks of the event loop in thread ${thread}${of}:`,
      ...sections.get(key)!,
    );
  }
  return lines;
}

/** Deepest level of a tree drawn (a chain of tasks awaiting each other may be longer). */
export const MAX_TREE_DEPTH = 256;

/**
 * Draws `node` and its subtree; a task already on the path is a cycle: marked, not followed.
 * Below {@linkcode MAX_TREE_DEPTH} levels one line says how many tasks are left out.
 */
function render(
  node: Node,
  prefix: string,
  last: boolean,
  path: Set<Node>,
  out: string[],
  drawn: Set<bigint>,
): void {
  const branch = last ? "└── " : "├── ";
  if (path.has(node)) {
    out.push(`${prefix}${branch}${node.label} (cycle: it awaits a task that awaits it)`);
    return;
  }
  if (path.size >= MAX_TREE_DEPTH) {
    const below = countTasks(node, drawn);
    out.push(
      `${prefix}${branch}... (${below} more task${below === 1 ? "" : "s"} deeper, not drawn)`,
    );
    return;
  }
  out.push(`${prefix}${branch}${node.label}`);
  if (node.task !== undefined) drawn.add(node.task.id);
  const childPrefix = prefix + (last ? "    " : "│   ");
  path.add(node);
  node.children.forEach((child, i) => {
    render(child, childPrefix, i === node.children.length - 1, path, out, drawn);
  });
  path.delete(node);
}

/** Tasks in the subtree of `node` not drawn yet (each counted once; marked as drawn). */
function countTasks(node: Node, drawn: Set<bigint>): number {
  let count = 0;
  const stack = [node];
  const seen = new Set<Node>();
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.task !== undefined && !drawn.has(n.task.id)) {
      drawn.add(n.task.id);
      count++;
    }
    for (const child of n.children) stack.push(child);
  }
  return count;
}
