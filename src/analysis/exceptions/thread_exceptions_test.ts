/**
 * `readThreadException()` over hand-built 3.12 objects (chains, cycles, the
 * chain limit, exceptions in flight, enclosing handlers, corrupt objects) and
 * over random memory for every version: it ends with some answer or none,
 * never throws and never loops.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../../memory/fake_memory.ts";
import { type PythonRuntime, selectRuntime } from "../../cpython/runtime.ts";
import type { StructName } from "../../cpython/layout.ts";
import { ExceptionReader } from "../../cpython/exceptions.ts";
import { MAX_CHAIN, readThreadException } from "./thread_exceptions.ts";
import type { PythonVersion } from "../../cpython/version.ts";

const BASE = 0x100000n;
const SIZE = 256 * 1024;
const READY = 1n << 12n;
const HEAPTYPE = 1n << 9n;
const BASE_EXC = 1n << 30n;

/** Objects of a 3.12 target laid out in fake memory by their layout's field names. */
class Heap {
  readonly mem = new FakeMemory();
  readonly rt: PythonRuntime = selectRuntime(version(12));
  #next = BASE;
  readonly typeType: bigint;
  readonly none: bigint;
  readonly tupleType: bigint;
  readonly strType: bigint;

  constructor() {
    this.mem.map(BASE, SIZE);
    this.typeType = this.type("type", 0n);
    this.none = this.object(this.type("NoneType", 0n), 16);
    this.tupleType = this.type("tuple", 0n);
    this.strType = this.type("str", 0n);
  }

  alloc(size: number): bigint {
    const at = this.#next;
    this.#next += BigInt((size + 15) & ~15);
    return at;
  }

  set(struct: StructName, address: bigint, field: string, value: bigint | number): void {
    const f = this.rt.layout.structs[struct]!.fields[field]!;
    if (f.kind === "ptr" || f.kind === "i64" || f.kind === "u64") {
      this.mem.writeU64(address + BigInt(f.offset), BigInt(value));
    } else if (f.kind === "i32" || f.kind === "u32") {
      this.mem.writeI32(address + BigInt(f.offset), Number(value));
    } else this.mem.write(address + BigInt(f.offset), new Uint8Array([Number(value)]));
  }

  object(type: bigint, size: number): bigint {
    const at = this.alloc(size);
    this.set("object", at, "refcnt", 1);
    this.set("object", at, "type", type);
    return at;
  }

  type(name: string, flags: bigint, base = 0n): bigint {
    const at = this.object(this.typeType ?? 0n, this.rt.layout.structs.type!.size);
    if (this.typeType === undefined) this.set("object", at, "type", at);
    const text = this.alloc(name.length + 1);
    this.mem.write(text, new TextEncoder().encode(name));
    this.set("type", at, "name", text);
    this.set("type", at, "flags", flags | READY);
    this.set("type", at, "base", base);
    return at;
  }

  str(text: string): bigint {
    const at = this.object(this.strType, 40 + text.length + 1);
    this.set("unicode", at, "length", text.length);
    this.set("unicode", at, "hash", -1);
    this.set("unicode", at, "state", (1 << 2) | (1 << 5) | (1 << 6)); // kind 1, compact, ascii
    this.mem.write(at + 40n, new TextEncoder().encode(text));
    return at;
  }

  tuple(items: bigint[]): bigint {
    const layout = this.rt.layout.structs.tuple!;
    const at = this.object(this.tupleType, layout.fields.item!.offset + 8 * items.length);
    this.set("tuple", at, "size", items.length);
    items.forEach((item, i) => {
      this.mem.writeU64(at + BigInt(layout.fields.item!.offset + 8 * i), item);
    });
    return at;
  }

  exception(type: bigint, args: bigint[]): bigint {
    const at = this.object(type, this.rt.layout.structs.exception!.size);
    for (const f of ["dict", "traceback", "context", "cause"]) this.set("exception", at, f, 0);
    this.set("exception", at, "args", this.tuple(args));
    return at;
  }

  thread(options: { handling?: bigint[]; raising?: bigint }): bigint {
    const ts = this.alloc(this.rt.layout.structs.thread!.size);
    let previous = 0n;
    for (const value of [...(options.handling ?? [])].reverse()) {
      const item = this.alloc(16);
      this.set("err_stackitem", item, "exc_value", value);
      this.set("err_stackitem", item, "previous_item", previous);
      previous = item;
    }
    this.set("thread", ts, "exc_info", previous);
    this.set("thread", ts, "current_exception", options.raising ?? 0n);
    return ts;
  }
}

function version(minor: number): PythonVersion {
  return { major: 3, minor, micro: 0, releaseLevel: "final", serial: 0 };
}

function read(heap: Heap, tstate: bigint) {
  const ctx = { mem: heap.mem, rt: heap.rt };
  return readThreadException(ctx, new ExceptionReader(heap.mem, heap.rt), tstate);
}

Deno.test("readThreadException() gives the handled exception, its cause, and KeyError's repr", () => {
  const h = new Heap();
  const valueError = h.type("ValueError", BASE_EXC);
  const keyError = h.type("KeyError", BASE_EXC);
  const cause = h.exception(keyError, [h.str("missing-key")]);
  const handled = h.exception(valueError, [h.str("bad input 42")]);
  h.set("exception", handled, "cause", cause);
  h.set("exception", handled, "context", cause);
  h.set("exception", handled, "suppress_context", 1);
  const got = read(h, h.thread({ handling: [handled] }))!;
  assert.equal(got.state, "handling");
  assert.equal(got.type, "ValueError");
  assert.equal(got.message, "bad input 42");
  assert.deepEqual(got.chain.map((c) => [c.relation, c.type, c.message]), [
    ["cause", "KeyError", "'missing-key'"],
  ]);
  assert.equal(got.chainTruncated, undefined);
});

Deno.test("readThreadException() reads no message when an argument is not a builtin value", () => {
  const h = new Heap();
  const valueError = h.type("ValueError", BASE_EXC);
  const custom = h.object(h.type("Custom", HEAPTYPE), 16);
  const got = read(h, h.thread({ handling: [h.exception(valueError, [custom])] }))!;
  assert.deepEqual([got.type, got.message], ["ValueError", undefined]);
  const both = read(h, h.thread({ handling: [h.exception(valueError, [h.str("x"), custom])] }))!;
  assert.equal(both.message, undefined);
  const none = read(h, h.thread({ handling: [h.exception(valueError, [h.none])] }))!;
  assert.equal(none.message, "None");
});

Deno.test("readThreadException() shows nothing for None and empty handler slots", () => {
  const h = new Heap();
  assert.equal(read(h, h.thread({})), undefined);
  assert.equal(read(h, h.thread({ handling: [h.none, 0n] })), undefined);
});

Deno.test("readThreadException() prefers the exception in flight and adds outer handlers", () => {
  const h = new Heap();
  const runtimeError = h.type("RuntimeError", BASE_EXC);
  const appError = h.type("AppError", BASE_EXC | HEAPTYPE);
  const inner = h.exception(runtimeError, []);
  const outer = h.exception(appError, [h.str("hidden")]);
  const flying = h.exception(runtimeError, [h.str("a"), h.str("b")]);
  const got = read(h, h.thread({ handling: [h.none, inner, outer], raising: flying }))!;
  assert.equal(got.state, "raising");
  assert.equal(got.message, "('a', 'b')");
  assert.deepEqual(got.chain.map((c) => [c.relation, c.type, c.message]), [
    ["outer", "RuntimeError", ""],
    ["outer", "AppError", undefined],
  ]);
});

Deno.test("readThreadException() stops a cyclic chain and cuts a long one", () => {
  const h = new Heap();
  const valueError = h.type("ValueError", BASE_EXC);
  const a = h.exception(valueError, []);
  const b = h.exception(valueError, []);
  h.set("exception", a, "context", b);
  h.set("exception", b, "context", a);
  const cyclic = read(h, h.thread({ handling: [a] }))!;
  assert.deepEqual(cyclic.chain.map((c) => c.address), [b]);
  assert.equal(cyclic.chainTruncated, undefined);

  const links = Array.from({ length: MAX_CHAIN + 3 }, () => h.exception(valueError, []));
  links.forEach((e, i) => {
    if (i > 0) h.set("exception", links[i - 1]!, "context", e);
  });
  const long = read(h, h.thread({ handling: [links[0]!] }))!;
  assert.equal(long.chain.length, MAX_CHAIN);
  assert.equal(long.chainTruncated, true);
});

Deno.test("readThreadException() marks objects that are not exceptions as invalid", () => {
  const h = new Heap();
  const notException = h.exception(h.type("dict", 0n), []);
  const got = read(h, h.thread({ handling: [notException] }))!;
  assert.equal(got.invalid, `<invalid exception: a dict object at 0x${notException.toString(16)}>`);
  const wild = read(h, h.thread({ handling: [0xdead0n] }))!;
  assert.equal(wild.invalid, "<invalid object at 0xdead0>");
  // An exception whose args pointer is wild keeps its type and loses its message.
  const valueError = h.type("ValueError", BASE_EXC);
  const broken = h.exception(valueError, []);
  h.set("exception", broken, "args", 0xbad0n);
  const partly = read(h, h.thread({ handling: [broken] }))!;
  assert.equal(partly.type, "ValueError");
  assert.equal(partly.message, undefined);
});

/** Memory whose words are random, many pointing back into it. */
function randomMemory(seed: number): FakeMemory {
  const mem = new FakeMemory();
  const view = new DataView(mem.map(BASE, SIZE).buffer);
  let x = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let off = 0; off < SIZE; off += 8) {
    const r = next() % 4;
    view.setBigUint64(
      off,
      r === 0
        ? BASE + BigInt((next() % SIZE) & ~7)
        : r === 1
        ? BigInt(next() % 64)
        : r === 2
        ? BigInt(next()) | READY | BASE_EXC
        : BigInt(next()) << 16n,
      true,
    );
  }
  return mem;
}

const VERSIONS = [
  { major: 2, minor: 7, micro: 18, releaseLevel: "final", serial: 0 } as PythonVersion,
  ...[6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(version),
];
for (const v of VERSIONS) {
  Deno.test(`readThreadException() on random memory never throws (${v.major}.${v.minor})`, () => {
    const rt = selectRuntime(v);
    for (let seed = 1; seed <= 60; seed++) {
      const mem = randomMemory(seed);
      const reader = new ExceptionReader(mem, rt);
      const tstate = BASE + BigInt((seed * 4096) % (SIZE - 4096));
      const got = readThreadException({ mem, rt }, reader, tstate);
      if (got !== undefined) {
        assert.ok(got.chain.length <= MAX_CHAIN);
        assert.equal(typeof got.type, "string");
      }
    }
  });
}
