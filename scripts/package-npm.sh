#!/usr/bin/env bash
# Builds the npm package as a local tarball: target/pkg/crossfind-<version>.tgz
#
#   scripts/package-npm.sh                 (PACKAGE_DIST=1 for the LTO wasm a release ships)
#   npx ./target/pkg/crossfind-<version>.tgz index --site public
#
# Assembles target/pkg/npm/ from packages/npm/ (the JS wrapper), the pinned
# model wheels list, the widget (www/dist) and the native CLI for linux x64,
# then runs `npm pack` on it. Nothing is published (docs/packages.md says how
# a release would).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/package-inputs.sh
. scripts/package-inputs.sh

STAGE=target/pkg/npm
rm -rf "$STAGE"
mkdir -p "$STAGE/native/linux-x64"
cp -R packages/npm/bin packages/npm/lib packages/npm/README.md packages/npm/package.json "$STAGE/"
cp packages/model-wheels.json "$STAGE/"
cp -R "$WIDGET_DIR" "$STAGE/widget"
stage_native "$STAGE/native/linux-x64/crossfind"
printf '{"target": "x86_64-unknown-linux-gnu", "glibc": "%s", "commit": "%s"}\n' \
  "$GLIBC_MIN" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" > "$STAGE/native/linux-x64/target.json"
node -e '
  const fs = require("fs");
  const f = process.argv[1];
  const p = JSON.parse(fs.readFileSync(f, "utf8"));
  p.version = process.argv[2];
  fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");
' "$STAGE/package.json" "$VERSION"

say "npm pack"
rm -f "target/pkg/crossfind-$VERSION.tgz"
(cd "$STAGE" && npm pack --silent --pack-destination .. >/dev/null)
TGZ=target/pkg/crossfind-$VERSION.tgz
[ -f "$TGZ" ] || { echo "package-npm.sh: npm pack wrote no $TGZ" >&2; exit 1; }
ls -l "$TGZ" | awk '{printf "%s: %.1f MB\n", $9, $5/1e6}' >&2
echo "$TGZ"
