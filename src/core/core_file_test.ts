import assert from "node:assert/strict";
import { registerTest, type Skip } from "../../tests/_harness.ts";
import { NOBODY, nobodyEnvironment, nobodySkip } from "../../tests/_nobody.ts";
import { openCore } from "./core_file.ts";
import {
  CoreEmptyError,
  CoreIsDirectoryError,
  CoreNotesError,
  CoreNotFoundError,
  CoreNotRegularFileError,
  CoreUnreadableError,
  NotCoreError,
  NotElfError,
  WrongArchitectureError,
} from "./core_errors.ts";
import {
  bashKernelAbort,
  DEBIAN_PYTHON,
  debianSegfault,
  freshDir,
  kernelCoresUsable,
  PYENV_PYTHON,
  pyenvGcore,
  pyenvKernelAbort,
  pyenvKernelThreads,
  scriptKernelAbort,
  SLEEP,
  sleepGcore,
  sleepKernelSegv,
  truncatedCopy,
} from "./_test_cores.ts";
import { pathExists } from "../fs_checks.ts";

/** Why kernel cores cannot be made here, if they cannot. */
const KERNEL_SKIP: Skip | undefined = kernelCoresUsable() ? undefined : {
  reason: "the kernel does not write cores as 'core' in the cwd (/proc/sys/kernel/core_pattern)",
  missing: true,
};
/** `Deno.test` of a test that needs kernel cores. */
function kernelTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  registerTest(name, KERNEL_SKIP, fn);
}
const SIGABRT = 6;
const SIGSEGV = 11;
const SIGSTOP = 19;

/** Whether `tid` is a thread of this test process (the kernel records the forking thread). */
function isOurThread(tid: number): boolean {
  return tid === Deno.pid || pathExists(`/proc/${Deno.pid}/task/${tid}`);
}

async function compress(path: string, tool: "gzip" | "zstd"): Promise<string> {
  const out = `${path}.${tool === "gzip" ? "gz" : "zst"}`;
  const args = tool === "gzip" ? ["-c", "-1", path] : ["-q", "-c", "-1", path];
  const result = await new Deno.Command(tool, { args, stdout: "piped" }).output();
  assert.ok(result.success);
  Deno.writeFileSync(out, result.stdout);
  return out;
}

Deno.test("openCore() reads a gcore of sleep", async () => {
  const made = await sleepGcore();
  using core = await openCore(made.path);
  assert.equal(core.pid, made.pid);
  assert.equal(core.psinfo?.ppid, made.ppid);
  assert.equal(core.psinfo?.fname, "sleep");
  assert.equal(core.siginfo?.signo, SIGSTOP);
  assert.deepEqual(core.threads.map((t) => t.tid), [made.pid]);
  assert.deepEqual(core.executable.path, SLEEP);
  assert.equal(core.executable.source, "AT_PHDR");
  assert.equal(core.truncated, false);
  assert.equal(core.compression, undefined);
  assert.ok(core.files.some((f) => f.path === SLEEP && f.fileOffset === 0));
});

kernelTest("openCore() reads a kernel core of sleep killed by SIGSEGV", async () => {
  const made = await sleepKernelSegv();
  using core = await openCore(made.path);
  assert.equal(core.pid, made.pid);
  assert.ok(isOurThread(core.psinfo!.ppid));
  assert.equal(core.psinfo?.psargs.trimEnd(), `${SLEEP} 100`);
  assert.equal(core.psinfo?.state, "R");
  assert.deepEqual(core.siginfo, {
    signo: SIGSEGV,
    errno: 0,
    code: 0,
    senderPid: Deno.pid,
    senderUid: Deno.uid(),
  });
  assert.equal(core.threads.length, 1);
  assert.equal(core.threads[0]!.signal, SIGSEGV);
  assert.notEqual(core.threads[0]!.registers.rip, 0n);
  assert.equal(core.executable.path, SLEEP);
  assert.equal(core.executable.execfn, SLEEP);
});

kernelTest("openCore() names a process that aborted itself as the sender", async () => {
  const made = await bashKernelAbort();
  using core = await openCore(made.path);
  assert.equal(core.pid, made.pid);
  assert.equal(core.psinfo?.fname, "bash");
  assert.equal(core.siginfo?.signo, SIGABRT);
  assert.equal(core.siginfo?.senderPid, made.pid);
});

Deno.test("openCore() lists every thread of a python, the main one first", async () => {
  const made = await pyenvGcore();
  using core = await openCore(made.path);
  assert.equal(core.threads.length, 4);
  assert.equal(core.threads[0]!.tid, made.pid);
  assert.deepEqual(core.threads.map((t) => t.tid).sort(), [...made.tids].sort());
  assert.equal(core.siginfo?.signo, SIGSTOP);
  assert.equal(core.psinfo?.fname, "python3.11");
  assert.equal(core.executable.path, PYENV_PYTHON);
});

kernelTest("openCore() puts the thread the kernel signalled first", async () => {
  const made = await pyenvKernelThreads();
  using core = await openCore(made.path);
  assert.equal(core.threads.length, 4);
  assert.deepEqual(core.threads.map((t) => t.tid).sort(), [...made.tids].sort());
  assert.equal(core.threads[0]!.signal, SIGSEGV);
  assert.equal(core.siginfo?.senderPid, Deno.pid);
});

kernelTest("openCore() reads a python that called os.abort()", async () => {
  const made = await pyenvKernelAbort();
  using core = await openCore(made.path);
  assert.equal(core.executable.path, PYENV_PYTHON);
  assert.equal(core.siginfo?.signo, SIGABRT);
  assert.equal(core.siginfo?.code, -6); // SI_TKILL: raise() uses tgkill
  assert.equal(core.siginfo?.senderPid, made.pid);
});

kernelTest("openCore() gives the faulting address of a segfault", async () => {
  const made = await debianSegfault();
  using core = await openCore(made.path);
  assert.equal(core.executable.path, DEBIAN_PYTHON);
  assert.deepEqual(core.siginfo, { signo: SIGSEGV, errno: 0, code: 1, faultAddress: 123456789n });
});

kernelTest("openCore() finds the interpreter of a #! script, not the script", async () => {
  const made = await scriptKernelAbort();
  using core = await openCore(made.path);
  assert.equal(core.executable.path, DEBIAN_PYTHON);
  assert.equal(core.executable.execfn, made.script);
  assert.equal(core.psinfo?.fname, "crash.py");
  // The kernel keeps at most 79 bytes of the command line, NULs turned to spaces.
  assert.equal(core.psinfo?.psargs, `${DEBIAN_PYTHON} ${made.script} `.slice(0, 79));
});

Deno.test("openCore() rejects what is not a core, with the right error", async (t) => {
  const dir = freshDir();
  await t.step("a missing path", async () => {
    await assert.rejects(openCore(`${dir}/nothing`), CoreNotFoundError);
  });
  await t.step("a directory", async () => {
    await assert.rejects(openCore(dir), CoreIsDirectoryError);
  });
  await t.step("a character device", async () => {
    const error = await openCore("/dev/zero").then(() => undefined, (e) => e);
    assert.ok(error instanceof CoreNotRegularFileError);
    assert.equal(
      error.message,
      "Cannot read core /dev/zero: it is not a regular file (a character device)",
    );
  });
  await t.step("an empty file", async () => {
    Deno.writeFileSync(`${dir}/empty`, new Uint8Array());
    await assert.rejects(openCore(`${dir}/empty`), CoreEmptyError);
  });
  await t.step("a text file", async () => {
    Deno.writeTextFileSync(`${dir}/text`, "import time\ntime.sleep(1)\n");
    await assert.rejects(openCore(`${dir}/text`), NotElfError);
  });
  await t.step("an ELF executable", async () => {
    await assert.rejects(openCore(SLEEP), (e) => {
      assert.ok(e instanceof NotCoreError);
      assert.match(e.message, /it is an ELF .*executable, not a core dump/);
      assert.ok(e.hint);
      return true;
    });
  });
});

const UNREADABLE_TEST = "openCore() rejects a core its user cannot read (run as nobody)";
registerTest(UNREADABLE_TEST, nobodySkip(), async () => {
  // Root reads anything: openCore runs as nobody, on a file nobody may not read.
  await using nobody = await nobodyEnvironment();
  const dir = await Deno.makeTempDir({ dir: nobody.env.HOME!, prefix: "unreadable-" });
  await Deno.chmod(dir, 0o755);
  Deno.writeTextFileSync(`${dir}/secret`, "x", { mode: 0o000 });
  Deno.writeTextFileSync(`${dir}/readable`, "x", { mode: 0o644 });
  const script = `
    import { openCore } from ${JSON.stringify(new URL("./core_file.ts", import.meta.url).href)};
    for (const path of Deno.args) {
      try {
        await openCore(path);
        console.log("opened");
      } catch (e) {
        console.log(e.constructor.name + ": " + e.message + " | " + e.hint);
      }
    }`;
  const out = await new Deno.Command(NOBODY[0]!, {
    args: [...NOBODY.slice(1), Deno.execPath(), "eval", "--ext=ts", script, "--"]
      .concat([`${dir}/secret`, `${dir}/readable`]),
    clearEnv: true,
    env: nobody.env,
    cwd: dir,
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `deno eval as nobody: ${new TextDecoder().decode(out.stderr)}`);
  const [secret, readable] = stdout.trimEnd().split("\n");
  assert.match(secret!, /^CoreUnreadableError: /, stdout);
  assert.match(secret!, / \| check its permissions; cores are usually readable only by /);
  assert.match(readable!, /^NotElfError: /, "the readable file is opened and read");
});

Deno.test("openCore() rejects cores of another architecture", async () => {
  const made = await sleepGcore();
  const dir = freshDir();
  const bytes = Deno.readFileSync(made.path).subarray(0, 4096);
  const arm = bytes.slice();
  arm[18] = 183; // EM_AARCH64
  Deno.writeFileSync(`${dir}/arm`, arm);
  await assert.rejects(openCore(`${dir}/arm`), /core of ELF machine 183/);
  const small = bytes.slice();
  small[4] = 1; // ELFCLASS32
  Deno.writeFileSync(`${dir}/i386`, small);
  await assert.rejects(openCore(`${dir}/i386`), WrongArchitectureError);
});

Deno.test("openCore() on a core cut short: no notes is an error, no memory is `truncated`", async (t) => {
  const made = await sleepKernelSegvOrGcore();
  const dir = freshDir();
  const size = Deno.statSync(made.path).size;
  const notes = noteRange(made.path);
  const notesEnd = notes.offset + notes.size;
  const cuts: [string, number, "error" | "truncated"][] = [
    ["inside the ELF header", 40, "error"],
    ["inside the program headers", 100, "error"],
    ["inside the notes", notes.offset + Math.floor(notes.size / 2), "error"],
    ["one byte before the end", size - 1, "truncated"],
  ];
  if (notes.offset < size / 2) cuts.push(["right after the notes", notesEnd, "truncated"]);
  for (const [name, length, expected] of cuts) {
    await t.step(`${name} (${length} of ${size} bytes)`, async () => {
      const cut = `${dir}/cut-${length}`;
      truncatedCopy(made.path, cut, length);
      if (expected === "error") {
        await assert.rejects(openCore(cut), (e) => {
          assert.ok(e instanceof CoreNotesError, String(e));
          assert.match(e.message, /truncated|cannot be read/);
          return true;
        });
        return;
      }
      using core = await openCore(cut);
      assert.equal(core.truncated, true);
      assert.equal(core.pid, made.pid);
      const last = core.loads.findLast((l) => l.filesz > 0)!;
      assert.equal(core.readDumped(last.start + BigInt(last.filesz - 1), 1), undefined);
    });
  }
});

/** Kernel cores put their notes first (so cuts can land after them); gcore puts them last. */
function sleepKernelSegvOrGcore() {
  return kernelCoresUsable() ? sleepKernelSegv() : sleepGcore();
}

/** Offset and size of the first PT_NOTE of an ELF file, read by hand. */
function noteRange(path: string): { offset: number; size: number } {
  using file = Deno.openSync(path);
  const head = new Uint8Array(64 + 56 * 64);
  file.readSync(head);
  const dv = new DataView(head.buffer);
  const phoff = Number(dv.getBigUint64(32, true));
  for (let i = 0; i < dv.getUint16(56, true); i++) {
    const at = phoff + i * 56;
    if (dv.getUint32(at, true) === 4) {
      return {
        offset: Number(dv.getBigUint64(at + 8, true)),
        size: Number(dv.getBigUint64(at + 32, true)),
      };
    }
  }
  throw new Error("no PT_NOTE");
}

Deno.test("openCore() reads gzip and zstd cores and deletes the copy when disposed", async (t) => {
  const made = await sleepKernelSegvOrGcore();
  using plain = await openCore(made.path);
  for (const tool of ["gzip", "zstd"] as const) {
    await t.step(tool, async () => {
      const packed = await compress(made.path, tool);
      let temp: string;
      {
        using core = await openCore(packed);
        assert.equal(core.compression, tool);
        assert.equal(core.path, packed);
        temp = core.tempPath!;
        assert.ok(pathExists(temp));
        assert.equal(core.source.size, plain.source.size);
        assert.deepEqual(core.psinfo, plain.psinfo);
        assert.deepEqual(core.threads, plain.threads);
        assert.deepEqual(core.files, plain.files);
        assert.equal(core.truncated, false);
        assert.deepEqual(core.warnings, []);
      }
      assert.ok(!pathExists(temp), "the decompressed copy is deleted");
    });
  }
});

kernelTest("openCore() keeps what a cut gzip stream holds and says so", async () => {
  const made = await sleepKernelSegv();
  const packed = await compress(made.path, "gzip");
  const cut = `${packed}.cut`;
  truncatedCopy(packed, cut, Math.floor(Deno.statSync(packed).size * 0.8));
  using core = await openCore(cut);
  assert.equal(core.truncated, true);
  assert.equal(core.pid, made.pid);
  assert.match(core.warnings[0]!, /gzip data ends early/);
});

Deno.test("openCore() reports corrupt compressed data as unreadable", async () => {
  const dir = freshDir();
  Deno.writeFileSync(`${dir}/bad.gz`, new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8]));
  const gz = await openCore(`${dir}/bad.gz`).then(() => undefined, (e) => e);
  assert.ok(gz instanceof CoreUnreadableError);
  assert.equal(
    gz.message,
    `Cannot read core ${dir}/bad.gz: gzip data is corrupt: unknown compression method`,
  );
  // Not a matter of permissions: the hint says so.
  assert.equal(gz.hint, "the compressed file is damaged ('gzip -t' checks it)");
  Deno.writeFileSync(`${dir}/bad.zst`, new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 9, 9, 9, 9]));
  const zst = await openCore(`${dir}/bad.zst`).then(() => undefined, (e) => e);
  assert.ok(zst instanceof CoreUnreadableError);
  assert.equal(zst.hint, "the compressed file is damaged ('zstd -t' checks it)");
});

Deno.test("openCore() names an xz or bzip2 core's compression, and how to decompress it", async () => {
  const dir = freshDir();
  Deno.writeFileSync(`${dir}/core.xz`, new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0, 4]));
  const xz = await openCore(`${dir}/core.xz`).then(() => undefined, (e) => e);
  assert.ok(xz instanceof CoreUnreadableError);
  assert.equal(
    xz.message,
    `Cannot read core ${dir}/core.xz: it is compressed with xz, which pystack does not read`,
  );
  assert.equal(
    xz.hint,
    `decompress it first ('xz -dk ${dir}/core.xz'); gzip, zstd and lz4 cores are read directly`,
  );
  Deno.writeFileSync(`${dir}/core.bz2`, new TextEncoder().encode("BZh91AY&SY"));
  const bz = await openCore(`${dir}/core.bz2`).then(() => undefined, (e) => e);
  assert.match(bz.message, /compressed with bzip2/);
});
