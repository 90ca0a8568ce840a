#!/usr/bin/env bash
# The 12-language demo help center with crossfind search, served on
# http://localhost:8080 (PORT=... to change it).
#
#   scripts/demo.sh              build everything that is out of date, then serve
#   scripts/demo.sh --no-serve   only build (the browser tests use this)
#   scripts/demo.sh --csp        serve with the strict Content-Security-Policy
#   DEMO_DIST=1 scripts/demo.sh  ship the LTO wasm builds (slow: ~10 min cold for each of the two)
#
# Steps: scripts/setup.sh (model pack, CLI) -> the site (examples/helpdesk) ->
# `crossfind index` (skipped while the content, the indexer's sources and the
# model pack are unchanged: it takes minutes) -> wasm -> webpack -> the widget
# copied into target/demo-site/crossfind/ -> www/serve.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVE=1
SERVE_ARGS=()
for a in "$@"; do
  case "$a" in
    --no-serve) SERVE=0 ;;
    --csp) SERVE_ARGS+=(--csp) ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

SITE=target/demo-site
BUNDLE=$SITE/crossfind
CLI=target/release/crossfind
say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

scripts/setup.sh

# What the bundle depends on: the content and its renderer, the model pack,
# and the indexer's own sources (not the wasm surface or the CLI's other commands).
fingerprint() {
  {
    find examples/helpdesk -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum models/e5-small/pack.json Cargo.lock
    find src/ingest src/bundle src/search src/model src/index src/format -type f -name '*.rs' -print0 | sort -z | xargs -0 sha256sum
    sha256sum src/cli/index.rs src/lib.rs src/script.rs
  } | sha256sum | cut -d' ' -f1
}
FP=$(fingerprint)
STAMP=$BUNDLE/.inputs
if [ -f "$BUNDLE/manifest.json" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$FP" ]; then
  say "the demo site and its search bundle are up to date ($SITE)"
else
  say "building the demo help center into $SITE"
  rm -rf "$SITE"
  node examples/helpdesk/build.mjs --out "$SITE"
  say "indexing it (281 pages, 12 languages; a few minutes)"
  "$CLI" index --input "$SITE" --out "$BUNDLE"
  echo "$FP" > "$STAMP"
fi

say "building the wasm runtime"
scripts/build-wasm.sh ${DEMO_DIST:+--dist}

if [ ! -x node_modules/.bin/webpack ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi
say "building the widget (webpack)"
node_modules/.bin/webpack --mode production --no-stats
[ -f www/dist/crossfind.js ] && [ -f www/dist/widget.json ] || { echo "demo.sh: webpack did not produce www/dist" >&2; exit 1; }

# Widget files from an older build go; the bundle's own files stay.
if [ -f "$BUNDLE/widget.json" ]; then
  node -e 'for (const f of JSON.parse(require("fs").readFileSync(process.argv[1])).files) console.log(f.name)' "$BUNDLE/widget.json" \
    | while read -r f; do rm -f "$BUNDLE/$f"; done
fi
cp -R www/dist/. "$BUNDLE/"

# The demo opts into offline use: <crossfind-search offline>.
find "$SITE" -name '*.html' -print0 | xargs -0 sed -i 's|<crossfind-search>|<crossfind-search offline>|'
say "demo ready: $SITE"

if [ "$SERVE" = 1 ]; then
  exec node www/serve.mjs --root "$SITE" --port "${PORT:-8080}" "${SERVE_ARGS[@]}"
fi
