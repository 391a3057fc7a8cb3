import assert from "node:assert/strict";
import { classifyFutex, gilRegion } from "./futex_rules.ts";

const GIL = gilRegion(0x7f78e42561b8n, 16, { interpreterIds: [0], holderTid: 32186 });
const THREADS = [
  { tid: 31308, fsBase: 0x7f83b7e95740n },
  { tid: 31310, fsBase: 0x7f83b7e94740n },
  { tid: 31311, fsBase: 0x7f83b76936c0n },
];
const where = { gils: [GIL], threads: THREADS };

Deno.test("classifyFutex() finds GIL waiters inside cond and mutex, and hand-overs", () => {
  // gil + 0x4c = cond.__g_signals[1] (measured on 3.12).
  assert.equal(classifyFutex(0x7f78e42561b8n + 0x4cn, {}, where).kind, "gil");
  assert.equal(classifyFutex(0x7f78e42561b8n + 0x50n, {}, where).kind, "gil"); // mutex
  assert.equal(classifyFutex(0x7f78e42561b8n + 0x78n, {}, where).kind, "gil_handover");
  assert.equal(classifyFutex(0x7f78e42561b8n + 0x10n, {}, where).kind, "unknown"); // `locked`
});

Deno.test("classifyFutex() reads a pthread mutex's owner, and says when it is no thread", () => {
  assert.deepEqual(classifyFutex(0x560fc8a660a0n, { word: 2, owner: 31310 }, where), {
    kind: "pthread_mutex",
    ownerTid: 31310,
    ownerRaw: 31310,
  });
  assert.deepEqual(classifyFutex(0x560fc8a660a0n, { word: 1, owner: 4242 }, where), {
    kind: "pthread_mutex",
    ownerRaw: 4242,
  });
});

Deno.test("classifyFutex() finds pthread_join by the joined thread's tid field", () => {
  // &pd->tid of 31311 = pthread_t + 0x2d0, holding 31311 (measured, glibc 2.36).
  assert.deepEqual(classifyFutex(0x7f83b7693990n, { word: 31311 }, where), {
    kind: "pthread_join",
    tid: 31311,
    exact: true,
  });
  // glibc 2.43: a join-state word at pthread_t + 0x628 holding 2 (measured on Debian sid).
  assert.deepEqual(
    classifyFutex(0x7f83b76936c0n + 0x628n, { word: 2, owner: 0 }, { ...where, waiter: 31308 }),
    { kind: "pthread_join", tid: 31311, exact: false },
  );
  // A futex in the waiter's own struct pthread is no join.
  assert.equal(
    classifyFutex(0x7f83b7e95740n + 0x628n, { word: 2, owner: 0 }, { ...where, waiter: 31308 })
      .kind,
    "pthread_mutex",
  );
  // The same value elsewhere is no join.
  assert.equal(classifyFutex(0x10000n, { word: 31311 }, where).kind, "unknown");
});

Deno.test("classifyFutex() says unknown for semaphores and unreadable words", () => {
  assert.equal(classifyFutex(0x560fc8a66120n, { word: 0 }, where).kind, "unknown");
  assert.equal(classifyFutex(0x560fc8a66120n, {}, where).kind, "unknown");
});
