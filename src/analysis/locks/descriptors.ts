/**
 * What a live process's file descriptor is: a file path, a pipe, or a socket
 * with its addresses and state from the target's own `/proc/PID/net/*` (its
 * network namespace). Parsers are pure; `describeFd` reads `/proc`.
 *
 * @module
 */

/** TCP states of `/proc/net/tcp`, by their hex code. */
const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

/** `0100007F:1F90` → `127.0.0.1:8080`; IPv6 (32 hex digits) → `[…]:port`. */
export function decodeSocketAddress(text: string): string {
  const [addr = "", port = "0"] = text.split(":");
  const p = parseInt(port, 16);
  if (addr.length === 8) {
    const n = parseInt(addr, 16);
    return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}:${p}`;
  }
  // IPv6: four 32-bit words, each in host (little-endian) order.
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = addr.slice(w * 8, w * 8 + 8);
    const bytes = [6, 4, 2, 0].map((i) => word.slice(i, i + 2));
    groups.push(bytes[0]! + bytes[1]!, bytes[2]! + bytes[3]!);
  }
  const v6 = groups.map((g) => parseInt(g, 16).toString(16)).join(":")
    .replace(/(^|:)0(:0)+(:|$)/, "::");
  return `[${v6}]:${p}`;
}

/**
 * The socket with inode `inode` in the text of `/proc/PID/net/tcp` (or tcp6, udp, udp6):
 * `TCP 10.0.3.4:53412 → 10.0.3.9:5432 ESTABLISHED`, `TCP listening 0.0.0.0:8000`.
 *
 * @example A listening socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { findInetSocket } from "./descriptors.ts";
 * const text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
 *   "   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1";
 * assert.equal(findInetSocket(text, 4242, "TCP"), "TCP listening 0.0.0.0:8000");
 * ```
 */
export function findInetSocket(text: string, inode: number, proto: string): string | undefined {
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || Number(f[9]) !== inode) continue;
    const local = decodeSocketAddress(f[1]!);
    const remote = decodeSocketAddress(f[2]!);
    const state = TCP_STATES[f[3]!.toUpperCase()] ?? f[3]!;
    if (proto === "TCP" && state === "LISTEN") return `TCP listening ${local}`;
    if (proto === "UDP") return `UDP ${local}${remote.endsWith(":0") ? "" : ` → ${remote}`}`;
    return `${proto} ${local} → ${remote} ${state}`;
  }
  return undefined;
}

/** The unix socket with inode `inode` in `/proc/PID/net/unix`: `unix socket /run/x.sock`. */
export function findUnixSocket(text: string, inode: number): string | undefined {
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7 || Number(f[6]) !== inode) continue;
    return f[7] === undefined ? "unix socket" : `unix socket ${f[7]}`;
  }
  return undefined;
}

/** What descriptor `fd` of live process `pid` is, undefined when it cannot be read. */
export function describeFd(pid: number, fd: number): string | undefined {
  let link: string;
  try {
    link = Deno.readLinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
  const socket = /^socket:\[(\d+)\]$/.exec(link);
  if (socket !== null) {
    const inode = Number(socket[1]);
    for (
      const [file, proto] of [["tcp", "TCP"], ["tcp6", "TCP"], ["udp", "UDP"], ["udp6", "UDP"]]
    ) {
      const found = readProc(`/proc/${pid}/net/${file}`, (t) => findInetSocket(t, inode, proto!));
      if (found !== undefined) return found;
    }
    return readProc(`/proc/${pid}/net/unix`, (t) => findUnixSocket(t, inode)) ?? "socket";
  }
  if (/^pipe:\[\d+\]$/.test(link)) return "pipe";
  if (/^anon_inode:/.test(link)) return link.slice("anon_inode:".length);
  return link;
}

function readProc(path: string, find: (text: string) => string | undefined): string | undefined {
  try {
    return find(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
}

/**
 * Registers as far as `/proc/PID/task/TID/syscall` tells them (without ptrace, `--no-block`):
 * `NR arg1 … arg6 sp pc`, or `running` / `-1 sp pc` when not in a system call.
 */
export function parseProcSyscall(text: string): { nr: number; args: bigint[] } | undefined {
  const f = text.trim().split(/\s+/);
  if (f.length < 7 || !/^\d+$/.test(f[0]!)) return undefined;
  const args = f.slice(1, 7);
  if (!args.every((a) => /^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/.test(a))) return undefined;
  return { nr: Number(f[0]), args: args.map((a) => BigInt.asUintN(64, BigInt(a))) };
}
