/**
 * A small command-line option parser: `--name`, `--name VALUE`,
 * `--name=VALUE`, `-x` and grouped short flags (`-vv`), `--` to end the
 * options. Written for pystack instead of `node:util`'s `parseArgs`, whose
 * import pulls in Deno's Node compatibility layer and costs every run several
 * milliseconds of start-up.
 *
 * @module
 */

/** How one option is written. */
export interface OptionSpec {
  type: "boolean" | "string";
  /** One-letter alias, as in `-v`. */
  short?: string;
  /** Repeatable: the values are collected in order. */
  multiple?: boolean;
}

/** The value an option of `spec` yields. */
type ValueOf<S extends OptionSpec> = S["type"] extends "string"
  ? (S extends { multiple: true } ? string[] : string)
  : (S extends { multiple: true } ? boolean[] : boolean);

/** The values of the options given; an option not given is absent. */
export type OptionValues<T extends Record<string, OptionSpec>> = {
  [K in keyof T]?: ValueOf<T[K]>;
};

/** Thrown for a malformed command line; the message is one line. */
export class OptionError extends Error {
  override name = "OptionError";
}

/**
 * Parses `args` against `options`. Throws {@linkcode OptionError} for an
 * unknown option, a missing value or a value given to a flag.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./parse_options.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   verbose: { type: "boolean", short: "v", multiple: true },
 *   duration: { type: "string" },
 * } as const;
 * const { values, positionals } = parseOptions(["-vv", "watch", "--duration=2s", "12"], spec);
 * assert.deepEqual(values, { verbose: [true, true], duration: "2s" });
 * assert.deepEqual(positionals, ["watch", "12"]);
 * ```
 */
export function parseOptions<T extends Record<string, OptionSpec>>(
  args: readonly string[],
  options: T,
): { values: OptionValues<T>; positionals: string[] } {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const shorts = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.short !== undefined) shorts.set(spec.short, name);
  }
  const set = (name: string, value: string | boolean) => {
    if (options[name]!.multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (spec === undefined) throw new OptionError(`Unknown option '--${name}'`);
      if (spec.type === "boolean") {
        if (eq >= 0) throw new OptionError(`Option '--${name}' does not take a value`);
        set(name, true);
      } else if (eq >= 0) {
        set(name, arg.slice(eq + 1));
      } else {
        const value = args[i + 1];
        if (value === undefined || value.startsWith("--")) {
          throw new OptionError(`Option '--${name}' needs a value`);
        }
        set(name, value);
        i++;
      }
      continue;
    }
    if (arg.length > 1 && arg.startsWith("-")) {
      for (const letter of arg.slice(1)) {
        const name = shorts.get(letter);
        if (name === undefined) throw new OptionError(`Unknown option '-${letter}'`);
        if (options[name]!.type !== "boolean") {
          throw new OptionError(`Option '-${letter}' needs a value: write --${name} VALUE`);
        }
        set(name, true);
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values: values as OptionValues<T>, positionals };
}
