/**
 * A build step of the bundle: each top-level function declaration of a
 * module becomes a parenthesized function expression bound by a `var` at the
 * top of the module (`function f(a){…}` → `var f=(function f(a){…});`).
 *
 * Why: V8 compiles a function when it is first called, unless its source
 * says it will be called at once; a parenthesized function is compiled with
 * the module. Deno stores a module's compiled code in its code cache when it
 * first compiles the module, so only what was compiled then is reused: every
 * run compiled again each function it called (about 4 ms of a Python-only
 * `remote`, measured with `--v8-flags=--log-function-events`). Compiled with
 * the module, they come from the cache.
 *
 * The meaning is kept: a declaration is hoisted, and the `var`s are assigned
 * before any other statement of the module runs. (A cycle of modules in which
 * one calls another's function before that module ran would differ; every
 * chunk's top level runs on each load, so the bundle's tests would show it.)
 * Class methods and inner functions are left as they are, and so are
 * functions that only return an object literal (data built on demand).
 *
 * @module
 */

import ts from "typescript";

/**
 * `code` (a module) with its top-level function declarations bound at its top.
 *
 * @example
 * ```ts
 * import { eagerFunctions } from "./eager_functions.ts";
 * import assert from "node:assert/strict";
 * assert.equal(eagerFunctions("g();function g(){}"), "var g=(function g(){});g();");
 * ```
 */
export function eagerFunctions(code: string): string {
  const source = ts.createSourceFile("m.js", code, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  // After the imports (a module's first statements in the bundler's output).
  let top = 0;
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) top = statement.end;
  }
  const moved: string[] = [];
  const cuts: [number, number][] = [];
  for (const statement of source.statements) {
    if (
      ts.isFunctionDeclaration(statement) && statement.name !== undefined &&
      statement.body !== undefined && !hasExportModifier(statement) &&
      statement.getStart(source) >= top && !returnsOnlyData(statement.body)
    ) {
      const start = statement.getStart(source);
      moved.push(`var ${statement.name.text}=(${code.slice(start, statement.end)});`);
      cuts.push([start, statement.end]);
    }
  }
  if (moved.length === 0) return code;
  let out = code.slice(0, top) + moved.join("");
  let at = top;
  for (const [start, end] of cuts) {
    out += code.slice(at, start);
    at = end;
  }
  return out + code.slice(at);
}

/**
 * A body that only returns an object literal: a table built when first asked for (the
 * layouts of `src/cpython/layouts/`, one per CPython version, of which a run reads one), left
 * to be compiled then: compiled with the module, every run would load all of them.
 */
function returnsOnlyData(body: ts.Block): boolean {
  const [only] = body.statements;
  if (body.statements.length !== 1 || only === undefined || !ts.isReturnStatement(only)) {
    return false;
  }
  let value = only.expression;
  while (value !== undefined && ts.isParenthesizedExpression(value)) value = value.expression;
  return value !== undefined && ts.isObjectLiteralExpression(value);
}

function hasExportModifier(statement: ts.FunctionDeclaration): boolean {
  return statement.modifiers?.some((m) =>
    m.kind === ts.SyntaxKind.ExportKeyword || m.kind === ts.SyntaxKind.DefaultKeyword
  ) ?? false;
}
