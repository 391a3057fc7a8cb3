/**
 * The command line of `pystack watch`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { NativeMode } from "../native/merge.ts";
import { MAX_SAMPLES } from "../analysis/watch/watch_model.ts";

/** Output formats of `watch`. */
export const WATCH_FORMATS = ["text", "json", "collapsed", "speedscope"] as const;

/** A parsed `pystack watch` command. */
export interface WatchCommand {
  kind: "watch";
  pid: number;
  block: boolean;
  native?: NativeMode;
  /** Stop after this long, in milliseconds. */
  durationMs?: number;
  /** Stop after this many samples. */
  samples?: number;
  intervalMs: number;
  format: (typeof WATCH_FORMATS)[number];
  /** `--json`, or `--format json`. */
  json: boolean;
  group?: boolean;
  subprocesses?: boolean;
  /** `--timeout`, in seconds: sampling ends when it runs out. */
  timeout?: number;
  verbose: number;
  noColor: boolean;
}

/** The options only `watch` takes (`parseOptions` form). */
export const WATCH_OPTIONS = {
  duration: { type: "string" },
  samples: { type: "string" },
  interval: { type: "string" },
  format: { type: "string" },
} as const;

const USAGE = "usage: pystack watch PID [--duration 5s | --samples N] [--interval 100ms] [options]";
/** Longest duration accepted: one day. */
const MAX_DURATION_MS = 86_400_000;

/**
 * A duration: a number with `ms`, `s`, `m` or no unit (seconds). Undefined
 * when it is not one.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./watch_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseDuration("100ms"), 100);
 * assert.equal(parseDuration("2"), 2000);
 * assert.equal(parseDuration("1.5s"), 1500);
 * assert.equal(parseDuration("soon"), undefined);
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return value * (unit === "ms" ? 1 : unit === "s" ? 1000 : 60_000);
}

/** Parses what follows `watch`. Throws {@linkcode UsageError}. */
export function parseWatch(
  values: Record<string, unknown>,
  rest: string[],
  context: {
    native: NativeMode | undefined;
    verbose: number;
    noColor: boolean;
    pid: (text: string, usage: string) => number;
  },
): WatchCommand {
  if (rest.length === 0) throw new UsageError("Missing the PID to watch", USAGE);
  if (rest.length > 1) throw new UsageError(`Unexpected argument '${rest[1]}'`, USAGE);
  const pid = context.pid(rest[0]!, USAGE);
  const block = !values["no-block"];
  if (context.native !== undefined && !block) {
    throw new UsageError(
      "Native stacks are only available in blocking mode: --no-block cannot be combined with " +
        "--native, --native-all or --native-last",
      USAGE,
    );
  }
  const formatText = values.format as string | undefined;
  const format = formatText ?? (values.json ? "json" : "text");
  if (!(WATCH_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(
      `Unknown format '${format}'`,
      `use one of ${WATCH_FORMATS.join(", ")}`,
    );
  }
  if (values.json && format !== "json") {
    throw new UsageError(`--json cannot be combined with --format ${format}`, USAGE);
  }
  const command: WatchCommand = {
    kind: "watch",
    pid,
    block,
    intervalMs: 100,
    format: format as WatchCommand["format"],
    json: format === "json",
    verbose: context.verbose,
    noColor: context.noColor,
  };
  if (context.native !== undefined) command.native = context.native;
  if (values.group) command.group = true;
  if (values.subprocesses) command.subprocesses = true;
  const duration = values.duration as string | undefined;
  const samples = values.samples as string | undefined;
  const interval = values.interval as string | undefined;
  if (duration !== undefined && samples !== undefined) {
    throw new UsageError("--duration and --samples cannot be combined", USAGE);
  }
  if (duration !== undefined) {
    const ms = parseDuration(duration);
    if (ms === undefined || ms <= 0 || ms > MAX_DURATION_MS) {
      throw new UsageError(
        `Invalid duration '${duration}'`,
        "give a number of seconds up to a day, or a number with ms, s or m: --duration 5s",
      );
    }
    command.durationMs = ms;
  }
  if (samples !== undefined) {
    const n = /^\d+$/.test(samples) ? Number(samples) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SAMPLES) {
      throw new UsageError(
        `Invalid sample count '${samples}'`,
        `give a whole number from 1 to ${MAX_SAMPLES}`,
      );
    }
    command.samples = n;
  }
  if (interval !== undefined) {
    const ms = parseDuration(interval);
    if (ms === undefined || ms > MAX_DURATION_MS) {
      throw new UsageError(
        `Invalid interval '${interval}'`,
        "give a number of seconds, or a number with ms, s or m: --interval 100ms",
      );
    }
    command.intervalMs = ms;
  }
  return command;
}
