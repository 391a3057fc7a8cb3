import assert from "node:assert/strict";
import {
  findVersionString,
  parseVersionHex,
  type PythonVersion,
  versionFromFileName,
} from "./version.ts";
import { fromHex, latin1 } from "../bytes.ts";

interface HexCase {
  python: string;
  hex: number;
  /** The value was also read from the exported `Py_Version` (3.11+). */
  pyVersion: boolean;
  expected: PythonVersion;
}

interface ChunkCase {
  python: string;
  /** `sys.version`, equal to the C string at `Py_GetVersion()`. */
  getVersion: string;
  expected: PythonVersion;
  /** Live memory from 96 bytes before `Py_GetVersion()` to 32 bytes past its 250-byte buffer. */
  bytes: string;
}

Deno.test("parseVersionHex() decodes real sys.hexversion and Py_Version values", async (t) => {
  assert.ok(HEX_VERSIONS.filter((c) => c.pyVersion).length >= 3);
  for (const c of HEX_VERSIONS) {
    await t.step(c.python, () => {
      assert.deepEqual(parseVersionHex(c.hex), c.expected);
      assert.deepEqual(parseVersionHex(BigInt(c.hex)), c.expected);
    });
  }
});

Deno.test("parseVersionHex() decodes pre-releases", () => {
  // PY_VERSION_HEX of 3.13.0rc1, 3.12.0a7 and 3.14.0b2 (Include/patchlevel.h layout)
  assert.deepEqual(parseVersionHex(0x030d00c1), {
    major: 3,
    minor: 13,
    micro: 0,
    releaseLevel: "candidate",
    serial: 1,
  });
  assert.equal(parseVersionHex(0x030c00a7)?.releaseLevel, "alpha");
  assert.equal(parseVersionHex(0x030e00b2)?.releaseLevel, "beta");
});

Deno.test("parseVersionHex() rejects implausible values", () => {
  const real = HEX_VERSIONS.find((c) => c.python === "3.11.7")!.hex;
  assert.equal(parseVersionHex(real | 0x1), undefined, "final with serial 1");
  assert.equal(parseVersionHex((real & ~0xf0) | 0xd0), undefined, "release level 0xD");
  assert.equal(parseVersionHex((real & 0x00ffffff) | 0x04000000), undefined, "major 4");
  assert.equal(parseVersionHex(0), undefined);
  assert.equal(parseVersionHex(BigInt(real) | (1n << 32n)), undefined, "upper bytes set");
  assert.equal(parseVersionHex(-1), undefined);
  assert.equal(parseVersionHex(1.5), undefined);
});

Deno.test("findVersionString() finds Py_GetVersion() in real memory", async (t) => {
  for (const c of GET_VERSION_CHUNKS) {
    await t.step(c.python, () => {
      const bytes = fromHex(c.bytes);
      assert.ok(latin1(bytes).includes(c.getVersion + "\0"), "the chunk holds the string");
      assert.deepEqual(findVersionString(bytes), c.expected);
    });
  }
});

Deno.test("findVersionString() finds nothing in real libpython .rodata", () => {
  const bytes = fromHex(RODATA_311);
  assert.ok(latin1(bytes).includes("/3.11.7\0"));
  assert.equal(findVersionString(bytes), undefined);
});

Deno.test("findVersionString() needs the build-info shape", () => {
  const encode = (s: string) => new TextEncoder().encode(s);
  const real = GET_VERSION_CHUNKS.find((c) => c.python === "3.13.0")!.getVersion;
  assert.equal(findVersionString(encode("zlib 2.0.1 (see docs) ")), undefined);
  assert.equal(findVersionString(encode("3.11.7 (main) [GCC]")), undefined);
  assert.equal(findVersionString(encode("1" + real)), undefined, "13.13.0 is no version");
  const bytes = encode(real);
  bytes[real.indexOf(",") + 2] = 0x6a; // "May" -> "jay": no __DATE__ any more
  assert.equal(findVersionString(bytes), undefined);
});

Deno.test("findVersionString() reads pre-release and free-threading suffixes", () => {
  const encode = (s: string) => new TextEncoder().encode(s);
  const info = "(main, Oct  7 2024, 05:02:14) [GCC 12.2.0]";
  assert.deepEqual(findVersionString(encode(`3.13.0rc3 ${info}`)), {
    major: 3,
    minor: 13,
    micro: 0,
    releaseLevel: "candidate",
    serial: 3,
  });
  assert.equal(findVersionString(encode(`3.14.0a1+ ${info}`))?.releaseLevel, "alpha");
  assert.equal(
    findVersionString(encode(`3.13.0 experimental free-threading build ${info}`))?.minor,
    13,
  );
  assert.equal(findVersionString(encode("2.7.18 (default, xx/xx/xx, xx:xx:xx)"))?.micro, 18);
});

Deno.test("versionFromFileName() reads libpython and executable names", () => {
  assert.deepEqual(versionFromFileName("libpython3.11.so.1.0"), { major: 3, minor: 11 });
  assert.deepEqual(versionFromFileName("/usr/lib/libpython2.7.so"), { major: 2, minor: 7 });
  assert.deepEqual(versionFromFileName("/opt/py/bin/python3.13t"), { major: 3, minor: 13 });
  assert.deepEqual(versionFromFileName("libpython3.6m.so.1.0"), { major: 3, minor: 6 });
  assert.deepEqual(versionFromFileName("LIBPYTHON3.10.SO"), { major: 3, minor: 10 });
  assert.equal(versionFromFileName("python3"), undefined);
  assert.equal(versionFromFileName("/usr/lib/python3.11/os.py"), undefined);
  assert.equal(versionFromFileName("mypython3.11"), undefined);
  assert.equal(versionFromFileName("python3.111"), undefined);
});

Deno.test("versionFromFileName() agrees with the real pyenv installs", () => {
  for (const c of HEX_VERSIONS) {
    const { major, minor } = c.expected;
    assert.deepEqual(versionFromFileName(`python${major}.${minor}`), { major, minor });
  }
});

// <generated by=capture_decoder_cases.py section=version>
// sys.hexversion (== Py_Version where pyVersion) and sys.version_info
// deno-fmt-ignore
const HEX_VERSIONS: HexCase[] = [
  { python: "2.7.18", hex: 0x020712f0, pyVersion: false, expected: { major: 2, minor: 7, micro: 18, releaseLevel: "final", serial: 0 } },
  { python: "3.6.15", hex: 0x03060ff0, pyVersion: false, expected: { major: 3, minor: 6, micro: 15, releaseLevel: "final", serial: 0 } },
  { python: "3.7.16", hex: 0x030710f0, pyVersion: false, expected: { major: 3, minor: 7, micro: 16, releaseLevel: "final", serial: 0 } },
  { python: "3.8.18", hex: 0x030812f0, pyVersion: false, expected: { major: 3, minor: 8, micro: 18, releaseLevel: "final", serial: 0 } },
  { python: "3.9.18", hex: 0x030912f0, pyVersion: false, expected: { major: 3, minor: 9, micro: 18, releaseLevel: "final", serial: 0 } },
  { python: "3.10.13", hex: 0x030a0df0, pyVersion: false, expected: { major: 3, minor: 10, micro: 13, releaseLevel: "final", serial: 0 } },
  { python: "3.11.7", hex: 0x030b07f0, pyVersion: true, expected: { major: 3, minor: 11, micro: 7, releaseLevel: "final", serial: 0 } },
  { python: "3.12.1", hex: 0x030c01f0, pyVersion: true, expected: { major: 3, minor: 12, micro: 1, releaseLevel: "final", serial: 0 } },
  { python: "3.13.0", hex: 0x030d00f0, pyVersion: true, expected: { major: 3, minor: 13, micro: 0, releaseLevel: "final", serial: 0 } },
];

// live memory around Py_GetVersion()'s static buffer (.bss of libpython)
// deno-fmt-ignore
const GET_VERSION_CHUNKS: ChunkCase[] = [
  { python: "2.7.18", getVersion: "2.7.18 (default, May  9 2026, 07:29:50) \n[GCC 12.2.0]", expected: { major: 2, minor: 7, micro: 18, releaseLevel: "final", serial: 0 }, bytes: "809b3b95357f0000c0afa4add4550000a0cfb0add45500000000000000000000e0e72695357f0000000000000000000000000000000000000000000000000000d0383b95357f0000b0d83395357f000050e72695357f000000af3795357f0000322e372e3138202864656661756c742c204d617920203920323032362c2030373a32393a353029200a5b4743432031322e322e305d00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000007066a7add4550000000000000000000070d83995357f000020b4" },
  { python: "3.10.13", getVersion: "3.10.13 (main, May  9 2026, 07:34:36) [GCC 12.2.0]", expected: { major: 3, minor: 10, micro: 13, releaseLevel: "final", serial: 0 }, bytes: "30d1a17c047f0000000000000000000000df4c7c047f000000e1537c047f000000000000000000000000000000000000a089547c047f00000000000000000000000000000000000000000000000000000000000000000000e069b87c047f0000332e31302e313320286d61696e2c204d617920203920323032362c2030373a33343a333629205b4743432031322e322e305d00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" },
  { python: "3.13.0", getVersion: "3.13.0 (main, May  9 2026, 07:36:57) [GCC 12.2.0]", expected: { major: 3, minor: 13, micro: 0, releaseLevel: "final", serial: 0 }, bytes: "40e8253f947f00000000000000000000c074dd3e947f00004007e63e947f00000000000000000000bb0000000000000000000000000000000000000000000000bb00000000000000000000000000000000000000000000000000000000000000332e31332e3020286d61696e2c204d617920203920323032362c2030373a33363a353729205b4743432031322e322e305d0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" },
];

// libpython3.11.so.1.0 .rodata (file offset 0x3bdd05) around "3.11.7\0": no Py_GetVersion() string
// deno-fmt-ignore
const RODATA_311: string = "776974686f7574204d6f64756c65732f7878737562747970652e632e007265717569726573207475706c65206f6620617267756d656e7473006661696c656420746f206a6f696e207061746873005555006661696c656420746f206d616b652070617468206162736f6c757465006f735f6e616d6500574954485f4e4558545f4652414d45574f524b002f726f6f742f2e7079656e762f76657273696f6e732f332e31312e3700455845435f50524546495800565041544800505944454255474558540056455253494f4e5f4d414a4f520056455253494f4e5f4d494e4f5200505957494e564552004558455f53554646495800454e565f5041544800454e565f505954484f4e484f4d4500454e565f505954484f4e45584543555441424c4500454e565f5f5f505956454e565f4c41554e434845525f5f007265616c5f6578";
// </generated>
