/**
 * What a stack of `fixtures/churning_stack.py` may look like at one moment:
 * shared by the tests that read it while it churns.
 *
 * @module
 */
import { FIXTURES_DIR } from "./_harness.ts";

const FIXTURE = "churning_stack.py";

/** A frame as both outputs show it. */
export interface Frame {
  file: string;
  function: string;
  line: number | null;
}

/** Lines of the fixture: `@call NAME` markers and `def NAME(` lines. */
export interface FixtureLines {
  call: Map<string, number>;
  def: Map<string, number>;
}

export function fixtureLines(): FixtureLines {
  const call = new Map<string, number>();
  const def = new Map<string, number>();
  Deno.readTextFileSync(FIXTURES_DIR + FIXTURE).split("\n").forEach((text, i) => {
    const marker = /# @call (\S+)$/.exec(text);
    if (marker) call.set(marker[1]!, i + 1);
    const header = /^def (\w+)\(/.exec(text);
    if (header) def.set(header[1]!, i + 1);
  });
  return { call, def };
}

/**
 * Why the `churn` thread's frames cannot be one moment of the fixture, or
 * undefined when they can: `churn` (at the call of chain X when it has
 * callees), then X1 … Xk of one chain, each caller at its call, the newest
 * at its call or its first line.
 */
export function tornStack(
  frames: Frame[],
  script: string,
  lines: FixtureLines,
): string | undefined {
  const own = frames.filter((frame) => frame.file === script);
  if (frames.slice(frames.length - own.length).some((frame) => frame.file !== script)) {
    return "a frame of another file among the fixture's";
  }
  const [churn, ...chain] = own;
  if (churn?.function !== "churn") return `first fixture frame is ${churn?.function}, not churn`;
  const letter = chain[0]?.function[0];
  const atChurn = [
    lines.call.get("churn-a"),
    lines.call.get("churn-b"),
    lines.def.get("churn")! + 3,
  ];
  if (!atChurn.includes(churn.line ?? -1)) return `churn at line ${churn.line}`;
  if (letter === undefined) return undefined;
  if (churn.line !== lines.call.get(`churn-${letter}`)) {
    return `churn at line ${churn.line} while in chain ${letter}`;
  }
  for (const [i, frame] of chain.entries()) {
    const name = `${letter}${i + 1}`;
    if (frame.function !== name) {
      return `frame ${i + 1} of the chain is ${frame.function}, not ${name}`;
    }
    const newest = i === chain.length - 1;
    const allowed = newest ? [lines.call.get(name), lines.def.get(name)] : [lines.call.get(name)];
    if (!allowed.includes(frame.line ?? -1)) return `${name} at line ${frame.line}`;
  }
  return undefined;
}
