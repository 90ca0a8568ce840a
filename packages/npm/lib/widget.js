'use strict';
// Copies the browser widget (webpack's www/dist, with the wasm runtime) into
// a bundle folder, so that one <script type="module"> tag next to the bundle
// works. Files of a widget copied there before, listed in its widget.json,
// are removed first (their wasm names carry a content hash); the bundle's own
// files are left alone.

const fs = require('node:fs');
const path = require('node:path');

const { CrossfindError } = require('./errors');

function listed(dir) {
  const file = path.join(dir, 'widget.json');
  if (!fs.existsSync(file)) return null;
  const names = JSON.parse(fs.readFileSync(file, 'utf8')).files.map((f) => f.name);
  for (const n of names) {
    // written by us, but the folder is the user's: never step outside it
    if (path.isAbsolute(n) || n.split(/[\\/]/).includes('..')) {
      throw new CrossfindError(`${file} lists ${JSON.stringify(n)}, which is not a file inside the folder`);
    }
  }
  return names;
}

function installWidget(widgetDir, bundleDir) {
  if (!fs.existsSync(path.join(bundleDir, 'manifest.json'))) {
    throw new CrossfindError(`${bundleDir} has no manifest.json: the widget goes into a bundle folder written by 'crossfind index'`);
  }
  const fresh = listed(widgetDir);
  if (!fresh) throw new CrossfindError(`${widgetDir}/widget.json is missing: this package is incomplete, reinstall it`);
  for (const n of listed(bundleDir) || []) fs.rmSync(path.join(bundleDir, n), { force: true });
  fs.cpSync(widgetDir, bundleDir, { recursive: true });
  return fresh;
}

module.exports = { installWidget };
