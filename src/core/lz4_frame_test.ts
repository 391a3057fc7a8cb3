import assert from "node:assert/strict";
import { type ByteReader, decodeBlock, decodeLz4Frames, Lz4FormatError } from "./lz4_frame.ts";
import { concatBytes } from "../bytes.ts";

/** Whether the `lz4` command is here (Debian's lz4 package; CI installs it). */
const HAVE_LZ4 = (() => {
  try {
    return new Deno.Command("lz4", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** 1.5 MiB that compress well in places (repeats near and far) and not at all in others. */
function sample(): Uint8Array {
  const out = new Uint8Array(1536 * 1024);
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < out.length; i++) {
    const region = Math.floor(i / 65536) % 3;
    out[i] = region === 0
      ? random() // incompressible: stored blocks
      : region === 1
      ? (i * 7) % 251 // short period
      : out[i - 60000] ?? 0; // far back: a match into the previous block (linked mode)
  }
  return out;
}

/** `input` compressed by `lz4 ARGS`. */
async function compress(args: string[], input: Uint8Array): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "pystack-lz4-" });
  try {
    await Deno.writeFile(`${dir}/in`, input);
    const out = await new Deno.Command("lz4", {
      args: ["-q", "-f", ...args, `${dir}/in`, `${dir}/out`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return await Deno.readFile(`${dir}/out`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function reader(bytes: Uint8Array): ByteReader {
  let at = 0;
  return {
    read(n) {
      const piece = bytes.subarray(at, Math.min(at + n, bytes.length));
      at += piece.length;
      return piece;
    },
  };
}

function decode(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  decodeLz4Frames(reader(bytes), (b) => parts.push(b.slice()));
  return concatBytes(parts);
}

Deno.test({
  name: "decodeLz4Frames gives back what lz4 compressed, whatever the frame options",
  ignore: !HAVE_LZ4,
  async fn(t) {
    const data = sample();
    const options: [string, string[]][] = [
      ["defaults (independent 4 MiB blocks)", []],
      ["linked 64 KiB blocks (matches into the block before)", ["-BD", "-B4"]],
      ["linked 256 KiB blocks, as systemd-coredump", ["-BD", "-B5"]],
      ["block checksums, content size, no content checksum", [
        "-BX",
        "--content-size",
        "--no-frame-crc",
      ]],
      ["best compression", ["-9", "-BD"]],
    ];
    for (const [what, args] of options) {
      await t.step(what, async () => {
        const packed = await compress(args, data);
        assert.deepEqual(decode(packed), data);
      });
    }
    await t.step("two frames, and a skippable frame between them", async () => {
      const a = await compress([], data.subarray(0, 100000));
      const b = await compress(["-BD"], data.subarray(100000));
      const skippable = new Uint8Array([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
      assert.deepEqual(decode(concatBytes([a, skippable, b])), data);
    });
    await t.step("a cut frame: what came before, then an error", async () => {
      const packed = await compress(["-B4"], data);
      const parts: Uint8Array[] = [];
      assert.throws(
        () =>
          decodeLz4Frames(
            reader(packed.subarray(0, packed.length >> 1)),
            (b) => parts.push(b.slice()),
          ),
        Lz4FormatError,
      );
      const got = parts.reduce((n, p) => n + p.length, 0);
      assert.ok(got > 0 && got < data.length, `${got} bytes before the cut`);
      assert.deepEqual(parts[0], data.subarray(0, parts[0]!.length));
    });
  },
});

Deno.test("decodeBlock copies overlapping matches byte by byte (a run of one byte)", () => {
  // Literal "a", then a match of 9 bytes at offset 1: "aaaaaaaaaa"; then the literal "b".
  const block = new Uint8Array([0x15, 0x61, 0x01, 0x00, 0x10, 0x62]);
  const out = new Uint8Array(32);
  const end = decodeBlock(block, out, 0, 0);
  assert.equal(new TextDecoder().decode(out.subarray(0, end)), "aaaaaaaaaab");
});

Deno.test("decodeBlock refuses matches before the window and lengths past the block", () => {
  const out = new Uint8Array(64);
  // "ab" at 8, then a match 9 back: before the floor (8).
  assert.throws(
    () => decodeBlock(new Uint8Array([0x20, 0x61, 0x62, 0x09, 0x00]), out, 8, 8),
    /reaches before the window/,
  );
  // 3 literals announced, 1 given.
  assert.throws(() => decodeBlock(new Uint8Array([0x30, 0x61]), out, 0, 0), /past its end/);
  // A match offset of 0.
  assert.throws(
    () => decodeBlock(new Uint8Array([0x10, 0x61, 0x00, 0x00, 0x00]), out, 0, 0),
    /reaches before the window/,
  );
});

Deno.test("decodeLz4Frames refuses what is not a frame", () => {
  assert.throws(() => decode(new Uint8Array([1, 2, 3, 4, 5, 6])), /not an LZ4 frame/);
  // Version bits 00.
  assert.throws(
    () => decode(new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x00, 0x40, 0x00])),
    /unknown LZ4 frame version/,
  );
  // A dictionary id.
  assert.throws(
    () => decode(new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x61, 0x40, 0, 0, 0, 0, 0])),
    /dictionary/,
  );
});
