/**
 * Validation against `schema/pystack-report.schema.json`, and against
 * `schema/pystack-processes.schema.json` (`--subprocesses`; ajv, tests only).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { REPO_ROOT } from "./_harness.ts";

/** The schema file, parsed. */
export const REPORT_SCHEMA: Record<string, unknown> = JSON.parse(
  Deno.readTextFileSync(`${REPO_ROOT}schema/pystack-report.schema.json`),
);

let validator: ReturnType<Ajv2020["compile"]> | undefined;

function validate(): ReturnType<Ajv2020["compile"]> {
  validator ??= new Ajv2020({
    allErrors: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  })
    .compile(REPORT_SCHEMA);
  return validator;
}

/** The schema's complaints about `doc`, one per line; empty when it validates. */
export function schemaErrors(doc: unknown): string[] {
  const check = validate();
  if (check(doc)) return [];
  return (check.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`.trim());
}

/** Assert that `doc` validates against the schema. */
export function assertValidReport(doc: unknown, what = "the JSON document"): void {
  const errors = schemaErrors(doc);
  assert.deepEqual(errors, [], `${what} validates against the schema`);
}

let processesValidator: ReturnType<Ajv2020["compile"]> | undefined;

/** Assert that `doc` validates against the processes schema (it refers to the report and watch schemas). */
export function assertValidProcesses(doc: unknown): void {
  const schema = (name: string) =>
    JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}schema/${name}.schema.json`));
  processesValidator ??= new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true })
    .addSchema(REPORT_SCHEMA)
    .addSchema(schema("pystack-watch"))
    .compile(schema("pystack-processes"));
  // A copy: ajv may add defaults to what it validates.
  assert.ok(processesValidator(structuredClone(doc)), JSON.stringify(processesValidator.errors));
}
