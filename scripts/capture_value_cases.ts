/**
 * Captures the test data of `src/cpython/values_test.ts`: real objects of
 * every kind `--locals` renders, from every pyenv CPython 3.6 to 3.13, as the
 * exact bytes pystack reads to render them.
 *
 * For each interpreter it starts a small Python program (below) that builds
 * the objects and prints, for each, its address (`id()`) and the text pystack
 * must show (Python's own `repr`, or for values beyond pystack's limits the
 * cut text computed in Python). It then renders each object from the live
 * process through a memory reader that records every read, and writes the
 * recorded ranges with the cases to `src/cpython/testdata/values_3_X.json`.
 * The unit test replays them from memory: no process, no interpreter needed.
 *
 * Usage: `deno run -A scripts/capture_value_cases.ts` (as root or with ptrace rights).
 *
 * @module
 */

import { ProcessMemory } from "../src/memory/process_memory.ts";
import type { MemoryReader } from "../src/memory/memory_reader.ts";
import { selectRuntime } from "../src/cpython/runtime.ts";
import { ValueRenderer } from "../src/cpython/values.ts";
import { DictReader } from "../src/cpython/dicts.ts";
import { TypeNames } from "../src/cpython/objects.ts";
import { Buffer } from "node:buffer";

const VERSIONS = ["3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"];

/** The objects, and what pystack must show for each (VALUE_LIMITS: 200 chars, 20 items, depth 5). */
const PROGRAM = String.raw`
import json, sys

class Plain(object):
    def __init__(self):
        self.x = 1
        self.y = "barbaridad"

class MyList(list):
    pass

class MySet(set):
    pass

class MyInt(int):
    pass

def some_function():
    pass

recursive = [1]
recursive.append(recursive)
deleted = dict((i, i) for i in range(10))
del deleted[3]
deleted[3] = "back"
long_str = "abc" * 100
long_bytes = bytes(bytearray(range(256)))
materialized = Plain()
materialized.__dict__["z"] = 2

cases = [
    ("none", None, None),
    ("true", True, None),
    ("false", False, None),
    ("zero", 0, None),
    ("int", 12345, None),
    ("negative", -1, None),
    ("digit_edge", 2 ** 30, None),
    ("big", 2 ** 100 + 7, None),
    ("big_negative", -(10 ** 50), None),
    ("huge", 2 ** 15000, "<int of 15001 bits at 0x%x>"),
    ("my_int", MyInt(7), None),
    ("float", 3.14, None),
    ("float_one", 1.0, None),
    ("float_exp", 1e22, None),
    ("float_small", 1e-07, None),
    ("float_neg_zero", -0.0, None),
    ("nan", float("nan"), None),
    ("minus_inf", float("-inf"), None),
    ("str_ascii", "hello", None),
    ("str_empty", "", None),
    ("str_latin1", "caf\xe9 \xa0", None),
    ("str_ucs2", "\u95a2\u6570 \u200b", None),
    ("str_ucs4", "\U0001f600 \U00020bb7", None),
    ("str_escapes", "a'b\"c\\\n\t\r\x00\x7f", None),
    ("str_quote", "it's", None),
    ("str_surrogate", "\udc80x", None),
    ("str_long", long_str, repr(long_str[:200]) + "...(+100 chars)"),
    ("bytes", b"abc\x00\xff'", None),
    ("bytes_empty", b"", None),
    ("bytes_long", long_bytes, repr(long_bytes[:200]) + "...(+56 bytes)"),
    ("tuple_empty", (), None),
    ("tuple_one", (1,), None),
    ("tuple", (1, "a", None, 2.5), None),
    ("list", [1, [2, [3, []]]], None),
    ("list_long", list(range(25)), repr(list(range(20)))[:-1] + ", ...(+5 more)]"),
    ("list_deep", [[[[[[[1]]]]]]], "[[[[[[...]]]]]]"),
    ("list_recursive", recursive, None),
    ("dict", {"a": 1, 2: "b", (3,): [4], None: {}}, None),
    ("dict_empty", {}, None),
    ("dict_deleted", deleted, None),
    ("dict_split", Plain().__dict__, None),
    ("dict_big", dict((i, i) for i in range(1000)),
     "{" + ", ".join("%d: %d" % (i, i) for i in range(20)) + ", ...(+980 more)}"),
    ("set", set([3, 1, 2]), None),
    ("set_empty", set(), None),
    ("frozenset", frozenset([4]), None),
    ("frozenset_empty", frozenset(), None),
    ("my_set", MySet([1]), None),
    ("my_list", MyList([1, 2]), None),
    ("instance", Plain(), None),
    ("instance_dict", materialized, None),
    ("class", Plain, None),
    ("builtin_class", int, None),
    ("function", some_function, None),
]
out = []
for name, value, expected in cases:
    if expected is None:
        expected = repr(value)
    elif "%x" in expected:
        expected = expected % id(value)
    out.append({"name": name, "address": "0x%x" % id(value), "expected": expected})
print(json.dumps({"version": list(sys.version_info[:3]), "cases": out}))
sys.stdout.flush()
sys.stdin.read()
`;

/** Attribute and str-key lookups: kind, the case holding the object, the name, the value's repr. */
const LOOKUPS: ["attribute" | "key", string, string, string | null][] = [
  ["attribute", "instance", "x", "1"],
  ["attribute", "instance", "y", "'barbaridad'"],
  ["attribute", "instance", "missing", null],
  ["attribute", "instance_dict", "y", "'barbaridad'"],
  ["attribute", "instance_dict", "z", "2"],
  ["key", "dict", "a", "1"],
  ["key", "dict", "b", null],
  ["key", "dict_split", "y", "'barbaridad'"],
];

/** A memory reader that remembers every range it returned. */
class RecordingMemory implements MemoryReader {
  readonly ranges = new Map<bigint, Uint8Array>();
  readonly #inner: MemoryReader;
  constructor(inner: MemoryReader) {
    this.#inner = inner;
  }
  read(address: bigint, length: number): Uint8Array {
    const bytes = this.#inner.read(address, length);
    const known = this.ranges.get(address);
    if (known === undefined || known.length < bytes.length) this.ranges.set(address, bytes);
    return bytes;
  }
}

/** Merges overlapping or touching ranges into `[address, bytes]` regions. */
function merge(ranges: Map<bigint, Uint8Array>): [bigint, Uint8Array][] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, Uint8Array][] = [];
  for (const [address, bytes] of sorted) {
    const last = out.at(-1);
    const lastEnd = last === undefined ? -1n : last[0] + BigInt(last[1].length);
    if (last !== undefined && address <= lastEnd) {
      const end = address + BigInt(bytes.length);
      if (end > lastEnd) {
        const joined = new Uint8Array(Number(end - last[0]));
        joined.set(last[1]);
        joined.set(bytes, Number(address - last[0]));
        last[1] = joined;
      }
    } else {
      out.push([address, bytes]);
    }
  }
  return out;
}

async function capture(release: string): Promise<void> {
  const minor = release.split(".").slice(0, 2).join(".");
  const root = Deno.env.get("PYENV_ROOT") ?? "/root/.pyenv";
  const python = `${root}/versions/${release}/bin/python${minor}`;
  const child = new Deno.Command(python, {
    args: ["-S", "-c", PROGRAM],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { LC_ALL: "C.UTF-8" },
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${python} exited early`);
      text += value;
    }
    const { version, cases } = JSON.parse(text) as {
      version: [number, number, number];
      cases: { name: string; address: string; expected: string }[];
    };
    const rt = selectRuntime({
      major: version[0],
      minor: version[1],
      micro: version[2],
      releaseLevel: "final",
      serial: 0,
    });
    using process = new ProcessMemory(child.pid);
    const memory = new RecordingMemory(process);
    const renderer = new ValueRenderer(memory, rt);
    let mismatches = 0;
    for (const c of cases) {
      const shown = renderer.repr(BigInt(c.address));
      if (shown !== c.expected) {
        mismatches++;
        console.error(`${release} ${c.name}: pystack ${shown}\n  expected ${c.expected}`);
      }
    }
    // Attribute and key lookups (what thread names need), with what Python says.
    const dicts = new DictReader(memory, rt);
    const types = new TypeNames(memory, rt);
    const address = (name: string) => BigInt(cases.find((c) => c.name === name)!.address);
    const lookups = LOOKUPS.map(([kind, object, key, expected]) => {
      const found = kind === "attribute"
        ? dicts.attribute(address(object), key, types)
        : dicts.lookup(address(object), key, types);
      const shown = found === undefined ? null : renderer.repr(found);
      if (shown !== expected) {
        mismatches++;
        console.error(
          `${release} ${kind} ${object}.${key}: pystack ${shown}, expected ${expected}`,
        );
      }
      return { kind, object, key, expected };
    });
    const regions = merge(memory.ranges).map(([address, bytes]) => [
      `0x${address.toString(16)}`,
      Buffer.from(bytes).toString("base64"),
    ]);
    const file = new URL(
      `../src/cpython/testdata/values_${minor.replace(".", "_")}.json`,
      import.meta.url,
    );
    await Deno.mkdir(new URL(".", file), { recursive: true });
    await Deno.writeTextFile(
      file,
      JSON.stringify({ python: release, cases, lookups, regions }, null, 1) + "\n",
    );
    const size = regions.reduce((n, r) => n + r[1]!.length, 0);
    console.log(
      `${release}: ${cases.length} cases, ${regions.length} regions (${size} base64 chars)` +
        (mismatches ? `, ${mismatches} MISMATCHES` : ""),
    );
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

if (import.meta.main) {
  for (const release of VERSIONS) await capture(release);
  const dir = new URL("../src/cpython/testdata/", import.meta.url).pathname;
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", dir] }).output();
}
