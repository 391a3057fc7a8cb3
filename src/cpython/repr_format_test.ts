import assert from "node:assert/strict";
import {
  codePoints,
  formatFloat,
  isPrintable,
  printable,
  reprBytes,
  reprStr,
} from "./repr_format.ts";

function fromBits(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits, true);
  return view.getFloat64(0, true);
}

Deno.test("formatFloat() writes what Python's repr() writes", () => {
  for (const [bits, python] of FLOATS) {
    assert.equal(formatFloat(fromBits(bits)), python, `0x${bits.toString(16)}`);
  }
  assert.equal(formatFloat(NaN), "nan");
});

Deno.test("reprStr() quotes and escapes like Python's repr()", () => {
  for (const [points, python] of STRS) assert.equal(reprStr(points), python, python);
});

Deno.test("reprBytes() quotes and escapes like Python's repr()", () => {
  for (const [bytes, python] of BYTES) assert.equal(reprBytes(new Uint8Array(bytes)), python);
});

Deno.test("codePoints() reads 1, 2 and 4-byte characters, keeping lone surrogates", () => {
  assert.deepEqual([...codePoints(new Uint8Array([0x63, 0xe9]), 1)], [0x63, 0xe9]);
  assert.deepEqual([...codePoints(new Uint8Array([0x00, 0xd8, 0xa2, 0x95, 0x01]), 2)], [
    0xd800,
    0x95a2,
  ]);
  assert.deepEqual([...codePoints(new Uint8Array([0x00, 0xf6, 0x01, 0x00]), 4)], [0x1f600]);
});

Deno.test("isPrintable() and printable() follow str.isprintable()", () => {
  assert.ok(isPrintable(0x20));
  assert.ok(isPrintable(0xe9));
  assert.ok(!isPrintable(0xa0));
  assert.ok(!isPrintable(0x110000));
  assert.equal(printable("tab\there\u200b 😀"), "tab\\x09here\\u200b 😀");
});

// Generated with CPython 3.13's repr() (float bits, then the text).
// deno-fmt-ignore
const FLOATS: [bits: bigint, python: string][] = [
  [0x0000000000000000n, "0.0"],
  [0x8000000000000000n, "-0.0"],
  [0x3ff0000000000000n, "1.0"],
  [0xbff0000000000000n, "-1.0"],
  [0x3fb999999999999an, "0.1"],
  [0x3fe0000000000000n, "0.5"],
  [0x3fd5555555555555n, "0.3333333333333333"],
  [0x3fe5555555555555n, "0.6666666666666666"],
  [0x400921f9f01b866en, "3.14159"],
  [0x4341c37937e08000n, "1e+16"],
  [0x430c6bf526340000n, "1000000000000000.0"],
  [0x4341c37937e07fffn, "9999999999999998.0"],
  [0x3f1a36e2eb1c432dn, "0.0001"],
  [0x3ee4f8b588e368f1n, "1e-05"],
  [0x3f202e4b6ce5dc68n, "0.00012345"],
  [0x3e8421f5f40d8376n, "1.5e-07"],
  [0x4480f0cf064dd592n, "1e+22"],
  [0x444b1ae4d6e2ef50n, "1e+21"],
  [0x437b69b4ba630f35n, "1.2345678901234568e+17"],
  [0x0000000000000001n, "5e-324"],
  [0x0010000000000000n, "2.2250738585072014e-308"],
  [0x7fefffffffffffffn, "1.7976931348623157e+308"],
  [0x7ff0000000000000n, "inf"],
  [0xfff0000000000000n, "-inf"],
  [0x4059000000000000n, "100.0"],
  [0x40934a0000000000n, "1234.5"],
  [0x3fd3333333333333n, "0.3"],
  [0x3efa36e2eb1c432dn, "2.5e-05"],
  [0x54b249ad2594c37dn, "1e+100"],
  [0x43e56a95319d63e1n, "1.2345678901234567e+19"],
  [0x4011666666666666n, "4.35"],
  [0x3fd3333333333334n, "0.30000000000000004"],
  [0x4164d8399f767c45n, "10928588.983213553"],
  [0x5bc8fbbcbde5c099n, "1.4186613525849614e+134"],
  [0xb0c11fdecb91ce37n, "-7.571968556055867e-74"],
  [0xd76d4330f1446bean, "-1.4074705188261364e+113"],
  [0xa6eb8c9ebd69fe29n, "-3.3339745473042614e-121"],
  [0x87b0b125ec1d7da0n, "-1.2342180766211395e-271"],
  [0xd7210dff076ce2efn, "-5.126864004244935e+111"],
  [0xc6a5387777330bdbn, "-2.1520217579844227e+32"],
  [0x3fc1ea36f17fd374n, "0.1399601630397701"],
  [0x0d464138a6233255n, "1.01853664031722e-244"],
  [0x2827688de6a16a3bn, "2.9704598186234577e-115"],
  [0x5f2dd97f1cfb10f6n, "3.0534183338726823e+150"],
  [0xde5271007814e8a2n, "-2.3027782228163463e+146"],
  [0x617959ce3f1f65a8n, "3.56409621163656e+161"],
  [0x1a1afe878b33e968n, "6.352929017207453e-183"],
  [0x3fd4235992edcf45n, "0.3146575865605324"],
  [0xbb2edb20035b7399n, "-1.2761724801771812e-23"],
  [0x687c966c377b9aa2n, "2.0868668176225336e+195"],
  [0x2e9c82b1478c281dn, "3.66898827745704e-84"],
  [0xde11cc9dea959c21n, "-1.389122273370197e+145"],
  [0x63b229f1c4069545n, "1.7548715433165102e+172"],
  [0xc30d8b7628dbd25en, "-1039514241563211.8"],
  [0x126a1e48cc11d357n, "5.7804021771411506e-220"],
  [0x9e30691c238642ean, "-2.8497478716107576e-163"],
  [0x71e0c07e9e115e4bn, "3.490691392124745e+240"],
  [0x21da8978206f5c66n, "1.3282314387596086e-145"],
  [0xf8eb18b900745130n, "-2.9317061175715426e+274"],
  [0x015c33b2df1461aan, "4.1124768973349897e-302"],
  [0xc60a3cab359eeefbn, "-2.5983853818656714e+29"],
  [0xf5cae3bf3729c619n, "-2.5839922981649337e+259"],
  [0x2a759159fb7ff337n, "3.7615508677292285e-104"],
  [0x2a9eba0cdf561d80n, "2.1435728770450893e-103"],
  [0x504b74ba4a0fe75dn, "6.3583676891104784e+78"],
  [0x32ea6928f6236bf2n, "2.0062829023357212e-63"],
  [0xe049548e8a0a8c96n, "-6.792475937705741e+155"],
  [0xa02fdaa1ad864c44n, "-1.1878910286585398e-153"],
  [0x2e81d66d346c6e2bn, "1.1477511623364303e-84"],
  [0xf7f35634f0e3cd97n, "-6.384685499984821e+269"],
  [0x3266aa3bb0cde917n, "6.725524671613862e-66"],
  [0xf7108e96f770c226n, "-3.3367034274052276e+265"],
  [0x40889bdde94e726en, "787.4833551529571"],
  [0xc07926c15949b81cn, "-402.4222042922645"],
  [0xc07159ec0e045f88n, "-277.62013055523175"],
  [0xc084e0b3fd706a29n, "-668.0878857405088"],
  [0xc08624c4fa80604an, "-708.5961809186349"],
  [0xc08b2dc3bbe84a82n, "-869.7205732486475"],
  [0xc078d4823f1a6616n, "-397.281798461075"],
  [0x4069c70a32912150n, "206.21999481530884"],
  [0xc08f09debe380ac8n, "-993.2337612512865"],
  [0x40763de55f4eb460n, "355.8684990953825"],
  [0xc074434ce8d7e906n, "-324.20627674426976"],
  [0xc077c1589fd2983an, "-380.08413679374246"],
  [0x4083e84a08a420e6n, "637.0361492941418"],
  [0xc043413b72f290f0n, "-38.509626739922055"],
  [0xc077069ee07ce834n, "-368.4137883071119"],
  [0xc042c817d6eec5f0n, "-37.56322752627227"],
  [0x407995698c007af4n, "409.3382682818185"],
  [0xc08baffc314fa2e8n, "-885.9981409284201"],
  [0x408db197cf86060an, "950.1991262884706"],
  [0xc08dd226a7258f1fn, "-954.2688734945585"],
  [0x43054f7a0faa0a4an, "749795022291273.2"],
  [0x42e48a5849067aa6n, "180675353785301.2"],
  [0x3dc421969d7b23bbn, "3.661844758418605e-11"],
  [0x40121ce65e3bcf8an, "4.528222534561687"],
  [0x404f2f86dc3849aen, "62.371303107723506"],
  [0x40c73f07216b5a42n, "11902.055707377502"],
  [0x43e0207fbc0c33ffn, "9.29655319597521e+18"],
  [0x42540bb05c4f40c4n, "344381813053.01196"],
  [0x412b3e4e2f16c774n, "892711.0919706658"],
  [0x3f1454fbd547a54en, "7.756030146989954e-05"],
];
// deno-fmt-ignore
const STRS: [points: number[], python: string][] = [
  [[], "''"],
  [[104, 101, 108, 108, 111], "'hello'"],
  [[105, 116, 39, 115], "\"it's\""],
  [[115, 97, 121, 32, 34, 104, 105, 34], "'say \"hi\"'"],
  [[105, 116, 39, 115, 32, 34, 98, 111, 116, 104, 34], "'it\\'s \"both\"'"],
  [[98, 97, 99, 107, 92, 115, 108, 97, 115, 104], "'back\\\\slash'"],
  [[9, 10, 13, 0, 31, 127], "'\\t\\n\\r\\x00\\x1f\\x7f'"],
  [[99, 97, 102, 233, 160, 173], "'caf\u00e9\\xa0\\xad'"],
  [[133, 255], "'\\x85\u00ff'"],
  [[38306, 25968, 8203, 8232, 12288], "'\u95a2\u6570\\u200b\\u2028\\u3000'"],
  [[128512, 134071, 917505], "'\ud83d\ude00\ud842\udfb7\\U000e0001'"],
  [[55296, 57343], "'\\ud800\\udfff'"],
  [[65279, 65533], "'\\ufeff\ufffd'"],
  [[120, 888, 121], "'x\\u0378y'"],
  [[1114111], "'\\U0010ffff'"],
];
// deno-fmt-ignore
const BYTES: [bytes: number[], python: string][] = [
  [[], "b''"],
  [[97, 98, 99], "b'abc'"],
  [[105, 116, 39, 115], "b\"it's\""],
  [[115, 97, 121, 32, 34, 104, 105, 34], "b'say \"hi\"'"],
  [[105, 116, 39, 115, 32, 34, 98, 111, 116, 104, 34], "b'it\\'s \"both\"'"],
  [[92], "b'\\\\'"],
  [[9, 10, 13, 0, 127, 128, 255], "b'\\t\\n\\r\\x00\\x7f\\x80\\xff'"],
  [[0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 187, 204, 221, 238, 255], "b'\\x00\\x11\"3DUfw\\x88\\x99\\xaa\\xbb\\xcc\\xdd\\xee\\xff'"],
];
