// Names of bundle files, as manifests give them (manifest.json: shards,
// model.dir; model/pack.json: files; offline.json and widget.json: files),
// turned into URLs inside the bundle folder, and how to fetch them.
//
// A manifest is data from the host, like the pages: a name in it must be a
// plain relative name inside its folder, or nothing is fetched for it. So
// `https://evil.example/x.json`, `/etc/passwd`, `../x`, `%2e%2e/x` (the URL
// parser reads `%2e` as a dot), `a%2fb`, `a\b` (a browser reads `\` as `/`)
// and `C:x` are refused, with an error naming the manifest and the name.
// The rule: one or more parts separated by `/`, each made of ASCII letters,
// digits and `. _ - ~ +`, none of them `.`, `..` or any other run of dots,
// at most 255 characters a part and 1024 in all. A folder name (model.dir)
// may end in `/`.
//
// One source for the search worker and the service worker (both bundled by
// webpack) and Node (tests/widget/). CommonJS, like wasm-flavour.cjs.
'use strict';

const PART = /^[A-Za-z0-9._~+-]+$/;

// Why `name` is not a plain relative name, or null when it is one.
function nameProblem(name, { dir = false } = {}) {
  if (typeof name !== 'string') return 'it is not a string';
  let n = name;
  if (dir && n.endsWith('/')) n = n.slice(0, -1);
  if (n === '') return 'it is empty';
  if (n.length > 1024) return 'it is longer than 1024 characters';
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(n)) return 'it has a scheme';
  if (n.startsWith('/')) return 'it is an absolute path';
  if (n.includes('\\')) return 'it has a backslash';
  if (n.includes('%')) return 'it is percent-encoded';
  for (const part of n.split('/')) {
    if (part === '') return 'it has an empty part (`//`)';
    if (/^\.+$/.test(part)) return `it has a \`${part}\` part`;
    if (part.length > 255) return 'it has a part longer than 255 characters';
    if (!PART.test(part)) return 'it has characters other than letters, digits and . _ - ~ +';
  }
  return null;
}

function unsafeName(listedIn, name, why) {
  const shown = typeof name === 'string' ? JSON.stringify(name.length > 200 ? name.slice(0, 200) + '…' : name) : String(name);
  return Object.assign(new Error(`${listedIn} names the file ${shown}, which is not a plain name inside the bundle folder: ${why}`), {
    code: 'corrupt_file',
    file: listedIn,
  });
}

// `name` itself when it is a plain relative name; throws an Error with
// code 'corrupt_file' and file `listedIn` (the manifest naming it) otherwise.
function checkName(name, listedIn, opts) {
  const why = nameProblem(name, opts);
  if (why) throw unsafeName(listedIn, name, why);
  return name;
}

// `name` resolved against the folder URL `base`, which it must stay inside.
function inside(name, base, listedIn) {
  const folder = new URL(base);
  const url = new URL(name, folder);
  if (url.origin !== folder.origin || !url.pathname.startsWith(folder.pathname) || url.search || url.hash) {
    throw unsafeName(listedIn, name, 'it resolves outside the folder');
  }
  return url;
}

// The URL of file `name` inside the folder `base` (a URL ending in `/`).
function fileUrl(name, base, listedIn) {
  return inside(checkName(name, listedIn), base, listedIn);
}

// The URL of the folder `name` inside `base`, ending in `/`.
function dirUrl(name, base, listedIn) {
  checkName(name, listedIn, { dir: true });
  return inside(name.endsWith('/') ? name : name + '/', base, listedIn);
}

// "docs.2ca7ed34fd8f.json" (and its gzip form "docs.2ca7ed34fd8f.json.gz"):
// named by its content, so never stale.
const HASHED = /\.[0-9a-f]{12,64}\.[A-Za-z0-9]+(\.gz)?$/;

// The fetch cache mode for a bundle file. Content-hashed names can come from
// the HTTP cache as they are; every other name (model/encoder.bin,
// vocab.bin, emb-*.bin, pack.json, manifest.json) is revalidated with the
// server each time ('no-cache': a conditional request, a 304 when nothing
// changed), so a host that sends a long max-age for them cannot hand out a
// file of the previous model pack after an update.
function cacheMode(url) {
  const path = typeof url === 'string' ? url.split(/[?#]/)[0] : url.pathname;
  return HASHED.test(path) ? 'default' : 'no-cache';
}

module.exports = { nameProblem, checkName, fileUrl, dirUrl, cacheMode };
