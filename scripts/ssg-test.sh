#!/usr/bin/env bash
# crossfind on real static-site generators (tests/ssg/ssg.test.mjs): builds
# the multilingual sites in tests/fixtures/ssg/ with Hugo, MkDocs Material +
# mkdocs-static-i18n and VitePress, indexes them and searches them in
# Chromium. Installs what it lacks: Hugo from Debian (when root; else says
# so), the pinned MkDocs packages (tests/fixtures/ssg/mkdocs/requirements.txt)
# into .cache/ssg-venv and the pinned VitePress into .cache/ssg-npm. Needs the CLI and the widget build (scripts/test.sh
# makes both before it runs this; alone: scripts/demo.sh --no-serve first).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

if ! command -v hugo >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Hugo (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hugo >/dev/null
  else
    echo "scripts/ssg-test.sh: the generator tests need Hugo: run 'sudo apt-get install hugo'" >&2
    exit 1
  fi
fi

REQ=tests/fixtures/ssg/mkdocs/requirements.txt
VENV=.cache/ssg-venv
if [ ! -x "$VENV/bin/mkdocs" ] || [ "$REQ" -nt "$VENV/.installed" ]; then
  say "installing MkDocs Material and mkdocs-static-i18n (pinned) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  touch "$VENV/.installed"
fi

PKG=tests/fixtures/ssg/vitepress
NPM=.cache/ssg-npm
if [ ! -x "$NPM/node_modules/.bin/vitepress" ] || [ "$PKG/package-lock.json" -nt "$NPM/.installed" ]; then
  say "installing VitePress (pinned) into $NPM"
  mkdir -p "$NPM"
  cp "$PKG/package.json" "$PKG/package-lock.json" "$NPM/"
  (cd "$NPM" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  touch "$NPM/.installed"
fi

if ! [ -x target/release/crossfind ] || ! [ -f www/dist/crossfind.js ]; then
  echo "scripts/ssg-test.sh: needs the CLI and the widget: run scripts/demo.sh --no-serve first" >&2
  exit 1
fi
say "static-site generators (Hugo $(hugo version | awk '{print $2}'), MkDocs $("$VENV/bin/mkdocs" --version | awk '{print $3}'), VitePress $(node -p 'require("./'"$NPM"'/node_modules/vitepress/package.json").version'))"
node --test --test-concurrency=1 tests/ssg/
