import assert from "node:assert/strict";
import { decodePunycode, demangleRust, isLegacyRust } from "./rust_demangle.ts";

// Expected strings are what rustc-demangle prints with `{:#}` for the same symbols.

Deno.test("demangleRust() reads legacy symbols and drops the hash", () => {
  const cases: [string, string][] = [
    ["_ZN3foo17h05af221e174051e9E", "foo"],
    ["_ZN4core3fmt5write17h2e2e3c5b5b8e0f11E", "core::fmt::write"],
    ["_ZN3std2rt10lang_start17h0123456789abcdefE", "std::rt::lang_start"],
    [
      "_ZN5alloc9allocator6Layout9for_value17h02a996811f781011E",
      "alloc::allocator::Layout::for_value",
    ],
    [
      "_ZN38_$LT$core..option..Option$LT$T$GT$$GT$6unwrap18_MSG_FILE_LINE_COL17haf7cb8d5824ee659E",
      "<core::option::Option<T>>::unwrap::_MSG_FILE_LINE_COL",
    ],
    [
      "_ZN4core5slice89_$LT$impl$u20$core..iter..traits..IntoIterator$u20$for$u20$$RF$$u27$a$u20$$u5b$T$u5d$$GT$9into_iter17h450e234d27262170E",
      "core::slice::<impl core::iter::traits::IntoIterator for &'a [T]>::into_iter",
    ],
    [
      "_ZN151_$LT$alloc..boxed..Box$LT$alloc..boxed..FnBox$LT$A$C$$u20$Output$u3d$R$GT$$u20$$u2b$$u20$$u27$a$GT$$u20$as$u20$core..ops..function..FnOnce$LT$A$GT$$GT$9call_once17h69e8f44b3723e1caE",
      "<alloc::boxed::Box<alloc::boxed::FnBox<A, Output=R> + 'a> as core::ops::function::FnOnce<A>>::call_once",
    ],
    [
      "_ZN88_$LT$core..result..Result$LT$$u21$$C$$u20$E$GT$$u20$as$u20$std..process..Termination$GT$6report17hfc41d0da4a40b3e8E",
      "<core::result::Result<!, E> as std::process::Termination>::report",
    ],
    ["_ZN9backtrace3foo17hbb467fcdaea5d79bE.llvm.A5310EB9", "backtrace::foo"],
    [
      "_ZN4core5slice77_$LT$impl$u20$core..ops..index..IndexMut$LT$I$GT$$u20$for$u20$$u5b$T$u5d$$GT$9index_mut17haf9727c2edfbc47bE.exit.i.i",
      "core::slice::<impl core::ops::index::IndexMut<I> for [T]>::index_mut.exit.i.i",
    ],
    ["_ZN28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE", "{{closure}}"],
    ["_ZN7mycrate4impl17h0123456789abcdefE.cold", "mycrate::impl.cold"],
  ];
  for (const [symbol, expected] of cases) {
    assert.equal(demangleRust(symbol), expected, symbol);
  }
});

Deno.test("isLegacyRust() needs the 17h<16 hex digits> hash element", () => {
  assert.equal(isLegacyRust("_ZN3foo17h05af221e174051e9E"), true);
  // Itanium C++ names: left to the C++ demangler.
  assert.equal(isLegacyRust("_ZN3foo3barEv"), false);
  assert.equal(isLegacyRust("_ZN3foo3barE"), false);
  assert.equal(isLegacyRust("_ZN3foo17hg5af221e174051e9E"), false);
  assert.equal(isLegacyRust("_ZNK6Widget5drawEv"), false);
  assert.equal(demangleRust("_ZN3foo3barE"), undefined);
  assert.equal(demangleRust("PyEval_EvalCode"), undefined);
  assert.equal(demangleRust("_ZN2222222222222222222222EE"), undefined);
});

Deno.test("demangleRust() reads v0 paths, closures and impls", () => {
  const cases: [string, string][] = [
    ["_RNvC6_123foo3bar", "123foo::bar"],
    ["_RNvCs1234_7mycrate3foo", "mycrate::foo"],
    ["_RNCNCNgCs6DXkGYLi8lr_2cc5spawn00B5_", "cc::spawn::{closure#0}::{closure#0}"],
    [
      "_RNCINkXs25_NgCsbmNqQUJIY6D_4core5sliceINyB9_4IterhENuNgNoBb_4iter8iterator8Iterator9rpositionNCNgNpB9_6memchr7memrchrs_0E0Bb_",
      "<core::slice::Iter<u8> as core::iter::iterator::Iterator>::rposition::<core::slice::memchr::memrchr::{closure#1}>::{closure#0}",
    ],
    [
      "_RINbNbCskIICzLVDPPb_5alloc5alloc8box_freeDINbNiB4_5boxed5FnBoxuEp6OutputuEL_ECs1iopQbuBiw2_3std",
      "alloc::alloc::box_free::<dyn alloc::boxed::FnBox<(), Output = ()>>",
    ],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_8UnsignedKhb_E", "<const_generic::Unsigned<11>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_6SignedKs98_E", "<const_generic::Signed<152>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_6SignedKanb_E", "<const_generic::Signed<-11>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_4BoolKb0_E", "<const_generic::Bool<false>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_4BoolKb1_E", "<const_generic::Bool<true>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_4CharKc76_E", "<const_generic::Char<'v'>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_4CharKca_E", "<const_generic::Char<'\\n'>>"],
    ["_RMCs4fqI2P2rA04_13const_genericINtB0_4CharKc2202_E", "<const_generic::Char<'∂'>>"],
    [
      "_RNvNvMCs4fqI2P2rA04_13const_genericINtB4_3FooKpE3foo3FOO",
      "<const_generic::Foo<_>>::foo::FOO",
    ],
    ["_RMC0INtC8arrayvec8ArrayVechKj7b_E", "<arrayvec::ArrayVec<u8, 123>>"],
    ["_RC3foo.llvm.9D1C9369", "foo"],
    ["_RC3foo.llvm.9D1C9369@@16", "foo"],
    ["_RNvC9backtrace3foo.llvm.A5310EB9", "backtrace::foo"],
    [
      "_RNvNtNtNtNtCs92dm3009vxr_4rand4rngs7adapter9reseeding4fork23FORK_HANDLER_REGISTERED.0.0",
      "rand::rngs::adapter::reseeding::fork::FORK_HANDLER_REGISTERED.0.0",
    ],
    [
      "_RNqCs4fqI2P2rA04_11utf8_identsu30____7hkackfecea1cbdathfdh9hlq6y",
      "utf8_idents::საჭმელად_გემრიელი_სადილი",
    ],
  ];
  for (const [symbol, expected] of cases) {
    assert.equal(demangleRust(symbol), expected, symbol);
  }
});

Deno.test("demangleRust() prints v0 types: references, pointers, slices, tuples, fn and dyn", () => {
  const type = (mangled: string) => demangleRust(`_RMC0${mangled}`);
  assert.equal(type("RL_e"), "<&str>");
  assert.equal(type("QSh"), "<&mut [u8]>");
  assert.equal(type("PAmj4_"), "<*const [u32; 4]>");
  assert.equal(type("Ol"), "<*mut i32>");
  assert.equal(type("TlbE"), "<(i32, bool)>");
  assert.equal(type("TlE"), "<(i32,)>");
  assert.equal(type("TE"), "<()>");
  assert.equal(type("FKCjEu"), '<extern "C" fn(usize)>');
  assert.equal(type("FUEz"), "<unsafe fn() -> !>");
  assert.equal(type("FG_RL0_hEu"), "<for<'a> fn(&'a u8)>");
  assert.equal(
    // "TTTTTT p B8_E B7_E …": back-references double the tuple six times (64 copies of `_`).
    type("TTTTTTpB8_EB7_EB6_EB5_EB4_EB3_E")?.split("_").length,
    65,
  );
});

Deno.test("demangleRust() rejects malformed v0 symbols without throwing", () => {
  for (const bad of ["_R", "_Rx", "_RC", "_RNvC3foo", "_RB_", "_RC3foo moocow"]) {
    assert.equal(demangleRust(bad), undefined, bad);
  }
  // Deep nesting is bounded.
  assert.equal(demangleRust(`_RMC0${"R".repeat(2000)}l`), undefined);
});

Deno.test("decodePunycode() follows RFC 3492", () => {
  assert.equal(decodePunycode("mnchen", "3ya"), "münchen");
  assert.equal(decodePunycode("", "egbpdaj6bu4bxfgehfvwxn"), "ليهمابتكلموشعربي؟");
  assert.equal(decodePunycode("", "!"), undefined);
});
