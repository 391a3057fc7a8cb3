import assert from "node:assert/strict";
import { combineInterpreters } from "./combine_interpreters.ts";
import type { PyThread, ThreadException } from "../model.ts";

function handling(type: string): ThreadException {
  return { state: "handling", type, message: "", address: 0x10n, chain: [] };
}

function state(interpreterId: number, exception?: ThreadException): PyThread {
  return {
    tid: 7,
    threadStateAddress: BigInt(0x1000 * (interpreterId + 1)),
    interpreterId,
    frames: [],
    holdsGil: false,
    gcCollecting: false,
    ...(exception === undefined ? {} : { exception }),
  };
}

Deno.test("combineInterpreters() keeps the innermost part's exception for a joined thread", () => {
  // Outermost first by anchor: the main interpreter (0x9000), then interpreter 1 (0x8000).
  const [joined] = combineInterpreters(
    [state(1, handling("KeyError")), state(0, handling("OSError"))],
    [0x8000n, 0x9000n],
  );
  assert.equal(joined?.exception?.type, "KeyError");
  const [none] = combineInterpreters([state(1), state(0, handling("OSError"))], [0x8000n, 0x9000n]);
  assert.equal(none?.exception?.type, "OSError", "the innermost part that handles one");
  const [neither] = combineInterpreters([state(1), state(0)], [0x8000n, 0x9000n]);
  assert.equal(neither?.exception, undefined);
});
