import assert from "node:assert/strict";
import { eagerFunctions } from "./eager_functions.ts";

/** Imports `code` as a module. */
async function load(code: string): Promise<Record<string, unknown>> {
  return await import(`data:text/javascript;base64,${btoa(code)}`);
}

Deno.test("eagerFunctions binds each top-level function first, parenthesized", () => {
  assert.equal(
    eagerFunctions('import{a}from"./a.js";const x=f(1);function f(v){return v+a}export{x};'),
    'import{a}from"./a.js";var f=(function f(v){return v+a});const x=f(1);export{x};',
  );
});

Deno.test("eagerFunctions keeps hoisting: a function used above its declaration", async () => {
  const code = "export const x=g(2);export const n=g.name;function g(a){return h(a)*2}" +
    "function h(a){return a+1}";
  const mod = await load(eagerFunctions(code));
  assert.equal(mod.x, 6);
  assert.equal(mod.n, "g");
});

Deno.test("eagerFunctions moves async functions and generators, still callable", async () => {
  const code = "export const p=f();export const q=[...gen()];" +
    "async function f(){return 7}function*gen(){yield 1;yield 2}";
  const out = eagerFunctions(code);
  assert.ok(out.startsWith("var f=(async function f(){return 7});var gen=(function*gen("), out);
  const mod = await load(out);
  assert.equal(await mod.p, 7);
  assert.deepEqual(mod.q, [1, 2]);
});

Deno.test("eagerFunctions leaves inner functions, classes, strings and exports alone", () => {
  const code = 'class C{m(){function inner(){}}}const s="function f(){}";' +
    "export function e(){}{function block(){}}";
  assert.equal(eagerFunctions(code), code);
});

Deno.test("eagerFunctions reads what the bundler writes: using, private fields, regexps", async () => {
  const code = "class R{#v=1;[Symbol.dispose](){}get v(){return this.#v}}" +
    "export function run(){using r=new R;return k(r.v)}" +
    "function k(v){return /}/.test('}')?v+1:0}";
  const out = eagerFunctions(code);
  assert.ok(out.startsWith("var k=(function k(v){return /}/.test('}')?v+1:0});"), out);
  const mod = await load(out);
  assert.equal((mod.run as () => number)(), 2);
});

Deno.test("eagerFunctions leaves functions that only build data to be compiled when called", () => {
  const code = 'function v3_11(){return{version:"3.11",structs:{}}}function f(){return{a:1};}' +
    "function g(){const x=1;return{x}}";
  assert.equal(
    eagerFunctions(code),
    "var g=(function g(){const x=1;return{x}});" +
      'function v3_11(){return{version:"3.11",structs:{}}}function f(){return{a:1};}',
  );
});
