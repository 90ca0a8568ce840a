// Which of the two wasm builds this engine should run (scripts/build-wasm.sh):
//   baseline  SIMD128: every engine crossfind supports
//   relaxed   SIMD128 + relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s in
//             the integer matmul): Chrome/Edge 114+, Node 22+; not Node 20
//             (its --experimental-wasm-relaxed-simd computes the dot
//             product wrongly); Firefox and Safari do not ship it
// Both give bitwise the same embeddings; relaxed is faster where it runs.
// "Has relaxed SIMD" means the engine validates the instruction and computes
// it as the kernel needs (see RELAXED_PROBE).
//
// One source for the widget's worker, the service worker (both bundled by
// webpack) and Node (copied into pkg/node by scripts/build-wasm.sh), so all
// three answer the same. CommonJS, because Node 20 cannot require() an ES module.
'use strict';

// A whole wasm module whose one function, `ok() -> i32`, runs the instruction
// the relaxed build depends on, i32x4.relaxed_dot_i8x16_i7x16_add_s, on
// constants and returns 1 when all four lanes are what the integer matmul
// needs: signed bytes in the first operand, 7-bit ones in the second, the
// four products and the addend summed exactly. The spec lets engines differ
// only outside that range (a second operand with its top bit set, i16
// overflow), which the kernel never reaches; an engine that gets these lanes
// wrong (V8 11.3, Node 20's --experimental-wasm-relaxed-simd, returns twice
// the dot product and drops the addend) must not run the relaxed build.
const v128 = (bytes) => [0xfd, 0x0c, ...bytes.map((b) => b & 0xff)];
const i32s = (words) => words.flatMap((w) => [w, w >> 8, w >> 16, w >> 24].map((b) => b & 0xff));
const PROBE_BODY = [
  0x00, // no locals
  ...v128([-1, 2, -3, 4, -128, -128, -128, -128, 127, 127, 127, 127, 0, 1, -1, 5]), // signed
  ...v128([15, 15, 15, 15, 15, 15, 15, 15, 127, 0, 1, 2, 7, 7, 7, 7]), // 7-bit
  ...v128(i32s([100, 0, -5, 1])), // addend
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  // 15 * 2 + 100, 15 * -512, 127 * 127 + 127 + 254 - 5, 7 * 5 + 1
  ...v128(i32s([130, -7680, 16505, 36])),
  0xfd, 0x37, // i32x4.eq
  0xfd, 0xa3, 0x01, // i32x4.all_true
  0x0b, // end
];
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // types: () -> i32
  0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
  0x07, 0x06, 0x01, 0x02, 0x6f, 0x6b, 0x00, 0x00, // export "ok" = function 0
  0x0a, PROBE_BODY.length + 2, 0x01, PROBE_BODY.length, ...PROBE_BODY, // code
]);

const FLAVOURS = ['baseline', 'relaxed'];

let supported;
function relaxedSimd() {
  if (supported === undefined) {
    try {
      // validate first: engines without relaxed SIMD refuse the module
      supported =
        typeof WebAssembly === 'object' &&
        WebAssembly.validate(RELAXED_PROBE) &&
        new WebAssembly.Instance(new WebAssembly.Module(RELAXED_PROBE)).exports.ok() === 1;
    } catch {
      supported = false;
    }
  }
  return supported;
}

// The flavour to load: `requested` forces one ('baseline' | 'relaxed');
// 'auto', '' or undefined take relaxed where the engine validates it.
function pickFlavour(requested) {
  const r = requested == null ? '' : String(requested).trim().toLowerCase();
  if (r === '' || r === 'auto') return relaxedSimd() ? 'relaxed' : 'baseline';
  if (FLAVOURS.includes(r)) return r;
  throw Object.assign(new Error(`unknown wasm flavour "${requested}": use baseline, relaxed or auto`), { code: 'invalid_input' });
}

module.exports = { RELAXED_PROBE, FLAVOURS, relaxedSimd, pickFlavour };
