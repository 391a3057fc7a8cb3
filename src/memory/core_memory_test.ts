import assert from "node:assert/strict";
import { registerTest, type Skip } from "../../tests/_harness.ts";
import { openCore } from "../core/core_file.ts";
import { CoreMemory } from "./core_memory.ts";
import { MemoryReadError } from "./memory_reader.ts";
import { parseMaps } from "../elf/maps.ts";
import {
  debianKernelSegv,
  freshDir,
  kernelCoresUsable,
  PYENV_LIBPYTHON,
  pyenvGcore,
  pyenvKernelAbort,
  relocatedKernelCore,
  truncatedCopy,
} from "../core/_test_cores.ts";

/** Why kernel cores cannot be made here, if they cannot. */
const KERNEL_SKIP: Skip | undefined = kernelCoresUsable() ? undefined : {
  reason: "the kernel does not write cores as 'core' in the cwd (/proc/sys/kernel/core_pattern)",
  missing: true,
};
/** `Deno.test` of a test that needs kernel cores. */
function kernelTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  registerTest(name, KERNEL_SKIP, fn);
}

/** `length` bytes of a file at `offset`. */
function fileBytes(path: string, offset: bigint, length: number): Uint8Array {
  using file = Deno.openSync(path);
  file.seekSync(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) got += file.readSync(out.subarray(got)) ?? length;
  return out;
}

Deno.test("CoreMemory reads _PyRuntime of a gcore as the live process had it", async () => {
  const made = await pyenvGcore();
  using core = await openCore(made.path);
  using memory = new CoreMemory(core);
  assert.deepEqual(memory.read(made.extra.runtimeAddress, 512), made.extra.runtimeBytes);
  assert.deepEqual(memory.missing, []);
  assert.deepEqual(memory.warnings, []);
  // gcore leaves read-only file mappings out entirely: they come from the file.
  const text = memory.maps().find((m) => m.path === PYENV_LIBPYTHON && m.perms === "r-xp")!;
  assert.equal(core.loadAt(text.start), undefined);
  assert.deepEqual(
    memory.read(text.start + 8n, 64),
    fileBytes(PYENV_LIBPYTHON, text.offset + 8n, 64),
  );
});

kernelTest("CoreMemory reads _PyRuntime of a kernel core of Debian's python", async () => {
  const made = await debianKernelSegv();
  using core = await openCore(made.path);
  using memory = new CoreMemory(core);
  assert.deepEqual(memory.read(made.extra.runtimeAddress, 512), made.extra.runtimeBytes);
});

kernelTest(
  "CoreMemory reads libpython's text, which the kernel did not dump, from the file",
  async () => {
    const made = await pyenvKernelAbort();
    using core = await openCore(made.path);
    using memory = new CoreMemory(core);
    const text = memory.maps().find((m) => m.path === PYENV_LIBPYTHON && m.perms === "r-xp")!;
    assert.ok(text, "libpython's text is mapped");
    const address = text.start + 0x1234n;
    assert.equal(core.readDumped(address, 64), undefined, "not in the core");
    assert.deepEqual(
      memory.read(address, 64),
      fileBytes(PYENV_LIBPYTHON, text.offset + 0x1234n, 64),
    );
  },
);

kernelTest(
  "CoreMemory reads across the dumped first page of a library and its file",
  async () => {
    const made = await pyenvKernelAbort();
    using core = await openCore(made.path);
    using memory = new CoreMemory(core);
    const head = memory.maps().find((m) => m.path === PYENV_LIBPYTHON && m.offset === 0n)!;
    assert.ok(core.readDumped(head.start, 64), "the ELF header page is dumped");
    assert.equal(core.readDumped(head.start + 4096n, 64), undefined);
    const address = head.start + 4096n - 40n;
    assert.deepEqual(memory.read(address, 100), fileBytes(PYENV_LIBPYTHON, 4096n - 40n, 100));
  },
);

Deno.test("CoreMemory.maps() matches the live process's /proc/PID/maps", async () => {
  const made = await pyenvGcore();
  using core = await openCore(made.path);
  using memory = new CoreMemory(core);
  const maps = memory.maps();
  const key = (m: { start: bigint; end: bigint; offset: bigint; path: string }) =>
    `${m.start.toString(16)}-${m.end.toString(16)} ${m.offset.toString(16)} ${m.path}`;
  const live = parseMaps(made.extra.maps);
  const files = live.filter((m) => m.path.startsWith("/"));
  assert.deepEqual(
    maps.filter((m) => m.path.startsWith("/")).map(key),
    files.map(key),
  );
  for (const name of ["[heap]", "[stack]", "[vdso]"]) {
    const want = live.find((m) => m.path === name)!;
    const got = maps.find((m) => m.path === name);
    assert.equal(got?.start, want.start, name);
  }
  const text = live.find((m) => m.path === PYENV_LIBPYTHON && m.perms.includes("x"))!;
  assert.equal(maps.find((m) => m.start === text.start)?.perms, "r-xp");
});

Deno.test("CoreMemory throws MemoryReadError outside every mapping", async () => {
  const made = await pyenvGcore();
  using core = await openCore(made.path);
  using memory = new CoreMemory(core);
  assert.throws(() => memory.read(0x10n, 8), MemoryReadError);
  const maps = memory.maps();
  const gap = maps.findIndex((m, i) => i > 0 && maps[i - 1]!.end < m.start);
  assert.throws(() => memory.read(maps[gap]!.start - 8n, 8), /not mapped/);
  assert.throws(() => memory.read(maps[gap]!.start - 4n, 8), MemoryReadError);
  assert.equal(memory.read(maps[gap]!.start, 8).length, 8);
});

Deno.test("CoreMemory caches pages: reading the same bytes again touches no file", async () => {
  const made = await pyenvGcore();
  using core = await openCore(made.path);
  using memory = new CoreMemory(core);
  memory.read(made.extra.runtimeAddress, 64);
  const misses = memory.cache.misses;
  for (let i = 0; i < 100; i++) memory.read(made.extra.runtimeAddress + BigInt(i * 8), 8);
  assert.equal(memory.cache.misses, misses);
});

kernelTest("CoreMemory fails reads past the end of a truncated core", async () => {
  const made = await debianKernelSegv();
  const dir = freshDir();
  const size = Deno.statSync(made.path).size;
  const cut = `${dir}/cut`;
  truncatedCopy(made.path, cut, size - 64 * 1024);
  using core = await openCore(cut);
  assert.equal(core.truncated, true);
  using memory = new CoreMemory(core);
  const lost = core.loads.find((l) => l.filesz > 0 && l.offset + l.filesz > size - 64 * 1024)!;
  const address = lost.end - 16n;
  assert.throws(() => memory.read(address, 8), (e) => {
    assert.ok(e instanceof MemoryReadError);
    assert.match(e.message, /beyond the end of the truncated core/);
    return true;
  });
  assert.deepEqual(memory.read(made.extra.runtimeAddress, 512), made.extra.runtimeBytes);
});

kernelTest(
  "CoreMemory names the files that moved away and cannot read their text",
  async () => {
    const made = await relocatedKernelCore();
    using core = await openCore(made.path);
    using memory = new CoreMemory(core);
    assert.deepEqual(memory.missing.sort(), [
      `${made.prefix}/bin/python3.11`,
      `${made.prefix}/lib/libpython3.11.so.1.0`,
    ]);
    // _PyRuntime is written data: the core holds it even without the file.
    assert.deepEqual(memory.read(made.extra.runtimeAddress, 512), made.extra.runtimeBytes);
    const text = memory.maps().find((m) =>
      m.recordedPath?.endsWith("libpython3.11.so.1.0") &&
      core.readDumped(m.start, 1) === undefined
    )!;
    assert.throws(() => memory.read(text.start, 8), /was not found \(pass --lib-search-path/);
  },
);

kernelTest("CoreMemory finds moved libraries through a search path or root", async (t) => {
  const made = await relocatedKernelCore();
  using core = await openCore(made.path);
  const lib = `${made.moved}/lib/libpython3.11.so.1.0`;
  const cases = {
    libSearchPath: { libSearchPath: ["/nonexistent", `${made.moved}/lib`] },
    libSearchRoot: { libSearchRoot: made.moved },
  };
  for (const [name, options] of Object.entries(cases)) {
    await t.step(name, () => {
      using memory = new CoreMemory(core, {
        ...options,
        executable: `${made.moved}/bin/python3.11`,
      });
      assert.deepEqual(memory.missing, []);
      assert.deepEqual(memory.warnings, []);
      assert.equal(memory.fileFor(`${made.prefix}/lib/libpython3.11.so.1.0`), lib);
      assert.equal(memory.fileFor(core.executable.path!), `${made.moved}/bin/python3.11`);
      const text = memory.maps().find((m) => m.path === lib && m.perms === "r-xp")!;
      assert.deepEqual(memory.read(text.start + 16n, 64), fileBytes(lib, text.offset + 16n, 64));
      assert.deepEqual(memory.read(made.extra.runtimeAddress, 512), made.extra.runtimeBytes);
    });
  }
});

kernelTest(
  "CoreMemory warns when a library's build id differs from the core's",
  async () => {
    const made = await relocatedKernelCore();
    using core = await openCore(made.path);
    const bogus = freshDir();
    Deno.copyFileSync("/usr/lib/x86_64-linux-gnu/libm.so.6", `${bogus}/libpython3.11.so.1.0`);
    {
      using memory = new CoreMemory(core, { libSearchPath: [bogus] });
      const warning = memory.warnings.find((w) => w.startsWith("libpython3.11.so.1.0"));
      assert.match(
        warning ?? "",
        new RegExp(
          `^libpython3\\.11\\.so\\.1\\.0 needed BUILD ID ${buildIdOf(PYENV_LIBPYTHON)} ` +
            `but found [0-9a-f]+ at ${bogus}/libpython3\\.11\\.so\\.1\\.0$`,
        ),
      );
    }
    {
      // With the right file also on the search path, it wins over the first one.
      using memory = new CoreMemory(core, { libSearchPath: [bogus, `${made.moved}/lib`] });
      assert.equal(
        memory.fileFor(`${made.prefix}/lib/libpython3.11.so.1.0`),
        `${made.moved}/lib/libpython3.11.so.1.0`,
      );
      assert.ok(!memory.warnings.some((w) => w.startsWith("libpython3.11.so.1.0")));
    }
  },
);

/** The build id `readelf -n` prints for a file. */
function buildIdOf(path: string): string {
  const out = new Deno.Command("readelf", { args: ["-n", path] }).outputSync();
  return new TextDecoder().decode(out.stdout).match(/Build ID: ([0-9a-f]+)/)![1]!;
}

kernelTest(
  "CoreMemory warns when the executable given is not the one the core ran",
  async () => {
    const made = await pyenvKernelAbort();
    using core = await openCore(made.path);
    using memory = new CoreMemory(core, { executable: "/usr/bin/python3.11" });
    assert.equal(memory.fileFor(core.executable.path!), "/usr/bin/python3.11");
    assert.deepEqual(memory.warnings, [
      `python3.11 needed BUILD ID ${buildIdOf(core.executable.path!)} but found ` +
      `${buildIdOf("/usr/bin/python3.11")} at /usr/bin/python3.11`,
    ]);
  },
);
