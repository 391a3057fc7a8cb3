import assert from "node:assert/strict";
import { findMirror } from "./get_pythons.ts";

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
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
