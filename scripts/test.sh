#!/usr/bin/env bash
# Every test crossfind has: lints, Rust unit and integration tests on the real
# model, and the wasm build under Node against the native one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -f package.json ]; then
  echo "== npm packages" >&2
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi
echo "== lints" >&2
cargo fmt --all -- --check
cargo clippy --release --quiet --all-targets -- -D warnings
echo "== Rust tests" >&2
cargo test --release
echo "== wasm build" >&2
scripts/build-wasm.sh
echo "== wasm tests (Node)" >&2
node --test tests/wasm/
echo "== all tests passed" >&2
