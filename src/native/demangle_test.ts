import assert from "node:assert/strict";
import { cxxDemangler, demangle } from "./demangle.ts";

Deno.test("demangle() reads C++ names through libstdc++", () => {
  assert.ok(cxxDemangler() !== undefined, "libstdc++ is installed");
  assert.equal(demangle("_ZN6widget4drawEv"), "widget::draw()");
  assert.equal(
    demangle("_ZN7fixture12BlockingLock4waitERKSt6vectorIiSaIiEE"),
    "fixture::BlockingLock::wait(std::vector<int, std::allocator<int> > const&)",
  );
  assert.equal(demangle("_ZN3foo3barEv.cold"), "foo::bar() [clone .cold]");
  assert.equal(
    demangle("_ZNSt6thread11_State_implE@@GLIBCXX_3.4.22"),
    "std::thread::_State_impl@@GLIBCXX_3.4.22",
  );
});

Deno.test("demangle() prefers the Rust reading of legacy Rust names", () => {
  assert.equal(demangle("_ZN3std2rt10lang_start17h0123456789abcdefE"), "std::rt::lang_start");
  assert.equal(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
});

Deno.test("demangle() leaves C names and malformed names alone", () => {
  assert.equal(demangle("PyEval_EvalCode"), "PyEval_EvalCode");
  assert.equal(demangle("clock_nanosleep@GLIBC_2.2.5"), "clock_nanosleep@GLIBC_2.2.5");
  assert.equal(demangle("_Znotmangled"), "_Znotmangled");
  assert.equal(demangle("_R"), "_R");
  assert.equal(demangle("_ZN6widget4drawEv", () => undefined), "_ZN6widget4drawEv");
});
