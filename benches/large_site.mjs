// The large-site benchmark (issue 18, item 3): a generated 12-language help
// center of 5,040 HTML pages, indexed for real by `crossfind index` and by
// Pagefind, then searched in headless Chromium, side by side, cold:
//
//   node benches/large_site.mjs [--pages N] [--rounds N] [--out FILE] [--label NAME] [--hosts raw,brotli,h2,single,h2-single]
//   node benches/large_site.mjs --site target/demo-site --label demo
//
// --site measures a site already built and indexed instead (its bundle in
// crossfind/ with the widget: the demo from scripts/demo.sh --no-serve);
// Pagefind is run on it into pagefind/ when that folder is missing. The
// label defaults to "large-<pages>" or the site folder's name.
//
// Steps (the first three are cached under .cache/bench/large-site/<key>/,
// keyed by the generator, the demo's content, the indexer's sources, the
// model pack and the Pagefind version, so a rerun only measures):
//   1. the demo help center (examples/helpdesk/build.mjs) -> the large site
//      (benches/lib/largesite.mjs: every page a demo page of its language
//      with a recombined article, distinct titles and sections);
//   2. `target/release/crossfind index` on it (its embedding cache in
//      .cache/bench/large-site/embed-cache: seconds once filled; 15
//      minutes on 2 busy cores the first time); every run then copies the
//      widget (www/dist: scripts/build-wasm.sh, then webpack) beside it;
//   3. Pagefind (target/pagefind: `npm install --prefix target/pagefind
//      pagefind@1.6.0`) on the same HTML, into /pagefind/.
//   4. For each host (raw: compresses nothing, and answers several byte
//      ranges in one request with a multipart body, as nginx, Apache and
//      Go do; brotli: compresses everything, quality 11, as pre-compressed
//      files; only when --hosts names them: h2, raw over HTTP/2 with TLS,
//      as most static hosts serve today, where a query's range requests
//      share one connection; single, raw but one range a request, as
//      object stores and several CDNs; h2-single, both: one range a
//      request over HTTP/2, as a CDN that does not answer several ranges
//      at once serves them) and each engine, a fresh browser
//      context opens a Japanese article page and runs the fixed queries
//      below. Every request the server answers is recorded with the bytes
//      it wrote for it (headers and body) and put in a class: `library`
//      (the engine's JS, wasm, CSS, strings), `index` (the search bundle:
//      for crossfind manifest, docs, lexical, fragment shards and snippet records;
//      for Pagefind its entry, meta, index chunks, filters and fragments),
//      `vectors` (crossfind's vectors shard: the worker fetches it with the
//      model, for semantic search only; on a bundle with sign codes the
//      codes with the model and the rows of each query's candidate pages
//      by range; counted in the first semantic result's index bytes, and
//      per later semantic query) and `model` (crossfind's model pack,
//      embedding rows included). The
//      other engine's folder is blocked, so each visit sees only its own.
//
// Milestones: bytes by class from navigation until the first keyword
// result (crossfind: ready and fragments-ready, then a lexical query with
// the snippet text of its hits, which the worker fetches per query since
// 187f063;
// Pagefind: init, search, and the data of the top 5 results), bytes of each
// later keyword query, then (crossfind only) bytes until the first semantic
// result and of each later semantic query. Pagefind runs the semantic
// queries too, as keyword queries, for their bytes and hit counts.
//
// Writes FILE (default bench-results/large-site.json; runs merged by
// label) and FILE with .md: the table docs/large-sites.md quotes.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync, statSync, rmSync, cpSync, renameSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createHandler } from '../www/serve.mjs';
import { generateLargeSite } from './lib/largesite.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = { pages: 5040, rounds: 1, out: path.join(ROOT, 'bench-results/large-site.json'), label: null, site: null, hosts: ['raw', 'brotli'] };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--pages') args.pages = Number(v());
  else if (a === '--rounds') args.rounds = Number(v());
  else if (a === '--out') args.out = path.resolve(v());
  else if (a === '--label') args.label = v();
  else if (a === '--site') args.site = path.resolve(v());
  else if (a === '--hosts') args.hosts = v().split(',');
  else {
    console.error(`large_site.mjs: unknown argument ${a}`);
    process.exit(2);
  }
}

const CLI = path.join(ROOT, 'target/release/crossfind');
const PAGEFIND_DIR = path.join(ROOT, 'target/pagefind');
const PAGEFIND_BIN = path.join(PAGEFIND_DIR, 'node_modules/.bin/pagefind');
const WIDGET_FROM = path.join(ROOT, 'www/dist');
const CACHE = path.join(ROOT, '.cache/bench/large-site');
const log = (...a) => console.error(...a);

// The page the visits open, and the queries (the page is Japanese, so
// Pagefind searches its Japanese index; crossfind searches every language).
let PAGE = '/ja/reset-password--kitebook-desktop-for-macos.html';
const DEMO_PAGE = '/ja/reset-password.html';
const KEYWORD = ['パスワード', '請求書', 'Webhook', '二要素認証', 'SSO'];
const SEMANTIC = [
  'descargar el registro de auditoría de quién hizo qué',
  'パスワードを忘れてログインできない',
  'how do I stop being charged after I cancel',
  'le lien de vérification de mon e-mail a expiré',
];

// ------------------------------------------------------------------ build

function sha(files) {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(path.relative(ROOT, f));
    h.update(readFileSync(f));
  }
  return h.digest('hex');
}
const walk = (dir, keep = () => true) =>
  readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name), keep) : keep(e.name) ? [path.join(dir, e.name)] : []));

// The installed Pagefind's version; null when it is not installed (a
// --site whose pagefind/ folder was built before needs none).
function pagefindVersion() {
  const p = path.join(PAGEFIND_DIR, 'node_modules/pagefind/package.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')).version : null;
}

function key() {
  const src = ['src/ingest', 'src/bundle', 'src/search', 'src/model', 'src/index', 'src/format'].flatMap((d) => walk(path.join(ROOT, d), (n) => n.endsWith('.rs')));
  return createHash('sha256')
    .update(sha([
      path.join(ROOT, 'benches/lib/largesite.mjs'),
      ...walk(path.join(ROOT, 'examples/helpdesk')),
      path.join(ROOT, 'models/e5-small/pack.json'),
      ...src,
      path.join(ROOT, 'src/cli/index.rs'),
      path.join(ROOT, 'src/lib.rs'),
      path.join(ROOT, 'src/script.rs'),
    ]))
    .update(`pages=${args.pages} pagefind=${pagefindVersion()}`)
    .digest('hex')
    .slice(0, 16);
}

function dirStats(dir, skip = () => false) {
  let files = 0, bytes = 0;
  for (const f of walk(dir)) {
    if (skip(path.relative(dir, f))) continue;
    files++;
    bytes += statSync(f).size;
  }
  return { files, bytes };
}

function build() {
  if (!existsSync(PAGEFIND_BIN)) throw new Error(`no Pagefind: npm install --prefix target/pagefind pagefind@1.6.0`);
  const k = key();
  const dir = path.join(CACHE, k);
  const site = path.join(dir, 'site');
  const infoFile = path.join(dir, 'build.json');
  if (existsSync(infoFile)) {
    log(`large site ${k}: cached in ${path.relative(ROOT, dir)}`);
    return { site, info: JSON.parse(readFileSync(infoFile, 'utf8')) };
  }
  const tmp = path.join(CACHE, `${k}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const demo = path.join(tmp, 'demo');
  execFileSync('node', [path.join(ROOT, 'examples/helpdesk/build.mjs'), '--out', demo], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tsite = path.join(tmp, 'site');
  const t0 = Date.now();
  const gen = generateLargeSite({ demoSite: demo, out: tsite, pages: args.pages });
  const genS = (Date.now() - t0) / 1000;
  log(`generated ${gen.pages} pages in ${genS.toFixed(1)} s`);
  const html = dirStats(tsite);
  const t1 = Date.now();
  const summary = JSON.parse(execFileSync(CLI, ['index', '--input', tsite, '--out', path.join(tsite, 'crossfind'), '--cache', path.join(CACHE, 'embed-cache'),
    '--report', path.join(tmp, 'crossfind-report.txt'), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 }));
  const crossfindS = (Date.now() - t1) / 1000;
  const bundleStats = dirStats(path.join(tsite, 'crossfind'), (f) => f.startsWith('model/'));
  const modelStats = dirStats(path.join(tsite, 'crossfind/model'));
  const t2 = Date.now();
  execFileSync(PAGEFIND_BIN, ['--site', tsite, '--output-subdir', 'pagefind'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pagefindS = (Date.now() - t2) / 1000;
  const pf = dirStats(path.join(tsite, 'pagefind'));
  const info = {
    key: k,
    generator: gen,
    html,
    crossfind: { index_seconds: crossfindS, bundle_without_model: bundleStats, model: modelStats, summary },
    pagefind: { version: pagefindVersion(), index_seconds: pagefindS, files: pf.files, bytes: pf.bytes },
  };
  rmSync(demo, { recursive: true, force: true });
  writeFileSync(path.join(tmp, 'build.json'), JSON.stringify(info, null, 1) + '\n');
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { site, info };
}

// The widget (www/dist: scripts/build-wasm.sh, then webpack) into the
// site's bundle folder, every run, replacing an older one.
function installWidget(site) {
  if (!existsSync(path.join(WIDGET_FROM, 'widget.json'))) throw new Error('no widget build in www/dist: scripts/build-wasm.sh && node_modules/.bin/webpack --mode production');
  const dir = path.join(site, 'crossfind');
  const old = path.join(dir, 'widget.json');
  if (existsSync(old)) for (const f of JSON.parse(readFileSync(old, 'utf8')).files) rmSync(path.join(dir, f.name), { force: true });
  cpSync(WIDGET_FROM, dir, { recursive: true });
  return JSON.parse(readFileSync(old, 'utf8')).files.length;
}

// The bundle's shards by kind from its manifest: count, bytes, and bytes
// of their .gz forms where the indexer wrote one (what a browser fetches).
function shardStats(site) {
  const dir = path.join(site, 'crossfind');
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const out = {};
  // (bundle format 8 lists its snippets files as [hash, bytes])
  const snippets = (m.snippet_files || []).map(([hash, bytes]) => ({ name: `snippets.${hash}.bin`, kind: 'snippets', bytes }));
  for (const s of [...m.shards, ...snippets]) {
    const o = (out[s.kind] ??= { shards: 0, bytes: 0, fetched_bytes: 0 });
    o.shards++;
    o.bytes += s.bytes;
    const gz = path.join(dir, s.name + '.gz');
    o.fetched_bytes += existsSync(gz) ? statSync(gz).size : s.bytes;
  }
  return out;
}

// ------------------------------------------------------------------ serve

// www/serve.mjs's handler, with every answer recorded: the bytes written to
// the socket for it (Chromium sends one request at a time per connection).
function serve(root, { compress = null, h2 = false, faults = {} } = {}) {
  const handler = createHandler({ root, compress, faults });
  const entries = [];
  if (h2) {
    // HTTP/2 multiplexes every answer on one socket, so an answer's bytes
    // are its body's (Content-Length; HPACK-compressed headers are a few
    // bytes and left out)
    const sessions = new Set();
    const server = http2.createSecureServer(tlsFiles(), (req, res) => {
      res.on('finish', () => entries.push({ method: req.method, url: req.url, status: res.statusCode, bytes: req.method === 'HEAD' ? 0 : Number(res.getHeader('content-length') || 0), t: Date.now() }));
      handler(req, res);
    });
    server.on('session', (x) => { sessions.add(x); x.on('close', () => sessions.delete(x)); });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
      url: `https://127.0.0.1:${server.address().port}`,
      entries,
      close: () => new Promise((r) => { for (const x of sessions) x.destroy(); server.close(r); }),
    })));
  }
  const server = http.createServer((req, res) => {
    const s = req.socket;
    const b0 = s.bytesWritten;
    res.on('finish', () => entries.push({ method: req.method, url: req.url, status: res.statusCode, bytes: s.bytesWritten - b0, t: Date.now() }));
    handler(req, res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    entries,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  })));
}

// A self-signed certificate for 127.0.0.1 (made once with openssl, kept in
// .cache/bench/tls); the browser context of an h2 visit accepts it.
function tlsFiles() {
  const dir = path.join(ROOT, '.cache/bench/tls');
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  if (!existsSync(cert)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '3650', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  }
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

function classify(url) {
  const p = new URL(url, 'http://x').pathname;
  if (p.startsWith('/crossfind/model/')) return 'model';
  if (p.startsWith('/crossfind/')) {
    const n = p.slice('/crossfind/'.length);
    // fetched with the model, for semantic search only (since the keyword-first worker)
    // (with sign codes, bundle format 5: the codes with the model, then the
    // rows of each query's candidate pages by range)
    if (/^(vectors|vector-codes)\./.test(n)) return 'vectors';
    if (/^(manifest\.json|docs\.|lexical[.-]|frag\.|snippets\.|offline\.json)/.test(n)) return 'index';
    return 'library';
  }
  if (p.startsWith('/pagefind/')) {
    const n = p.slice('/pagefind/'.length);
    if (/^(pagefind-entry\.json|pagefind\.[^/]*\.pf_meta|index\/|fragment\/|filter\/)/.test(n)) return 'index';
    return 'library';
  }
  return 'page';
}

function tally(entries) {
  const by = { library: 0, index: 0, vectors: 0, model: 0, page: 0 };
  for (const e of entries) by[classify(e.url)] += e.bytes;
  return { ...by, requests: entries.length, engine: by.library + by.index + by.vectors + by.model };
}

// ------------------------------------------------------------------ visits

const HOSTS = {
  raw: {},
  single: { faults: { singleRange: true } },
  brotli: { compress: { encoding: 'br', quality: 11, cacheDir: path.join(ROOT, '.cache/bench/brotli-bodies') } },
  h2: { h2: true },
  'h2-single': { h2: true, faults: { singleRange: true } },
};
for (const h of args.hosts) {
  if (!HOSTS[h]) {
    console.error(`large_site.mjs: no host ${h} (${Object.keys(HOSTS).join(', ')})`);
    process.exit(2);
  }
}

async function visit(browser, site, host, engine) {
  const server = await serve(site, HOSTS[host]);
  const context = await browser.newContext({ serviceWorkers: 'block', ignoreHTTPSErrors: true });
  const other = engine === 'crossfind' ? '/pagefind/' : '/crossfind/';
  await context.route((u) => u.pathname.startsWith(other), (r) => r.abort());
  const steps = [];
  let cursor = 0;
  const t0 = Date.now();
  const step = (name, query, extra = {}) => {
    const now = server.entries.length;
    const mine = server.entries.slice(cursor, now);
    cursor = now;
    steps.push({ name, query, ms: Date.now() - t0, ...extra, bytes: tally(mine), files: mine.map((e) => `${e.method} ${e.url} ${e.status} ${e.bytes}`) });
  };
  let tStep = Date.now();
  const since = () => { const ms = Date.now() - tStep; tStep = Date.now(); return ms; };
  try {
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__fragments = new Promise((r) => document.addEventListener('fragments-ready', r, { once: true }));
    });
    await page.goto(server.url + PAGE);
    if (engine === 'crossfind') {
      await page.evaluate(() => window.crossfind.ready());
      await page.evaluate(() => window.__fragments);
      const run = (q, mode) => page.evaluate(([q, mode]) => window.crossfind.search(q, { k: 5, mode }).then((h) => ({ n: h.length, top: h[0]?.url ?? null, dense: h[0]?.dense ?? null })), [q, mode]);
      // the search starts the model download: its bytes are class `model`
      let r = await run(KEYWORD[0], 'lexical');
      step('first_keyword_result', KEYWORD[0], { step_ms: since(), hits: r.n, top: r.top });
      for (const q of KEYWORD.slice(1)) {
        tStep = Date.now();
        r = await run(q, 'lexical');
        step('later_keyword_query', q, { step_ms: since(), hits: r.n, top: r.top });
      }
      tStep = Date.now();
      await page.evaluate(() => window.crossfind.semanticReady());
      r = await run(SEMANTIC[0], 'hybrid');
      if (r.dense == null) throw new Error(`crossfind ${host}: no semantic result for ${SEMANTIC[0]}`);
      step('first_semantic_result', SEMANTIC[0], { step_ms: since(), hits: r.n, top: r.top });
      for (const q of SEMANTIC.slice(1)) {
        tStep = Date.now();
        r = await run(q, 'hybrid');
        step('later_semantic_query', q, { step_ms: since(), hits: r.n, top: r.top });
      }
    } else {
      await page.evaluate(async () => {
        window.__pf = await import('/pagefind/pagefind.js');
        await window.__pf.init();
      });
      const run = (q) => page.evaluate(async (q) => {
        const r = await window.__pf.search(q);
        const top = await Promise.all(r.results.slice(0, 5).map((x) => x.data()));
        return { n: r.results.length, top: top[0]?.url ?? null };
      }, q);
      let r = await run(KEYWORD[0]);
      step('first_keyword_result', KEYWORD[0], { step_ms: since(), hits: r.n, top: r.top });
      for (const q of [...KEYWORD.slice(1), ...SEMANTIC]) {
        tStep = Date.now();
        r = await run(q);
        step('later_keyword_query', q, { step_ms: since(), hits: r.n, top: r.top });
      }
    }
    // let late answers land; they belong to the last step
    await page.waitForTimeout(300);
    const last = steps[steps.length - 1];
    const rest = server.entries.slice(cursor);
    if (rest.length) {
      last.late = tally(rest);
      last.late_files = rest.map((e) => `${e.method} ${e.url} ${e.status} ${e.bytes}`);
    }
    return { engine, host, steps };
  } finally {
    await context.close();
    await server.close();
  }
}

// ------------------------------------------------------------------ main

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function given(site) {
  if (!existsSync(path.join(site, 'crossfind/manifest.json'))) throw new Error(`${site}: no crossfind/manifest.json`);
  let pagefindS = null;
  if (!existsSync(path.join(site, 'pagefind/pagefind.js'))) {
    const t = Date.now();
    execFileSync(PAGEFIND_BIN, ['--site', site, '--output-subdir', 'pagefind'], { stdio: ['ignore', 'ignore', 'inherit'] });
    pagefindS = (Date.now() - t) / 1000;
  }
  const manifest = JSON.parse(readFileSync(path.join(site, 'crossfind/manifest.json'), 'utf8'));
  installWidget(site);
  const widget = new Set(JSON.parse(readFileSync(path.join(site, 'crossfind/widget.json'), 'utf8')).files.map((f) => f.name));
  const pf = dirStats(path.join(site, 'pagefind'));
  return {
    generator: { pages: manifest.pages, given: path.relative(ROOT, site) },
    html: dirStats(site, (f) => f.startsWith('crossfind/') || f.startsWith('pagefind/')),
    crossfind: {
      index_seconds: null,
      bundle_without_model: dirStats(path.join(site, 'crossfind'), (f) => f.startsWith('model/') || widget.has(f) || f === 'widget.json' || f.startsWith('.')),
      model: dirStats(path.join(site, 'crossfind/model')),
      summary: { chunks: manifest.chunks },
    },
    pagefind: { version: pagefindVersion(), index_seconds: pagefindS, files: pf.files, bytes: pf.bytes },
  };
}

const { site, info } = args.site ? { site: args.site, info: given(args.site) } : build();
if (!existsSync(path.join(site, PAGE.slice(1)))) PAGE = DEMO_PAGE;
installWidget(site);
info.crossfind.shards = shardStats(site);
args.label ??= args.site ? path.basename(args.site) : `large-${args.pages}`;
log(`site: ${info.generator.pages} pages; crossfind bundle ${info.crossfind.bundle_without_model.files} files, ${(info.crossfind.bundle_without_model.bytes / 1e6).toFixed(1)} MB without the model; Pagefind ${info.pagefind.files} files, ${(info.pagefind.bytes / 1e6).toFixed(1)} MB`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const visits = [];
try {
  for (const host of args.hosts) {
    for (const engine of ['crossfind', 'pagefind']) {
      // A compressing host serves bodies it compressed before (a CDN keeps
      // them; www/serve.mjs compresses a file the first time it is asked
      // for, at brotli quality 11, 20 s for a new 3 MB wasm): one visit
      // first, not counted, so that the times are the host's and not the
      // compressor's. The bytes are the same either way.
      if (HOSTS[host].compress) await visit(browser, site, host, engine);
      for (let r = 0; r < args.rounds; r++) {
        const v = await visit(browser, site, host, engine);
        const first = v.steps[0];
        log(`${engine} ${host} round ${r + 1}: first keyword result after ${(first.bytes.engine / 1e3).toFixed(0)} kB (${first.bytes.requests} requests, ${first.ms} ms)`);
        visits.push({ round: r + 1, ...v });
      }
    }
  }
} finally {
  await browser.close();
}

// Per host and engine: medians over rounds of each milestone, bytes by class.
const summary = {};
for (const host of args.hosts) {
  summary[host] = {};
  for (const engine of ['crossfind', 'pagefind']) {
    const mine = visits.filter((v) => v.host === host && v.engine === engine);
    const of = (name, f) => median(mine.map((v) => f(v.steps.filter((s) => s.name === name))));
    const sum = (ss, k) => ss.reduce((a, s) => a + s.bytes[k], 0);
    const per = (ss, k) => (ss.length ? sum(ss, k) / ss.length : null);
    const maxOf = (ss, k) => (ss.length ? Math.max(...ss.map((s) => s.bytes[k])) : null);
    const s = {
      first_keyword_result: {
        library: of('first_keyword_result', (x) => sum(x, 'library')),
        index: of('first_keyword_result', (x) => sum(x, 'index')),
        ms: of('first_keyword_result', (x) => x[0].ms),
      },
      later_keyword_query: {
        queries: mine[0].steps.filter((x) => x.name === 'later_keyword_query').length,
        mean_index_and_library: of('later_keyword_query', (x) => (per(x, 'index') ?? 0) + (per(x, 'library') ?? 0)),
        max_index_and_library: of('later_keyword_query', (x) => Math.max(...x.map((y) => y.bytes.index + y.bytes.library))),
        mean_ms: of('later_keyword_query', (x) => x.reduce((a, y) => a + y.step_ms, 0) / x.length),
      },
    };
    if (engine === 'crossfind') {
      const allBefore = (v) => v.steps.slice(0, v.steps.findIndex((x) => x.name === 'first_semantic_result') + 1);
      s.first_semantic_result = {
        library: median(mine.map((v) => sum(allBefore(v), 'library'))),
        index: median(mine.map((v) => sum(allBefore(v), 'index') + sum(allBefore(v), 'vectors'))),
        model: median(mine.map((v) => sum(allBefore(v), 'model'))),
        ms: of('first_semantic_result', (x) => x[0].ms),
      };
      s.later_semantic_query = {
        queries: mine[0].steps.filter((x) => x.name === 'later_semantic_query').length,
        mean_index_and_library: of('later_semantic_query', (x) => per(x, 'index') + per(x, 'library')),
        mean_vector_rows: of('later_semantic_query', (x) => per(x, 'vectors')),
        mean_model_rows: of('later_semantic_query', (x) => per(x, 'model')),
        max_all: of('later_semantic_query', (x) => maxOf(x.map((y) => ({ bytes: { all: y.bytes.engine } })), 'all')),
        mean_ms: of('later_semantic_query', (x) => x.reduce((a, y) => a + y.step_ms, 0) / x.length),
      };
    }
    summary[host][engine] = s;
  }
}

const all = existsSync(args.out) ? JSON.parse(readFileSync(args.out, 'utf8')) : { bench: 'large_site', runs: {} };
let git = null;
try {
  git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
} catch {}
all.runs[args.label] = {
  git,
  time: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, node: process.version, load: os.loadavg() },
  page: PAGE,
  site_dir: path.relative(ROOT, site),
  queries: { keyword: KEYWORD, semantic: SEMANTIC },
  rounds: args.rounds,
  site: info,
  summary,
  visits,
};
mkdirSync(path.dirname(args.out), { recursive: true });
writeFileSync(args.out, JSON.stringify(all, null, 1) + '\n');

const kB = (n) => (n == null ? '–' : (n / 1e3).toFixed(1));
const rows = [];
for (const [label, run] of Object.entries(all.runs)) {
  const si = run.site;
  rows.push(`**${label}** (${run.git ?? '?'}, ${run.time.slice(0, 16)}): ${si.generator.pages} pages, ${si.crossfind.summary?.chunks ?? '?'} chunks. ` +
    `crossfind bundle without the model: ${si.crossfind.bundle_without_model.files} files (shards and their .gz forms), ` +
    (si.crossfind.shards ? Object.entries(si.crossfind.shards).map(([k, v]) => `${k} ${v.shards > 1 ? `${v.shards}× ` : ''}${(v.bytes / 1e6).toFixed(2)} MB (${(v.fetched_bytes / 1e6).toFixed(2)} MB gz)`).join(', ') : '') + ' ' +
    `(indexed in ${si.crossfind.index_seconds?.toFixed(0) ?? '?'} s${si.crossfind.summary?.embedded != null ? `, ${si.crossfind.summary.embedded} chunks embedded` : ''}); ` +
    `Pagefind ${si.pagefind.version}: ${si.pagefind.files} files, ${(si.pagefind.bytes / 1e6).toFixed(1)} MB (indexed in ${si.pagefind.index_seconds?.toFixed(0) ?? '?'} s).`, '');
  rows.push('| host | engine | first keyword result: library + index kB | later keyword query kB (mean / max) | first semantic result: library + index kB (+ model kB) | later semantic query: index kB + vector rows kB + model rows kB | first keyword / later keyword / first semantic / later semantic ms |');
  rows.push('|---|---|--:|--:|--:|--:|--:|');
  for (const [host, engines] of Object.entries(run.summary)) {
    for (const [engine, s] of Object.entries(engines)) {
      const fk = s.first_keyword_result;
      const lk = s.later_keyword_query;
      const fs = s.first_semantic_result;
      const ls = s.later_semantic_query;
      rows.push(`| ${host} | ${engine} | ${kB(fk.library)} + ${kB(fk.index)} = **${kB(fk.library + fk.index)}** | ${kB(lk.mean_index_and_library)} / ${kB(lk.max_index_and_library)} | ` +
        (fs ? `${kB(fs.library)} + ${kB(fs.index)} = **${kB(fs.library + fs.index)}** (+ ${kB(fs.model)})` : 'none (keyword only)') + ' | ' +
        (ls ? `${kB(ls.mean_index_and_library)} + ${kB(ls.mean_vector_rows ?? 0)} + ${kB(ls.mean_model_rows)}` : '–') + ` | ${fk.ms} / ${lk.mean_ms.toFixed(0)} / ${fs ? fs.ms : '–'} / ${ls?.mean_ms != null ? ls.mean_ms.toFixed(0) : '–'} |`);
    }
  }
  rows.push('');
}
const table = rows.join('\n');
writeFileSync(args.out.replace(/\.json$/, '.md'), `Bytes the server wrote (headers and bodies; h2: bodies) per milestone, cold visit of a Japanese article page (each run's \`page\` in the JSON) in headless Chromium (benches/large_site.mjs)\n\n${table}`);
console.log(table);
