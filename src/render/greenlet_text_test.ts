import assert from "node:assert/strict";
import type { GreenletStack, PyThread } from "../model.ts";
import { greenletHeader, greenletLines, greenletsAfter } from "./greenlet_text.ts";

const stack = (extra: Partial<GreenletStack> = {}): GreenletStack => ({
  address: 0x7f00n,
  typeName: "gevent._gevent_cgreenlet.Greenlet",
  tid: 7,
  frames: [],
  ...extra,
});

Deno.test("greenletHeader() names the main greenlet, the hub, the spawn function or the type", () => {
  const tail = "(most recent call last):";
  assert.equal(
    greenletHeader(stack({ role: "main", typeName: "greenlet.greenlet" })),
    `Greenlet 0x7f00 (suspended) in thread 7 (inferred), the main greenlet ${tail}`,
  );
  assert.equal(
    greenletHeader(stack({ role: "hub", typeName: "Hub" })),
    `Greenlet 0x7f00 (suspended) in thread 7 (inferred), gevent's hub ${tail}`,
  );
  assert.equal(
    greenletHeader(stack({ spawnFunction: "Server.serve" })),
    `Greenlet 0x7f00 (suspended) in thread 7 (inferred), gevent._gevent_cgreenlet.Greenlet spawned for ` +
      `Server.serve ${tail}`,
  );
  assert.equal(
    greenletHeader(stack({ tid: 0 })),
    `Greenlet 0x7f00 (suspended) in an unknown thread, gevent._gevent_cgreenlet.Greenlet ${tail}`,
  );
});

Deno.test("greenletLines() ends an incomplete stack with the marker threads use", () => {
  const lines = greenletLines(
    stack({ partial: "saved frame pointer 0x1 does not lead to a frame" }),
    () => [],
  );
  assert.deepEqual(lines.slice(1), [
    "    (!) Stack may be incomplete: saved frame pointer 0x1 does not lead to a frame",
  ]);
});

Deno.test("greenletsAfter() puts each greenlet after its thread, the others last", () => {
  const thread = (tid: number) => ({ tid }) as PyThread;
  const threads = [thread(7), thread(8)];
  const greenlets = [stack({ tid: 8 }), stack({ tid: 0 }), stack({ tid: 7 }), stack({ tid: 9 })];
  assert.deepEqual(greenletsAfter(greenlets, threads, threads[0]), [greenlets[2]]);
  assert.deepEqual(greenletsAfter(greenlets, threads, threads[1]), [greenlets[0]]);
  assert.deepEqual(greenletsAfter(greenlets, threads, undefined), [greenlets[1], greenlets[3]]);
  assert.deepEqual(greenletsAfter(undefined, threads, threads[0]), []);
});
