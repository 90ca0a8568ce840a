// pkg/node/crossfind.js (copied there by scripts/build-wasm.sh): the Node
// entry of the wasm runtime. Loads pkg/node/relaxed/ where this Node has
// relaxed SIMD, pkg/node/baseline/ elsewhere; both are wasm-bindgen's
// --target nodejs output, same API, bitwise the same results.
//
//   CROSSFIND_WASM_FLAVOUR=baseline|relaxed|auto   force a flavour (default auto)
//
// The loaded flavour is exported as `wasmFlavour`.
'use strict';

const { pickFlavour, relaxedSimd } = require('./wasm-flavour.cjs');

const flavour = pickFlavour(process.env.CROSSFIND_WASM_FLAVOUR);
if (flavour === 'relaxed' && !relaxedSimd()) {
  throw new Error(
    `CROSSFIND_WASM_FLAVOUR=relaxed, but Node ${process.version} has no relaxed SIMD: ` +
      'use Node 22+, or run node with --experimental-wasm-relaxed-simd',
  );
}

module.exports = Object.assign({ wasmFlavour: flavour }, require(`./${flavour}/crossfind.js`));
