'use strict';
// Finds the prebuilt native `crossfind` for this machine, or says plainly
// that there is none and what to do instead.
//
// native/<platform>-<arch>/crossfind with target.json beside it
// ({"target": "x86_64-unknown-linux-gnu", "glibc": "2.34"}): this package
// carries one for linux x64 (glibc) only. $CROSSFIND_BIN overrides it with a
// crossfind built elsewhere (cargo install), the rest of this package
// (model download, widget copy) working the same.

const fs = require('node:fs');
const path = require('node:path');

const { CrossfindError } = require('./errors');

const NATIVE = path.join(__dirname, '..', 'native');

const newer = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) > (y[i] || 0);
  }
  return false;
};

function covered() {
  if (!fs.existsSync(NATIVE)) return [];
  return fs.readdirSync(NATIVE).map((key) => {
    const t = JSON.parse(fs.readFileSync(path.join(NATIVE, key, 'target.json'), 'utf8'));
    return { key, ...t };
  });
}

function describe(c) {
  return `${c.key}${c.glibc ? ` (glibc ${c.glibc} or newer)` : ''}`;
}

function whatToDo() {
  return (
    `  Build the indexer from source instead (needs Rust, https://rustup.rs), in a clone of the crossfind repository:\n` +
    `    cargo install --locked --path .\n` +
    `  then either run that crossfind directly, or keep using this package with CROSSFIND_BIN=$(command -v crossfind),\n` +
    `  which still downloads the model and copies the widget. A portable build (wasm32-wasip1, run by Node) is planned.`
  );
}

function nativeBinary() {
  if (process.env.CROSSFIND_BIN) {
    if (!fs.existsSync(process.env.CROSSFIND_BIN)) {
      throw new CrossfindError(`CROSSFIND_BIN=${process.env.CROSSFIND_BIN}: no such file`);
    }
    return process.env.CROSSFIND_BIN;
  }
  const key = `${process.platform}-${process.arch}`;
  const have = covered();
  const list = have.map(describe).join(', ') || 'none';
  const c = have.find((h) => h.key === key);
  if (!c) {
    throw new CrossfindError(
      `crossfind: this package has no prebuilt indexer for ${process.platform} ${process.arch} (it has: ${list}).\n` + whatToDo(),
    );
  }
  if (c.glibc) {
    const header = process.report?.getReport?.().header || {};
    const glibc = header.glibcVersionRuntime;
    if (!glibc) {
      throw new CrossfindError(
        `crossfind: the prebuilt ${key} indexer needs glibc ${c.glibc} or newer, and this system has no glibc (musl, e.g. Alpine).\n` + whatToDo(),
      );
    }
    if (newer(c.glibc, glibc)) {
      throw new CrossfindError(
        `crossfind: the prebuilt ${key} indexer needs glibc ${c.glibc} or newer; this system has ${glibc} (e.g. Debian 12, Ubuntu 22.04 and newer have it).\n` +
          whatToDo(),
      );
    }
  }
  return path.join(NATIVE, key, 'crossfind');
}

module.exports = { nativeBinary, covered, describe };
