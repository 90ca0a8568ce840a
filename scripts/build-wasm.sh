#!/usr/bin/env bash
# Builds the wasm runtime into pkg/ with wasm-bindgen, in two flavours:
#   baseline  +simd128                (.cargo/config.toml; every engine with SIMD128)
#   relaxed   +simd128,+relaxed-simd  (engines with relaxed SIMD: Chrome/Edge 114+,
#                                      Node 22+; not Node 20, whose experimental relaxed
#                                      dot product is wrong: the loaders check it)
# Both give bitwise the same results; the relaxed one has faster integer dot
# products. Loaders pick one at run time (www/src/wasm-flavour.cjs).
#
#   pkg/web/crossfind.js                 ES module glue, shared by both flavours
#   pkg/web/crossfind_bg.wasm            baseline
#   pkg/web/crossfind_relaxed_bg.wasm    relaxed
#   pkg/node/crossfind.js                CommonJS entry: loads baseline/ or relaxed/
#   pkg/node/{baseline,relaxed}/         wasm-bindgen --target nodejs output of each
#
#   scripts/build-wasm.sh          optimised, no LTO: what tests use (fast rebuilds)
#   scripts/build-wasm.sh --dist   LTO, one codegen unit: what ships (~10 min cold per flavour on 2 cores)
#
# The relaxed flavour builds in its own target dir (target/wasm-relaxed), so
# the two never invalidate each other's cache.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=release
[ "${1:-}" = "--dist" ] && PROFILE=dist
RELAXED_TARGET_DIR=target/wasm-relaxed

cargo build --quiet --lib --target wasm32-unknown-unknown --profile "$PROFILE"
# RUSTFLAGS replaces the rustflags of .cargo/config.toml entirely: repeat the
# getrandom backend cfg from there. With --target, RUSTFLAGS only applies to
# the wasm artifacts, not to build scripts and proc macros.
RUSTFLAGS='-C target-feature=+simd128,+relaxed-simd --cfg getrandom_backend="wasm_js"' \
  CARGO_TARGET_DIR=$RELAXED_TARGET_DIR \
  cargo build --quiet --lib --target wasm32-unknown-unknown --profile "$PROFILE"
BASE=target/wasm32-unknown-unknown/$PROFILE/crossfind.wasm
RELAXED=$RELAXED_TARGET_DIR/wasm32-unknown-unknown/$PROFILE/crossfind.wasm

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf pkg/node pkg/web
wasm-bindgen --target web --out-dir pkg/web "$BASE"
wasm-bindgen --target web --out-dir "$TMP/web" "$RELAXED"
wasm-bindgen --target nodejs --out-dir pkg/node/baseline "$BASE"
wasm-bindgen --target nodejs --out-dir pkg/node/relaxed "$RELAXED"

# One glue for both: the loaders hand it the chosen .wasm. That only holds
# while wasm-bindgen writes the same glue for both builds (same exports and
# imports), so check it rather than assume it.
for pair in "pkg/web/crossfind.js $TMP/web/crossfind.js" "pkg/node/baseline/crossfind.js pkg/node/relaxed/crossfind.js"; do
  # shellcheck disable=SC2086
  if ! cmp -s $pair; then
    echo "build-wasm.sh: wasm-bindgen wrote different JS glue for the two flavours:" >&2
    # shellcheck disable=SC2086
    diff -u $pair | head -40 >&2 || true
    exit 1
  fi
done
mv "$TMP/web/crossfind_bg.wasm" pkg/web/crossfind_relaxed_bg.wasm
rm -f pkg/node/relaxed/*.d.ts
cp www/src/wasm-flavour.cjs pkg/node/wasm-flavour.cjs
cp www/src/node-entry.cjs pkg/node/crossfind.js
cp pkg/node/baseline/crossfind.d.ts pkg/node/crossfind.d.ts

for f in crossfind_bg crossfind_relaxed_bg; do
  ls -l "pkg/web/$f.wasm" | awk '{printf "%s: %.2f MB ('"$PROFILE"')\n", $9, $5/1e6}' >&2
done
