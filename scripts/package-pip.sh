#!/usr/bin/env bash
# Builds the Python package as a local wheel:
#   target/pkg/crossfind-<version>-py3-none-manylinux_<glibc>_x86_64.whl
#
#   scripts/package-pip.sh                 (PACKAGE_DIST=1 for the LTO wasm a release ships)
#   pip install target/pkg/crossfind-*.whl && crossfind index --site public
#
# Assembles target/pkg/python/crossfind/ from packages/python/crossfind/ (the
# Python wrapper), the pinned model wheels list, the widget (www/dist) and the
# native CLI, then writes the wheel with the standard library
# (packages/python/build_wheel.py). Its platform tag is manylinux_2_<N>_x86_64
# with N the newest glibc the binary needs, so pip installs it only where it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/package-inputs.sh
. scripts/package-inputs.sh

STAGE=target/pkg/python
rm -rf "$STAGE"
mkdir -p "$STAGE/crossfind/_native"
cp packages/python/crossfind/*.py "$STAGE/crossfind/"
cp packages/model-wheels.json "$STAGE/crossfind/"
cp -R "$WIDGET_DIR" "$STAGE/crossfind/widget"
stage_native "$STAGE/crossfind/_native/crossfind"
printf '{"target": "x86_64-unknown-linux-gnu", "glibc": "%s", "commit": "%s"}\n' \
  "$GLIBC_MIN" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" > "$STAGE/crossfind/_native/target.json"

say "wheel"
PLATFORM=manylinux_${GLIBC_MIN//./_}_x86_64
rm -f target/pkg/crossfind-"$VERSION"-py3-none-*.whl
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)} \
  python3 packages/python/build_wheel.py --stage "$STAGE" --version "$VERSION" --platform "$PLATFORM" \
  --readme packages/python/README.md --out target/pkg >/dev/null
WHL=target/pkg/crossfind-$VERSION-py3-none-$PLATFORM.whl
[ -f "$WHL" ] || { echo "package-pip.sh: build_wheel.py wrote no $WHL" >&2; exit 1; }
ls -l "$WHL" | awk '{printf "%s: %.1f MB\n", $9, $5/1e6}' >&2
echo "$WHL"
