// crossfind service worker (opt-in: <crossfind-search offline> registers it).
//
// Keeps one complete copy of the search bundle (manifest, shards, model pack,
// widget files) per version. What the copy holds is listed by the two tools
// that write the files, never worked out here: offline.json, written by
// `crossfind index` (src/index/offline.rs: every bundle file to keep, with
// its size and sha256, byte ranges of the row shards, and `copy`, the id of
// that set), and widget.json, written by webpack (the widget's files). A
// version is the hash of offline.json's `copy` and widget.json. A new version is downloaded into
// a cache of its own, every file checked against its sha256, and only then
// made current: pages never see a mix of two versions. A page (and its search
// worker) keeps the version it started with while it lives.
//
// The site's pages (and their stylesheets) are network-first, with the last
// copy kept for when the network is gone: only copies any visitor could be
// given (200, text/html or text/css, not Cache-Control no-store or private,
// not Vary: Cookie / Authorization / *), at most PAGES_MAX of them (the
// oldest go first) and none older than PAGES_MAX_AGE_MS. Nothing else of the
// site (scripts, images, API calls) goes through this worker.
//
// Of the widget's two wasm builds (10 MB each) only the one this browser's
// search worker runs is kept: the same choice, made by the same code
// (wasm-flavour.cjs), as the worker's.
//
// Files stored with a gzip form (`<name>.gz`: offline.json lists the forms,
// widget.json marks the wasm's) are kept as that form, checked against its
// own sha256 as stored; the search worker decodes them, as it does from a
// host that compresses nothing, and asks this worker (HEAD) before it
// fetches, which says the host does not compress while there is a copy.
//
// Of the model's word-embedding rows (50 MB for 250k tokens of ~100
// languages) offline.json lists only the byte ranges of the scripts the
// site's languages are written in (entries with `start` and `end`). The
// search worker asks for rows by byte range; those inside a kept range are
// answered from it, others go to the network (offline, such a query answers
// by keywords).
//
// Registered as  <bundle>/sw.js?base=<bundle path>  with the site root as
// scope (the server sends Service-Worker-Allowed: /). See www/README.md for
// hosts that cannot send that header.

/* eslint-env serviceworker */
import { pickFlavour } from './wasm-flavour.cjs';
import { fileUrl } from './bundle-files.cjs';
import { multipartAnswer, rangeSet } from './byte-ranges.mjs';

const PARAMS = new URL(self.location.href).searchParams;
const BASE = new URL(PARAMS.get('base') || './', self.location.href);
const PREFIX = 'crossfind:' + BASE.pathname + ':';
const META = PREFIX + 'meta';
const PAGES = PREFIX + 'pages';
const VERSION_PREFIX = PREFIX + 'v:';
const CURRENT_KEY = new URL('__crossfind_current__', BASE).href;
const SYNC_EVERY_MS = 5 * 60 * 1000;
// The page copies: how many (?pages=N on the worker's URL, from the widget's
// offline-pages attribute) and for how long.
const PAGES_MAX = Math.min(Math.max(Math.floor(Number(PARAMS.get('pages'))) || 100, 1), 1000);
const PAGES_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;
const STORED_AT = 'X-Crossfind-Stored';

let current; // version id, or null; undefined until read from META
let syncing = null;
let lastSync = 0;
let lastError = null;
const versionOf = new Map(); // client id -> version it started with

function inBundle(url) {
  return url.origin === BASE.origin && url.pathname.startsWith(BASE.pathname) && !url.pathname.endsWith('/sw.js');
}

async function currentVersion() {
  if (current !== undefined) return current;
  const meta = await caches.open(META);
  const r = await meta.match(CURRENT_KEY);
  current = r ? await r.text() : null;
  return current;
}

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const sha256 = async (bytes) => hex(await crypto.subtle.digest('SHA-256', bytes));

async function fetchOk(url, init) {
  const r = await fetch(url, Object.assign({ cache: 'no-cache', credentials: 'same-origin' }, init || {}));
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r;
}

function textResponse(text, type) {
  return new Response(text, { headers: { 'Content-Type': type + '; charset=utf-8', 'Cache-Control': 'no-cache' } });
}

async function notify(msg) {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of all) c.postMessage(Object.assign({ type: 'crossfind-offline' }, msg));
}

const PRECACHE = 'offline.json';

// The entries of offline.json, checked: every name must be a plain name
// inside the bundle folder (bundle-files.cjs), and a range entry has both
// ends; one that is not fails the whole sync, naming the list and the name.
function precacheFiles(list) {
  if (!list || list.format !== 'crossfind-offline' || list.version !== 1 || typeof list.copy !== 'string' || !Array.isArray(list.files)) {
    throw new Error(`${PRECACHE} is not a list this widget reads (format crossfind-offline, version 1): rebuild the bundle with the crossfind that matches this widget`);
  }
  return list.files.map((f) => {
    const url = fileUrl(f.name, BASE, PRECACHE);
    if (typeof f.sha256 !== 'string' || !Number.isSafeInteger(f.bytes)) throw new Error(`${PRECACHE}: ${f.name} has no sha256 or size`);
    const ranged = f.start !== undefined || f.end !== undefined;
    if (ranged && !(Number.isSafeInteger(f.start) && Number.isSafeInteger(f.end) && f.start < f.end)) {
      throw new Error(`${PRECACHE}: the range of ${f.name} is not start < end`);
    }
    return { url, sha256: f.sha256, bytes: f.bytes, range: ranged ? { start: f.start, end: f.end } : null };
  });
}

// Downloads the version the server has now, if it is not the current one.
async function sync() {
  lastSync = Date.now();
  const listUrl = new URL(PRECACHE, BASE).href;
  const widgetUrl = new URL('widget.json', BASE).href;
  const listRes = await fetch(listUrl, { cache: 'no-cache', credentials: 'same-origin' });
  if (listRes.status === 404) {
    throw new Error(`${listUrl}: HTTP 404: the bundle has no ${PRECACHE} (crossfind index writes it since the precache list moved out of the widget); index the site again with this crossfind`);
  }
  if (!listRes.ok) throw new Error(listUrl + ': HTTP ' + listRes.status);
  const listText = await listRes.text();
  const list = JSON.parse(listText);
  const bundleFiles = precacheFiles(list);
  let widgetText = '{"files":[]}';
  try {
    widgetText = await (await fetchOk(widgetUrl)).text();
  } catch (e) {
    /* a bundle without the widget list: only the bundle is kept */
  }
  const widget = JSON.parse(widgetText);
  const version = (await sha256(new TextEncoder().encode(list.copy + '\n' + widgetText))).slice(0, 16);
  if (version === (await currentVersion())) {
    await dropUnused();
    await notify({ state: 'ready', version: version });
    return version;
  }

  // [url to store under, sha256 or null, the entry when only a byte range of the file is kept, bytes, the list that gives the sha256]
  const files = [];
  for (const f of bundleFiles) files.push([f.range ? partKey(f.url, f.range) : f.url.href, f.sha256, f.range ? f : undefined, f.bytes, PRECACHE]);
  const flavour = pickFlavour('auto');
  const listed = new Set((widget.files || []).map((f) => f.name));
  for (const f of widget.files || []) {
    if (f.wasm && f.wasm !== flavour) continue; // the other wasm build: never loaded here
    if (f.gzip && listed.has(f.gzip)) continue; // its gzip form is kept: the worker fetches that from this copy
    files.push([fileUrl(f.name, BASE, 'widget.json').href, f.sha256 || null, undefined, f.bytes, 'widget.json']);
  }
  // Progress for the page: bytes of the whole copy, and of the files in.
  const total = files.reduce((n, f) => n + (Number(f[3]) || 0), 0);
  let loaded = 0;
  let lastProgress = 0;
  const progress = (bytes) => {
    loaded += Number(bytes) || 0;
    const now = Date.now();
    if (now - lastProgress >= 250 || loaded >= total) {
      lastProgress = now;
      notify({ state: 'syncing', loaded: loaded, total: total });
    }
  };
  progress(0);

  const name = VERSION_PREFIX + version;
  const cache = await caches.open(name);
  // The version readers have now: a file of the new one that it holds with
  // the same name and sha256 (shards keep their names while their content
  // does not change; model files and rows are the same for the same pack)
  // is copied from it instead of downloaded again.
  const was = await currentVersion();
  const previous = was && (await caches.has(VERSION_PREFIX + was)) ? await caches.open(VERSION_PREFIX + was) : null;
  // Files already in this version's cache (an interrupted download) are kept.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const [url, want, range, bytesListed, listedIn] = files[next++];
      if (await cache.match(url)) {
        progress(bytesListed);
        continue;
      }
      const kept = await keptCopy(previous, url, want);
      if (kept) {
        await cache.put(url, kept);
        progress(bytesListed);
        continue;
      }
      if (range) {
        await cache.put(url, new Response(await fetchPart(range), { status: 200 }));
        progress(bytesListed);
        continue;
      }
      const res = await fetchOk(url);
      const bytes = await res.arrayBuffer();
      if (want && (await sha256(bytes)) !== want) throw new Error(`${url} does not match its sha256 in ${listedIn}`);
      const headers = new Headers(res.headers);
      await cache.put(url, new Response(bytes, { status: 200, headers: headers }));
      progress(bytes.byteLength);
    }
  };
  // A file that fails (damaged, cut off) stops only its own worker: the
  // others fetch the rest, so that the next try needs only what failed, and
  // nothing is left downloading once the failure is reported.
  const done = await Promise.allSettled([worker(), worker(), worker(), worker()]);
  const failed = done.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  // The two lists exactly as read, last: they make the copy complete.
  await cache.put(widgetUrl, textResponse(widgetText, 'application/json'));
  await cache.put(listUrl, textResponse(listText, 'application/json'));

  // The switch: one write.
  const meta = await caches.open(META);
  await meta.put(CURRENT_KEY, textResponse(version, 'text/plain'));
  current = version;
  await dropUnused();
  await notify({ state: 'ready', version: version });
  return version;
}

// `url` as the cache `previous` holds it, if its bytes have the sha256 `want`
// (checked again: a copy is only as good as a download).
async function keptCopy(previous, url, want) {
  if (!previous || !want) return null;
  const hit = await previous.match(url);
  if (!hit) return null;
  const bytes = await hit.arrayBuffer();
  if ((await sha256(bytes)) !== want) return null;
  return new Response(bytes, { status: 200, headers: hit.headers });
}

// ------------------------------------------------- embedding rows, in part

// Where a kept range lives in the version's cache (never a URL the site serves).
const partKey = (url, r) => `${url.href}.crossfind-rows-${r.start}-${r.end}`;

// Bytes start..end of a file (an offline.json entry with a range), checked
// against the list's sha256. A server that ignores Range sends the whole
// file; the range is cut from it.
async function fetchPart(f) {
  const { start, end } = f.range;
  const url = f.url.href;
  const res = await fetchOk(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
  let bytes = await res.arrayBuffer();
  if (res.status !== 206) bytes = bytes.slice(start, end);
  if (bytes.byteLength !== end - start || (await sha256(bytes)) !== f.sha256) {
    throw new Error(`${url} bytes ${start}-${end - 1} do not match their sha256 in ${PRECACHE}`);
  }
  return bytes;
}

// Kept ranges of each version: version -> Promise<[{ path, start, end, key }]>.
const partsOf = new Map();

function partsOfVersion(v, cache) {
  if (!partsOf.has(v)) {
    partsOf.set(
      v,
      (async () => {
        const hit = await cache.match(new URL(PRECACHE, BASE).href);
        const files = hit ? precacheFiles(JSON.parse(await hit.text())) : [];
        return files
          .filter((f) => f.range)
          .map((f) => ({ path: f.url.pathname, start: f.range.start, end: f.range.end, key: partKey(f.url, f.range) }));
      })(),
    );
  }
  return partsOf.get(v);
}

// A 206 answer from the kept range that holds the requested bytes, or null.
async function fromPart(v, cache, url, range) {
  const want = parseRange(range);
  if (!want || want.end === null) return null;
  const part = partHolding(await partsOfVersion(v, cache), url, want.start, want.end);
  const hit = part && (await cache.match(part.key));
  if (!hit) return null;
  return partial(await hit.arrayBuffer(), part.start, want.start, want.end, '*', 'application/octet-stream');
}

// The kept range of `url` holding bytes first..last (inclusive), or undefined.
const partHolding = (parts, url, first, last) => parts.find((p) => p.path === url.pathname && p.start <= first && last < p.end);

// Deletes versions that are neither current nor in use by a live page.
async function dropUnused() {
  const live = await self.clients.matchAll({ type: 'all', includeUncontrolled: true });
  const ids = new Set(live.map((c) => c.id));
  const inUse = new Set([current]);
  for (const [id, v] of versionOf) {
    if (ids.has(id)) inUse.add(v);
    else versionOf.delete(id);
  }
  for (const key of await caches.keys()) {
    if (key.startsWith(VERSION_PREFIX) && !inUse.has(key.slice(VERSION_PREFIX.length))) {
      partsOf.delete(key.slice(VERSION_PREFIX.length));
      await caches.delete(key);
    }
  }
}

function syncOnce() {
  if (!syncing) {
    syncing = sync()
      .then((v) => {
        lastError = null;
        return v;
      })
      .catch(async (e) => {
        lastError = String(e && e.message ? e.message : e);
        await notify({ state: 'failed', message: lastError });
      })
      .finally(() => {
        syncing = null;
      });
  }
  return syncing;
}

self.addEventListener('install', () => self.skipWaiting());

// Drops every page copy that may not be kept (copies an older worker kept
// without these rules too) or is too old, then trims to the bound.
const tidyPages = () => pagesTask(async () => trimPages(await caches.open(PAGES), true)).catch(() => {});

self.addEventListener('activate', (event) => {
  event.waitUntil(Promise.all([self.clients.claim(), tidyPages()]));
});

self.addEventListener('message', (event) => {
  const m = event.data || {};
  if (m.type === 'sync') {
    event.waitUntil(Promise.all([keepPages(m.pages).then(tidyPages), syncOnce()]));
  } else if (m.type === 'remove') {
    // The reader (through the site's status API) takes the offline copy
    // back: every cache of this bundle goes, and this worker unregisters,
    // so nothing is downloaded again until the widget is asked to.
    event.waitUntil(removeAll().then(() => notify({ state: 'removed' })));
  } else if (m.type === 'status') {
    const port = event.ports && event.ports[0];
    event.waitUntil(
      currentVersion().then((v) => {
        const state = syncing ? 'syncing' : v ? 'ready' : lastError ? 'failed' : 'empty';
        const answer = { state: state, version: v || null, error: lastError };
        if (port) port.postMessage(answer);
        else if (event.source) event.source.postMessage(Object.assign({ type: 'crossfind-offline-status' }, answer));
      }),
    );
  }
});

async function removeAll() {
  for (const key of await caches.keys()) if (key.startsWith(PREFIX)) await caches.delete(key);
  current = null;
  partsOf.clear();
  versionOf.clear();
  await self.registration.unregister();
}

// Pages the widget reports from a visit this worker did not see yet (the
// page itself and its stylesheets), kept when they may be (keepable).
async function keepPages(urls) {
  if (!Array.isArray(urls)) return;
  const cache = await caches.open(PAGES);
  await Promise.all(
    urls.slice(0, 20).map(async (u) => {
      try {
        const url = new URL(u);
        url.hash = '';
        if (url.origin !== self.location.origin || inBundle(url) || (await cache.match(url.href))) return;
        const req = new Request(url.href, { credentials: 'same-origin' });
        const res = await fetch(req);
        await keepPage(req, res);
      } catch (e) {
        /* best effort: the next visit fills it in */
      }
    }),
  );
}

async function fromBundle(event, url) {
  // The version this page (or its worker) started with; a new page gets the current one.
  let v = versionOf.get(event.clientId);
  if (!v) {
    v = await currentVersion();
    if (v && event.clientId) versionOf.set(event.clientId, v);
  }
  if (v && event.resultingClientId) versionOf.set(event.resultingClientId, v);
  if (v) {
    const cache = await caches.open(VERSION_PREFIX + v);
    const hit = await cache.match(url.href, { ignoreSearch: true });
    const range = event.request.headers.get('range');
    const set = range && rangeSet(range);
    if (set && set.length > 1) {
      const several = await severalOf(v, cache, url, hit, set);
      if (several) return several;
    } else {
      if (hit && range) return sliceOf(hit, range);
      if (range) {
        const part = await fromPart(v, cache, url, range);
        if (part) return part;
      }
    }
    if (hit) {
      if (url.pathname === new URL('manifest.json', BASE).pathname && Date.now() - lastSync > SYNC_EVERY_MS) {
        event.waitUntil(syncOnce()); // look for a newer version, for the next page
      }
      return hit;
    }
  }
  return fetch(event.request);
}

// A 206 answer cut from a cached whole file (the search worker fetches
// embedding rows by byte range); a range it cannot parse gets the whole file.
async function sliceOf(res, range) {
  const want = parseRange(range);
  if (!want) return res;
  const body = await res.arrayBuffer();
  const start = want.start;
  const end = Math.min(want.end === null ? body.byteLength - 1 : want.end, body.byteLength - 1);
  if (start > end) {
    return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${body.byteLength}` } });
  }
  return partial(body, 0, start, end, body.byteLength, res.headers.get('Content-Type') || 'application/octet-stream');
}

// The 206 answer to a request for several ranges (`set`, rangeSet's: the
// search worker asks for a large bundle's rows so), in one multipart body
// cut from the kept whole file `hit` or from the kept ranges; null when a
// range is in neither (the request then goes to the network).
async function severalOf(v, cache, url, hit, set) {
  if (set.some((r) => r.first === null || r.last === null)) return null;
  const pieces = [];
  let total = '*';
  if (hit) {
    const body = new Uint8Array(await hit.arrayBuffer());
    if (set.some((r) => r.last >= body.length)) return null;
    for (const r of set) pieces.push({ start: r.first, end: r.last, bytes: body.subarray(r.first, r.last + 1) });
    total = body.length;
  } else {
    const parts = await partsOfVersion(v, cache);
    const read = new Map();
    for (const r of set) {
      const part = partHolding(parts, url, r.first, r.last);
      if (!part) return null;
      if (!read.has(part.key)) {
        const kept = await cache.match(part.key);
        read.set(part.key, kept ? new Uint8Array(await kept.arrayBuffer()) : null);
      }
      const bytes = read.get(part.key);
      if (!bytes) return null;
      pieces.push({ start: r.first, end: r.last, bytes: bytes.subarray(r.first - part.start, r.last - part.start + 1) });
    }
  }
  const { contentType, body } = multipartAnswer(pieces, (hit && hit.headers.get('Content-Type')) || 'application/octet-stream', total);
  return new Response(body, { status: 206, headers: { 'Content-Type': contentType, 'Content-Length': String(body.length) } });
}

// The 206 answer for file bytes start..end (inclusive) out of `body`, which
// holds the file from byte `offset` on; `total` is the file's size or '*'.
function partial(body, offset, start, end, total, type) {
  return new Response(body.slice(start - offset, end - offset + 1), {
    status: 206,
    headers: {
      'Content-Type': type,
      'Content-Range': `bytes ${start}-${end}/${total}`,
      'Content-Length': String(end - start + 1),
    },
  });
}

// `bytes=a-b` or `bytes=a-` as { start, end (inclusive) or null }; null otherwise.
function parseRange(range) {
  const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
  return m ? { start: Number(m[1]), end: m[2] ? Number(m[2]) : null } : null;
}

// ------------------------------------------------------------ the site's pages
//
// A copy of a page is kept only when any visitor could have been given it:
// a plain 200 of this origin (not redirected), HTML (or a stylesheet), that
// the server did not mark as personal or unstorable. A request that carried
// an Authorization header is not kept either; the cookies a page request
// sends are not visible here, so a site whose pages differ per signed-in
// reader must say so (Cache-Control: private, or Vary: Cookie), as it must
// for any shared cache.

const KEPT_TYPES = ['text/html', 'text/css'];

function keepable(req, res) {
  if (!res || res.status !== 200 || res.type !== 'basic' || res.redirected) return false;
  if (req.headers.has('authorization')) return false;
  return storedCopyOk(res);
}

// What the stored headers still tell (for copies kept by older workers too).
function storedCopyOk(res) {
  const type = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  if (!KEPT_TYPES.includes(type)) return false;
  const cc = (res.headers.get('cache-control') || '').toLowerCase();
  if (/(^|[\s,])(no-store|private)(\s*=|\s*,|\s*$)/.test(cc)) return false;
  const vary = (res.headers.get('vary') || '').toLowerCase().split(',').map((v) => v.trim());
  if (vary.some((v) => v === '*' || v === 'cookie' || v === 'authorization')) return false;
  return true;
}

const tooOld = (res) => !(Date.now() - Number(res.headers.get(STORED_AT) || 0) < PAGES_MAX_AGE_MS);

// Page-cache writes one at a time, so the bound holds.
let pagesQueue = Promise.resolve();
function pagesTask(fn) {
  const run = pagesQueue.then(fn, fn);
  pagesQueue = run.catch(() => {});
  return run;
}

// Keeps a copy of `res` (stamped with the time) under the request's URL, or
// drops an older copy when this answer may not be kept; then trims.
async function keepPage(req, res) {
  const key = req.url.split('#')[0];
  if (!keepable(req, res)) {
    // A page that is now private or gone keeps no older copy either.
    if (res && (res.status === 200 || res.status === 404 || res.status === 410)) {
      await pagesTask(async () => (await caches.open(PAGES)).delete(key));
    }
    return;
  }
  const headers = new Headers(res.headers);
  headers.set(STORED_AT, String(Date.now()));
  const body = await res.arrayBuffer();
  await pagesTask(async () => {
    const cache = await caches.open(PAGES);
    await cache.delete(key); // a new copy goes to the end: the oldest stay first
    await cache.put(key, new Response(body, { status: 200, statusText: res.statusText, headers }));
    await trimPages(cache);
  });
}

// Drops copies that may not be kept, that are too old, and the oldest ones
// beyond PAGES_MAX (Cache Storage lists entries in the order they were put).
async function trimPages(cache, checkAll = false) {
  let keys = await cache.keys();
  if (checkAll) {
    const left = [];
    for (const k of keys) {
      const r = await cache.match(k);
      if (r && storedCopyOk(r) && !tooOld(r)) left.push(k);
      else await cache.delete(k);
    }
    keys = left;
  }
  for (const k of keys.slice(0, Math.max(0, keys.length - PAGES_MAX))) await cache.delete(k);
}

// Network first; the last good copy when offline.
async function fromSite(event) {
  const req = event.request;
  if (req.mode === 'navigate' && event.resultingClientId) {
    // A new page starts on the current version and keeps it.
    const v = await currentVersion();
    if (v) versionOf.set(event.resultingClientId, v);
  }
  try {
    const res = await fetch(req);
    event.waitUntil(keepPage(req, res.clone()).catch(() => {}));
    return res;
  } catch (e) {
    const cache = await caches.open(PAGES);
    const hit = await cache.match(req.url, { ignoreSearch: req.mode === 'navigate', ignoreVary: true });
    if (hit && !tooOld(hit)) return hit;
    throw e;
  }
}

// The search worker asks, with a HEAD request, whether the host compresses
// a file (www/src/worker.js, compressedByHost), to fetch the plain file
// rather than its gzip form. The copy holds the gzip forms: while there is
// one, the answer is no.
async function headFromBundle(event) {
  if (await currentVersion()) return new Response(null, { status: 200 });
  return fetch(event.request);
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method === 'HEAD' && inBundle(new URL(req.url))) {
    event.respondWith(headFromBundle(event));
    return;
  }
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (inBundle(url)) event.respondWith(fromBundle(event, url));
  else if (req.headers.has('range') || url.pathname.endsWith('/sw.js')) return; // media and the like: the browser's own way
  // The site's pages and their stylesheets; scripts, images, API calls and
  // the rest are the browser's business, never kept.
  else if (req.mode === 'navigate' || req.destination === 'style') event.respondWith(fromSite(event));
});
