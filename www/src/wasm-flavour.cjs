// Which of the two wasm builds this engine should run (scripts/build-wasm.sh):
//   baseline  SIMD128: every engine crossfind supports
//   relaxed   SIMD128 + relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s in
//             the integer matmul): Chrome/Edge 114+, Node 22+, Node 20 with
//             --experimental-wasm-relaxed-simd; Firefox and Safari do not ship it
// Both give bitwise the same embeddings; relaxed is faster where it runs.
//
// One source for the widget's worker, the service worker (both bundled by
// webpack) and Node (copied into pkg/node by scripts/build-wasm.sh), so all
// three answer the same. CommonJS, because Node 20 cannot require() an ES module.
'use strict';

// A whole wasm module, 37 bytes: one function (v128, v128, v128) -> v128 whose
// body is the instruction the relaxed build depends on:
//   local.get 0  local.get 1  local.get 2  i32x4.relaxed_dot_i8x16_i7x16_add_s  end
// WebAssembly.validate() accepts it exactly when the engine has relaxed SIMD.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // types: (v128 v128 v128) -> v128
  0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, // code: one body of 11 bytes, no locals
  0x20, 0x00, 0x20, 0x01, 0x20, 0x02, // local.get 0, 1, 2
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 275)
  0x0b, // end
]);

const FLAVOURS = ['baseline', 'relaxed'];

let supported;
function relaxedSimd() {
  if (supported === undefined) {
    try {
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
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
