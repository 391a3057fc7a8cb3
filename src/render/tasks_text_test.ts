import assert from "node:assert/strict";
import { MAX_TREE_DEPTH, taskTreeLines } from "./tasks_text.ts";
import type { AsyncTask } from "../model.ts";

function task(id: bigint, name: string, awaitedBy: bigint[], more: Partial<AsyncTask> = {}) {
  return {
    id,
    name,
    state: "pending",
    current: false,
    awaitedBy,
    coroutineStack: [{ function: name.toLowerCase(), file: "/a.py", line: Number(id) }],
    ...more,
  } satisfies AsyncTask;
}

Deno.test("taskTreeLines() shares the parent's frames and marks the running task", () => {
  const lines = taskTreeLines([
    task(1n, "Main", [], { thread: 5, current: true }),
    task(2n, "A", [1n], { thread: 5 }),
    task(3n, "B", [1n], {
      thread: 5,
      awaiting: { type: "_asyncio.Future", address: 0xf0n },
    }),
  ]);
  assert.deepEqual(lines, [
    "",
    "Asyncio tasks of the event loop in thread 5:",
    "└── (T) Main [running]",
    "    └──  main /a.py:1",
    "        ├── (T) A",
    "        │   └──  a /a.py:2",
    "        └── (T) B",
    "            └──  b /a.py:3  (awaits _asyncio.Future at 0xf0)",
  ]);
});

Deno.test("taskTreeLines() draws a cycle once and marks it", () => {
  const lines = taskTreeLines([task(1n, "X", [2n]), task(2n, "Y", [1n])]);
  assert.deepEqual(lines, [
    "",
    "Asyncio tasks of event loops no thread is running:",
    "└── (T) X",
    "    └──  x /a.py:1",
    "        └── (T) Y",
    "            └──  y /a.py:2",
    "                └── (T) X (cycle: it awaits a task that awaits it)",
  ]);
});

Deno.test("taskTreeLines() says when there are no tasks, and marks incomplete ones", () => {
  assert.deepEqual(taskTreeLines([]), ["", "No asyncio tasks."]);
  const lines = taskTreeLines([task(1n, "???", [], { partial: "its name is unreadable" })]);
  assert.equal(lines[2], "└── (T) ??? [(!) incomplete: its name is unreadable]");
});

Deno.test("taskTreeLines() stops a very long chain of awaits, and says how much it left out", () => {
  const count = 100_000;
  const tasks = Array.from(
    { length: count },
    (_, i) => task(BigInt(i + 1), `T${i + 1}`, i === 0 ? [] : [BigInt(i)]),
  );
  const lines = taskTreeLines(tasks);
  // Each level is a task and its coroutine: half of the drawn levels are tasks.
  const drawnTasks = lines.filter((line) => line.includes("(T) ")).length;
  assert.equal(drawnTasks, MAX_TREE_DEPTH / 2);
  assert.match(
    lines.at(-1)!,
    new RegExp(`\\.\\.\\. \\(${count - drawnTasks} more tasks deeper, not drawn\\)$`),
  );
});
