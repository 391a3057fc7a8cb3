import assert from "node:assert/strict";
import type { PyFrame } from "../../model.ts";
import { pythonWaitOf } from "./python_waits.ts";

function f(file: string, fn: string): PyFrame {
  return {
    file,
    function: fn,
    isEntry: false,
    frameAddress: 0n,
    codeAddress: 0n,
    location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
  };
}
const T = "/usr/lib/python3.12/threading.py";

Deno.test("pythonWaitOf() tells Event, Condition, Semaphore and queue waits", () => {
  assert.deepEqual(pythonWaitOf([f("/a.py", "w"), f(T, "wait"), f(T, "wait")]), {
    kind: "condition",
    what: "Event.wait()",
    frame: 1,
  });
  assert.deepEqual(pythonWaitOf([f("/a.py", "w"), f(T, "wait")]), {
    kind: "condition",
    what: "Condition.wait() (waiting for notify())",
    frame: 1,
  });
  assert.equal(
    (pythonWaitOf([f("/a.py", "w"), f("/usr/lib/python3.8/queue.py", "put"), f(T, "wait")]) as {
      what: string;
    }).what,
    "queue.Queue.put() (waiting for room)",
  );
  assert.equal(
    (pythonWaitOf([f("/a.py", "w"), f("/usr/lib/python2.7/Queue.py", "get"), f(T, "wait")]) as {
      what: string;
    }).what,
    "queue.Queue.get() (waiting for an item)",
  );
  assert.equal(
    (pythonWaitOf([f("/a.py", "w"), f(T, "acquire"), f(T, "wait")]) as { what: string }).what,
    "Semaphore.acquire()",
  );
});

Deno.test("pythonWaitOf() tells joins, import locks and futures, with the frame of self", () => {
  assert.deepEqual(
    pythonWaitOf([f("/a.py", "main"), f(T, "join"), f(T, "_wait_for_tstate_lock")]),
    {
      kind: "thread_join",
      frame: 1,
    },
  );
  const imp = "<frozen importlib._bootstrap>";
  assert.deepEqual(
    pythonWaitOf([
      f("/a.py", "w"),
      f(imp, "_find_and_load"),
      f(imp, "__enter__"),
      f(imp, "acquire"),
    ]),
    { kind: "import_lock", frame: 3 },
  );
  const base = "/usr/lib/python3.12/concurrent/futures/_base.py";
  assert.deepEqual(pythonWaitOf([f("/a.py", "t"), f(base, "result"), f(T, "wait")]), {
    kind: "future",
    frame: 1,
  });
});

Deno.test("pythonWaitOf() says nothing for frames outside the standard library's waits", () => {
  assert.equal(pythonWaitOf([f("/a.py", "main"), f("/a.py", "work")]), undefined);
  assert.equal(pythonWaitOf([]), undefined);
});
