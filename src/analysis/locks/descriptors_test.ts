import assert from "node:assert/strict";
import {
  decodeSocketAddress,
  findInetSocket,
  findUnixSocket,
  parseProcSyscall,
} from "./descriptors.ts";

const TCP =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D0C4 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1`;

Deno.test("decodeSocketAddress() reads IPv4 and IPv6 as /proc/net writes them", () => {
  assert.equal(decodeSocketAddress("0100007F:1538"), "127.0.0.1:5432");
  assert.equal(decodeSocketAddress("00000000000000000000000001000000:0050"), "[::1]:80");
});

Deno.test("findInetSocket() names listening and connected TCP sockets by inode", () => {
  assert.equal(findInetSocket(TCP, 4242, "TCP"), "TCP listening 0.0.0.0:8000");
  assert.equal(
    findInetSocket(TCP, 4343, "TCP"),
    "TCP 127.0.0.1:53444 → 127.0.0.1:5432 ESTABLISHED",
  );
  assert.equal(findInetSocket(TCP, 1, "TCP"), undefined);
});

Deno.test("findUnixSocket() names a unix socket's path", () => {
  const text = "Num       RefCount Protocol Flags    Type St Inode Path\n" +
    "0000000000000000: 00000002 00000000 00010000 0001 01 777 /run/x.sock\n";
  assert.equal(findUnixSocket(text, 777), "unix socket /run/x.sock");
});

Deno.test("parseProcSyscall() reads /proc/PID/task/TID/syscall", () => {
  assert.deepEqual(parseProcSyscall("202 0x7f00 0x80 0x2 0x0 0x0 0x0 0x7ffd 0x7f11\n"), {
    nr: 202,
    args: [0x7f00n, 0x80n, 0x2n, 0n, 0n, 0n],
  });
  assert.equal(parseProcSyscall("running\n"), undefined);
  assert.equal(parseProcSyscall("-1 0x7ffd 0x7f11\n"), undefined);
});

Deno.test("the /proc parsers never throw on malformed text", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = "0123456789ABCDEFx: \n-[]";
  for (let i = 0; i < 500; i++) {
    const text = Array.from(
      { length: Math.floor(rand() * 200) },
      () => alphabet[Math.floor(rand() * alphabet.length)],
    ).join("");
    parseProcSyscall(text);
    findInetSocket(text, 1, "TCP");
    findUnixSocket(text, 1);
    decodeSocketAddress(text.split("\n")[0]!);
  }
});
