#!/usr/bin/env bash
# Builds the wasm runtime into pkg/ with wasm-bindgen: pkg/node (CommonJS, for
# Node tests and benchmarks) and pkg/web (ES module, for the browser).
#   scripts/build-wasm.sh          optimised, no LTO: what tests use (fast rebuilds)
#   scripts/build-wasm.sh --dist   LTO, one codegen unit: what ships (~10 min cold on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=release
[ "${1:-}" = "--dist" ] && PROFILE=dist
cargo build --quiet --lib --target wasm32-unknown-unknown --profile "$PROFILE"
WASM=target/wasm32-unknown-unknown/$PROFILE/crossfind.wasm
rm -rf pkg/node pkg/web
wasm-bindgen --target nodejs --out-dir pkg/node "$WASM"
wasm-bindgen --target web --out-dir pkg/web "$WASM"
ls -l pkg/web/crossfind_bg.wasm | awk '{printf "pkg/web/crossfind_bg.wasm: %.1f MB ('"$PROFILE"')\n", $5/1e6}' >&2
