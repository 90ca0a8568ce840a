# Sourced by scripts/package-npm.sh and scripts/package-pip.sh: makes sure the
# two things every package carries are built and current, and names them.
#   $NATIVE_BIN     target/release/crossfind (cargo build --release)
#   $WIDGET_DIR     www/dist: webpack's widget with the wasm runtime from pkg/web
#                   (scripts/build-wasm.sh, then webpack; redone only when a
#                   source under src/, www/src/ or the build files changed)
#   $VERSION        the crate's version (Cargo.toml): every package's version
#   $GLIBC_MIN      the newest glibc symbol version the binary needs
# PACKAGE_DIST=1 builds the wasm with the dist profile (LTO), as a release would.
# PACKAGE_NO_BUILD=1 builds nothing and packs what target/release and www/dist
# hold (they must exist), e.g. right after scripts/test.sh built them.
# Packages carry the host's build, so they are made on linux x86_64 only.

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "$0: the packages carry a native binary prebuilt for linux x86_64, so they are built on linux x86_64 (this is $(uname -s) $(uname -m))" >&2
  exit 1
fi

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$VERSION" ] || { echo "$0: no version in Cargo.toml" >&2; exit 1; }

NATIVE_BIN=target/release/crossfind
if [ "${PACKAGE_NO_BUILD:-0}" != 1 ]; then
  say "native CLI (cargo build --release)"
  cargo build --release --quiet
fi
[ -x "$NATIVE_BIN" ] || { echo "$0: $NATIVE_BIN is missing: run cargo build --release (or unset PACKAGE_NO_BUILD)" >&2; exit 1; }
GLIBC_MIN=$(grep -ao 'GLIBC_2\.[0-9]\+' "$NATIVE_BIN" | sed 's/GLIBC_//' | sort -uV | tail -1)
[ -n "$GLIBC_MIN" ] || { echo "$0: could not read the glibc versions $NATIVE_BIN needs" >&2; exit 1; }

WIDGET_DIR=www/dist
widget_stale() {
  [ -f "$WIDGET_DIR/widget.json" ] || return 0
  [ -f pkg/web/crossfind_bg.wasm ] || return 0
  [ "${PACKAGE_DIST:-0}" = 1 ] && return 0
  [ -n "$(find src www/src Cargo.toml Cargo.lock webpack.config.js package-lock.json scripts/build-wasm.sh -newer "$WIDGET_DIR/widget.json" -type f -print -quit)" ]
}
if [ "${PACKAGE_NO_BUILD:-0}" != 1 ] && widget_stale; then
  say "widget: wasm runtime (scripts/build-wasm.sh${PACKAGE_DIST:+ --dist}) and webpack"
  if [ "${PACKAGE_DIST:-0}" = 1 ]; then scripts/build-wasm.sh --dist; else scripts/build-wasm.sh; fi
  if [ ! -x node_modules/.bin/webpack ]; then
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error
  fi
  node_modules/.bin/webpack --mode production --no-stats
fi
[ -f "$WIDGET_DIR/widget.json" ] && [ -f "$WIDGET_DIR/crossfind.js" ] || { echo "$0: $WIDGET_DIR has no widget build (scripts/build-wasm.sh, then npm run build:widget)" >&2; exit 1; }

# $1: where to put a stripped copy of the native binary (smaller by a fifth)
stage_native() {
  if command -v strip >/dev/null 2>&1; then strip -o "$1" "$NATIVE_BIN"; else cp "$NATIVE_BIN" "$1"; fi
  chmod 755 "$1"
}
