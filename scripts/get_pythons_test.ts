import assert from "node:assert/strict";
import { findMirror, isUnreachable } from "./get_pythons.ts";

const DEB822 = `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`;

Deno.test("findMirror() takes the deb822 source of the machine's own release, with its keyring", () => {
  assert.deepEqual(findMirror([{ name: "debian.sources", text: DEB822 }], "bookworm"), {
    uri: "http://deb.debian.org/debian",
    signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
  });
  assert.equal(findMirror([{ name: "debian.sources", text: DEB822 }], "trixie"), undefined);
});

Deno.test("findMirror() reads one-line sources and skips other suites", () => {
  const list = [
    "deb https://packages.example.com/apt cloud-sdk-bookworm main",
    "# deb http://old.example.com/debian bookworm main",
    "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example.com/debian bookworm main contrib",
  ].join("\n");
  assert.deepEqual(findMirror([{ name: "sources.list", text: list }], "bookworm"), {
    uri: "http://mirror.example.com/debian",
    signedBy: "/k.gpg",
  });
});

Deno.test("get_pythons.ts says when the mirror cannot be reached, exits 1 and records why", async () => {
  const cache = await Deno.makeTempDir({ prefix: "pystack-get-pythons-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("./get_pythons.ts", import.meta.url).pathname],
      env: {
        _PYSTACK_PYTHONS_CACHE: cache,
        PYSTACK_SID_MIRROR: "http://127.0.0.1:9/debian",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, stderr);
    assert.match(stderr, /Cannot download Debian sid's package lists from http:\/\/127\.0\.0\.1:9/);
    const recorded = JSON.parse(await Deno.readTextFile(`${cache}/unavailable.json`));
    assert.match(recorded.reason, /Connection refused|Could not connect/);
    assert.match(stderr, /the mirror cannot be reached: the tests skip these Pythons/);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("get_pythons.ts exits 2 and records nothing when the mirror answers without sid", async () => {
  // A mirror that is reachable but has no sid: a setup error, which must fail CI, not skip.
  const cache = await Deno.makeTempDir({ prefix: "pystack-get-pythons-" });
  await Deno.writeTextFile(`${cache}/unavailable.json`, '{"reason":"stale"}');
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("no such file", { status: 404 }),
  );
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("./get_pythons.ts", import.meta.url).pathname],
      env: {
        _PYSTACK_PYTHONS_CACHE: cache,
        PYSTACK_SID_MIRROR: `http://127.0.0.1:${server.addr.port}/debian`,
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, stderr);
    assert.match(
      stderr,
      /Cannot download Debian sid's package lists from http:\/\/127\.0\.0\.1:\d+/,
    );
    assert.match(stderr, /a setup error: the tests of these Pythons fail/);
    await assert.rejects(Deno.stat(`${cache}/unavailable.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("isUnreachable() tells an unreachable mirror from other failures", () => {
  for (
    const message of [
      "Cannot download Debian sid's package lists from http://x/debian: Failed to fetch http://x/debian/dists/sid/InRelease Could not connect to x:80 (10.0.0.1). - connect (111: Connection refused)",
      "Cannot download Debian sid's package lists from http://x/debian: Failed to fetch http://x/dists/sid/InRelease Temporary failure resolving 'x'",
      "Cannot download python3.14-minimal 3.14.0-1 from sid: no answer in 2m",
    ]
  ) assert.ok(isUnreachable(message), message);
  for (
    const message of [
      "Cannot download Debian sid's package lists from http://x/debian: The repository 'http://x/debian sid Release' does not have a Release file.",
      "Cannot fetch Python 3.15: sid has no python3.15-minimal",
      "Cannot run the unpacked Python 3.14 (usr/bin/python3.14): exit 127: not found",
      "Cannot find a Debian mirror: no apt source in /etc/apt names this release (unknown)",
      "Cannot install patchelf: apt-get install exited with 100: E: Unable to locate package",
    ]
  ) assert.ok(!isUnreachable(message), message);
});
