/**
 * Validation of `pystack watch` documents: `--json` against
 * `schema/pystack-watch.schema.json`, `--format speedscope` against the rules
 * of speedscope's file format (https://www.speedscope.app/file-format-schema.json,
 * written out here for its sampled profiles, the kind pystack writes).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { REPO_ROOT } from "./_harness.ts";
import { REPORT_SCHEMA } from "./_json_schema.ts";

const WATCH_SCHEMA: Record<string, unknown> = JSON.parse(
  Deno.readTextFileSync(`${REPO_ROOT}schema/pystack-watch.schema.json`),
);

/** speedscope's `FileFormat.File` with `SampledProfile` profiles and `Frame`s. */
const SPEEDSCOPE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["$schema", "profiles", "shared"],
  properties: {
    $schema: { enum: ["https://www.speedscope.app/file-format-schema.json"] },
    name: { type: "string" },
    activeProfileIndex: { type: "number" },
    exporter: { type: "string" },
    shared: {
      type: "object",
      required: ["frames"],
      properties: {
        frames: {
          type: "array",
          items: {
            type: "object",
            required: ["name"],
            properties: {
              name: { type: "string" },
              file: { type: "string" },
              line: { type: "number" },
              col: { type: "number" },
            },
          },
        },
      },
    },
    profiles: {
      type: "array",
      items: {
        type: "object",
        required: ["endValue", "name", "samples", "startValue", "type", "unit", "weights"],
        properties: {
          type: { enum: ["sampled"] },
          name: { type: "string" },
          unit: {
            enum: ["bytes", "microseconds", "milliseconds", "nanoseconds", "none", "seconds"],
          },
          startValue: { type: "number" },
          endValue: { type: "number" },
          samples: { type: "array", items: { type: "array", items: { type: "number" } } },
          weights: { type: "array", items: { type: "number" } },
        },
      },
    },
  },
};

let ajv: Ajv2020 | undefined;

function compiled(): Ajv2020 {
  ajv ??= new Ajv2020({
    allErrors: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  })
    .addSchema(REPORT_SCHEMA)
    .addSchema(WATCH_SCHEMA, "watch")
    .addSchema(SPEEDSCOPE_SCHEMA, "speedscope");
  return ajv;
}

function errorsOf(name: "watch" | "speedscope", doc: unknown): string[] {
  const check = compiled().getSchema(name)!;
  if (check(doc)) return [];
  return (check.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`.trim());
}

/** Asserts that `doc` is a valid `watch --json` document. */
export function assertValidWatch(doc: unknown): void {
  assert.deepEqual(errorsOf("watch", doc), [], "the watch document validates");
}

/**
 * Asserts that `doc` is a valid speedscope file whose samples point at its
 * frames and have one weight each.
 */
export function assertValidSpeedscope(doc: unknown): void {
  assert.deepEqual(errorsOf("speedscope", doc), [], "the speedscope file validates");
  const file = doc as {
    shared: { frames: unknown[] };
    profiles: { samples: number[][]; weights: number[] }[];
  };
  for (const p of file.profiles) {
    assert.equal(p.samples.length, p.weights.length);
    for (const s of p.samples) {
      for (const i of s) assert.ok(Number.isInteger(i) && i >= 0 && i < file.shared.frames.length);
    }
  }
}
