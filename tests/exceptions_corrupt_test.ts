/**
 * Corrupt exception objects: a core of `fixtures/exceptions.py` with the
 * handled exceptions damaged in the core file (a wild type, a wild `args`, a
 * wild traceback, a wild `__context__`), on every 3.x interpreter. pystack
 * exits 0 and prints `<invalid …>` markers or less detail, never a stack
 * trace of its own.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FIXTURES_DIR, parseTraceback, registerTest, runPystack } from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import {
  checkNoStackTrace,
  type CoreMaker,
  elfLayout,
  makeCore,
  makerSkip,
  startCoreTarget,
} from "./_cores.ts";
import { selectRuntime } from "../src/cpython/runtime.ts";

const SCRIPT = FIXTURES_DIR + "exceptions.py";

interface JsonThread {
  tid: number;
  exception?: { type: string; address: string; message?: string };
}

/** Writes the little-endian u64 `value` at target address `address` of the core at `path`. */
function patchCore(path: string, address: bigint, value: bigint): void {
  const load = elfLayout(path).loads.find((l) =>
    l.vaddr <= address && address + 8n <= l.vaddr + BigInt(l.size)
  );
  assert.ok(load !== undefined, `0x${address.toString(16)} is in the core`);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  using file = Deno.openSync(path, { write: true });
  file.seekSync(load.offset + Number(address - load.vaddr), Deno.SeekMode.Start);
  assert.equal(file.writeSync(bytes), 8);
}

function skipFor(python: Python, maker: CoreMaker) {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  if (python.version[0] < 3) return { reason: "2.7 exceptions have no __context__ to damage" };
  return makerSkip(maker);
}

for (const python of await findPythons()) {
  const maker: CoreMaker = python.gcoreSkip === undefined ? "gcore" : "kernel-abrt";
  const name = `exceptions corrupt core python=${python.id} maker=${maker}`;
  registerTest(name, skipFor(python, maker), async () => {
    await using target = await startCoreTarget([python.path, "-S", SCRIPT, "{dir}/ready"], {
      readyFile: "ready",
    });
    const core = await makeCore(target, maker);
    const before = await runPystack(["core", core.path, "--json"]);
    assert.equal(before.code, 0, before.stderr);
    const threads = JSON.parse(before.stdout).threads as JsonThread[];
    const find = (message: string | undefined, type: string) => {
      const t = threads.find((t) => t.exception?.type === type && t.exception.message === message);
      assert.ok(t?.exception !== undefined, `the thread handling ${type}`);
      return { tid: t.tid, address: BigInt(t.exception.address) };
    };
    const value = find("bad input 42", "ValueError");
    const timeout = find("timed out", "TimeoutError");
    const app = find(undefined, "AppError");
    const runtime = find("propagating", "RuntimeError");
    const { structs } = selectRuntime({
      major: python.version[0],
      minor: python.version[1],
      micro: 0,
      releaseLevel: "final",
      serial: 0,
    }, { freeThreaded: python.freeThreaded === true }).layout;
    const fields = structs.exception!.fields;
    const at = (field: string) => BigInt(fields[field]!.offset);
    const obType = BigInt(structs.object!.fields["type"]!.offset); // 8, or 24 free-threaded
    patchCore(core.path, value.address + obType, 0x10n);
    patchCore(core.path, timeout.address + at("args"), 0x18n);
    patchCore(core.path, app.address + at("traceback"), 0x20n);
    patchCore(core.path, runtime.address + at("context"), 0x28n);

    const result = await runPystack(["core", core.path]);
    try {
      assert.equal(result.code, 0, "exit code");
      checkNoStackTrace(result.stderr);
      const lines = new Map(
        parseTraceback(result.stdout).map((t) => [t.tid, t.extra.filter((l) => l.trim() !== "")]),
      );
      const hex = (a: bigint) => `0x${a.toString(16)}`;
      // Before 3.11 the handler's slot also holds the type (`exc_type`), which names it.
      const named = python.version[1] <= 10 ? "ValueError " : "";
      assert.deepEqual(lines.get(value.tid), [
        `    Handling <invalid ${named}object at ${hex(value.address)}>`,
      ]);
      const timeoutLines = lines.get(timeout.tid)!;
      assert.match(
        timeoutLines[0]!,
        new RegExp(
          `^ {4}Handling TimeoutError object at ${hex(timeout.address)} \\(at .*:\\d+\\)$`,
        ),
      );
      assert.match(timeoutLines[1]!, /^ {6}while handling ConnectionRefusedError: \[Errno 111\] /);
      assert.deepEqual(lines.get(app.tid), [`    Handling AppError object at ${hex(app.address)}`]);
      const runtimeLines = lines.get(runtime.tid)!;
      assert.match(runtimeLines[0]!, /^ {4}Handling RuntimeError: propagating \(at .*:\d+\)$/);
      assert.deepEqual(runtimeLines.slice(1), ["      while handling <invalid object at 0x28>"]);
    } catch (error) {
      throw withRun(error, result);
    }
  });
}
