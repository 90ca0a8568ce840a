// Shared set-up of the browser tests: the demo site (built once per test run
// with scripts/demo.sh --no-serve), static servers (www/serve.mjs) on free
// ports, Chromium through playwright-core, and small helpers to drive the
// widget inside its shadow root.
//
// Environment:
//   CROSSFIND_SKIP_BUILD=1   use target/demo-site as it is
//   CHROMIUM=/path           the browser (default /usr/bin/chromium)

import { execFileSync } from 'node:child_process';
import { before, after } from 'node:test';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, cpSync, readdirSync, statSync, mkdtempSync, copyFileSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../www/serve.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SITE = path.join(ROOT, 'target/demo-site');
export const BUNDLE = path.join(SITE, 'crossfind');

// A bundle manifest's shards, the `snippets` files included: bundle format 8
// lists those as [hash, bytes] in `snippet_files` (src/bundle/mod.rs).
export const listedShards = (m) => [
  ...m.shards,
  ...(m.snippet_files || []).map(([hash, bytes]) => ({ name: `snippets.${hash}.bin`, kind: 'snippets', bytes })),
];
const STAMP = path.join(ROOT, 'target/browser-tests.built');
const LOCK = path.join(ROOT, 'target/browser-tests.lock');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One build per `node --test` run: test files are processes of the same
// runner, so its pid marks the run; a lock keeps parallel files from building twice.
export async function ensureDemo() {
  if (process.env.CROSSFIND_SKIP_BUILD === '1') {
    if (!existsSync(path.join(BUNDLE, 'crossfind.js'))) throw new Error('CROSSFIND_SKIP_BUILD=1 but target/demo-site has no widget');
    return;
  }
  const runId = `${process.ppid}`;
  mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock older than 30 minutes is from a run that died.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 30 * 60 * 1000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      await sleep(1000);
    }
  }
  try {
    const done = existsSync(STAMP) && readFileSync(STAMP, 'utf8') === runId && existsSync(path.join(BUNDLE, 'crossfind.js'));
    if (!done) {
      execFileSync(path.join(ROOT, 'scripts/demo.sh'), ['--no-serve'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      writeFileSync(STAMP, runId);
    }
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

// A tiny site of its own with hostile markup in titles and headings, indexed
// with the real CLI and carrying the widget built for the demo.
export function ensureHostileSite() {
  const dir = path.join(ROOT, 'target/browser-hostile-site');
  const fixture = path.join(ROOT, 'tests/fixtures/sites/tiny');
  const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title><img src=x onerror=alert(1)></title></head>
<body>
<header><crossfind-search></crossfind-search></header>
<main>
<h1>&lt;img src=x onerror=alert(1)&gt;</h1>
<p>Zebra crossing checklist: a page whose title is markup, for the widget to show as text.</p>
<h2 id="bold-heading">&lt;b onmouseover=alert(2)&gt;Zebra heading&lt;/b&gt;</h2>
<p>The zebra section heading is hostile markup too; it must stay text.</p>
</main>
<script type="module" src="/crossfind/crossfind.js"></script>
</body>
</html>
`;
  const hash = createHash('sha256');
  const walk = (d) => {
    for (const n of readdirSync(d).sort()) {
      const f = path.join(d, n);
      if (statSync(f).isDirectory()) walk(f);
      else hash.update(f).update(readFileSync(f));
    }
  };
  walk(fixture);
  hash.update(page);
  hash.update(readFileSync(path.join(BUNDLE, 'manifest.json'))); // rebuilt with the demo
  const fp = hash.digest('hex');
  const stamp = path.join(dir, '.inputs');
  if (!(existsSync(stamp) && readFileSync(stamp, 'utf8') === fp)) {
    rmSync(dir, { recursive: true, force: true });
    cpSync(fixture, dir, { recursive: true });
    writeFileSync(path.join(dir, 'en/hostile.html'), page);
    execFileSync(path.join(ROOT, 'target/release/crossfind'), ['index', '--input', dir, '--out', path.join(dir, 'crossfind')], { stdio: 'ignore' });
    writeFileSync(stamp, fp);
  }
  // The widget of this build, every time (it is small).
  cpSync(path.join(ROOT, 'www/dist'), path.join(dir, 'crossfind'), { recursive: true });
  return dir;
}

// A site root for a test that changes files: links to the demo site's files,
// except the `writable` ones (paths in the site, e.g.
// 'crossfind/manifest.json'), which are copies the test may rewrite, and
// `extra` files ({path: content}) added to it. Remove it with rmSync.
export function siteCopy(writable = [], extra = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'cf-site-'));
  const own = writable.concat(Object.keys(extra));
  const walk = (rel) => {
    mkdirSync(path.join(root, rel), { recursive: true });
    for (const n of readdirSync(path.join(SITE, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      if (own.some((w) => w.startsWith(`${r}/`))) walk(r);
      else if (writable.includes(r)) copyFileSync(path.join(SITE, r), path.join(root, r));
      else if (!(r in extra)) symlinkSync(path.join(SITE, r), path.join(root, r));
    }
  };
  walk('');
  for (const [r, body] of Object.entries(extra)) {
    mkdirSync(path.dirname(path.join(root, r)), { recursive: true });
    writeFileSync(path.join(root, r), body);
  }
  return root;
}

// Lists the bundle files a test changed in <bundle>/offline.json (which
// must be one of the test's own copies, not a link to the demo's), as
// publishing them with `crossfind index` would: entries renamed by `rename`
// ({old: new}), the size and sha256 of the files named in `changed` read
// again, and a new `copy` id (any value that differs names the new set).
export function relist(bundleDir, changed, rename = {}) {
  const file = path.join(bundleDir, 'offline.json');
  const list = JSON.parse(readFileSync(file, 'utf8'));
  for (const f of list.files) {
    if (rename[f.name]) f.name = rename[f.name];
    if (!changed.includes(f.name) || f.start !== undefined) continue;
    const bytes = readFileSync(path.join(bundleDir, f.name));
    Object.assign(f, { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  list.copy = createHash('sha256').update(JSON.stringify(list.files)).digest('hex').slice(0, 16);
  const text = JSON.stringify(list, null, 1);
  writeFileSync(file, text);
  return text;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// `args`: Chromium flags beyond CHROMIUM_ARGS.
export async function launch({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS.concat(args),
  });
}

// `headers(pathname)`: extra response headers (www/serve.mjs); `log(line)`:
// one line per request answered ("GET /path 200 3ms"); `faults`: a host that
// misbehaves (ignoreRange, corrupt, failMidway: www/serve.mjs), changeable
// later through the returned server's `faults`; `compress`: a host that
// compresses ({encoding: 'br', quality}: www/serve.mjs).
export async function serve(root = SITE, { csp = false, headers = null, log = null, faults = {}, compress = null } = {}) {
  return startServer({ root, port: 0, host: '127.0.0.1', csp, headers, log, faults, compress });
}

// Errors a page raises: uncaught exceptions and console errors. Chromium's own
// "Failed to load resource" line for a missing favicon is the site's business.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const loc = m.location()?.url || '';
    if (/favicon\.ico$/.test(loc)) return;
    errors.push(`console: ${m.text()} ${loc}`);
  });
  page.on('crash', () => errors.push('crash'));
  return errors;
}

// --------------------------------------------------------------- the widget

export const W = {
  input: 'crossfind-search input[role="combobox"]',
  options: 'crossfind-search [role="option"]',
  listbox: 'crossfind-search [role="listbox"]',
  live: 'crossfind-search [role="status"]',
  notice: 'crossfind-search .cf-notice',
  dialog: 'crossfind-search dialog',
  trigger: 'crossfind-search button.cf-trigger',
  progress: 'crossfind-search .cf-progress',
};

export function deepActive(page) {
  return page.evaluate(() => {
    let a = document.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    if (!a) return null;
    return { tag: a.tagName.toLowerCase(), id: a.id, role: a.getAttribute('role'), text: (a.textContent || '').trim().slice(0, 80), href: a.getAttribute('href') };
  });
}

// The options shown: [{id, url, title, lang, selected, text, sub}]; `sub`
// marks another section of the page above (a sub-result).
export function shownResults(page) {
  return page.evaluate(() => {
    const host = document.querySelector('crossfind-search');
    return [...host.shadowRoot.querySelectorAll('[role="option"]')].map((li) => ({
      id: li.id,
      sub: li.classList.contains('cf-sub-option'),
      url: li.dataset.url,
      title: li.querySelector('.cf-title')?.textContent,
      lang: li.querySelector('.cf-title')?.getAttribute('lang'),
      selected: li.getAttribute('aria-selected') === 'true',
      text: li.textContent,
    }));
  });
}

// Records the widget's `results` events (query, semantic) for waitForResults.
export async function instrument(context) {
  await context.addInitScript(() => {
    window.__cfResults = [];
    document.addEventListener('results', (e) => {
      if (e.detail && e.detail.source !== 'api') window.__cfResults.push({ query: e.detail.query, semantic: e.detail.semantic, n: e.detail.results.length });
    });
  });
}

// Waits until the widget has answered `query` (semantically, with `semantic`)
// and what it shows matches `predicate`.
export async function waitForResults(page, predicate = (r) => r.length > 0, { query = null, semantic = false, timeout = 60000 } = {}) {
  const start = Date.now();
  let last = [];
  while (Date.now() - start < timeout) {
    const answered =
      query === null ||
      (await page.evaluate(
        ([q, sem]) => {
          const l = (window.__cfResults || []).at(-1);
          return !!l && l.query === q && (!sem || l.semantic);
        },
        [query, semantic],
      ));
    if (answered) {
      last = await shownResults(page);
      if (predicate(last)) return last;
    }
    await sleep(100);
  }
  throw new Error(`results for ${JSON.stringify(query)} never matched; last shown: ${JSON.stringify(last.map((r) => r.url))}`);
}

export async function typeQuery(page, text) {
  const input = page.locator(W.input);
  await input.fill('');
  await input.pressSequentially(text, { delay: 10 });
}

// Records the service worker's reports on its offline copy at the end of
// each sync ({state: 'ready', version} or {state: 'failed', message}; not
// its progress reports) in window.__cfOffline of every page of `context`.
export async function recordOffline(context) {
  await context.addInitScript(() => {
    window.__cfOffline = [];
    navigator.serviceWorker?.addEventListener('message', (e) => {
      const m = e.data || {};
      if (m.type === 'crossfind-offline' && m.state !== 'syncing') window.__cfOffline.push(m);
    });
  });
}

// The service worker's first report to a page (recordOffline): on a first
// visit, whether it made its offline copy.
export async function offlineReport(page, timeout = 300000) {
  await page.waitForFunction(() => window.__cfOffline.length > 0, null, { timeout, polling: 200 });
  return page.evaluate(() => window.__cfOffline[0]);
}

// Waits until the service worker controlling `page` runs no sync; its
// status then: {state, version (the current one), error (why the last sync
// failed, or null)}. A page's messages reach the worker in order, so a
// status asked after a sync was asked for answers after that sync began.
export async function offlineIdle(page, timeout = 300000) {
  const start = Date.now();
  for (;;) {
    const s = await page.evaluate(() => window.crossfind.offline());
    if (s.state !== 'syncing' && s.state !== 'unknown') return s;
    if (Date.now() - start > timeout) throw new Error(`the offline copy is still syncing: ${JSON.stringify(s)}`);
    await sleep(200);
  }
}

// Asks the service worker to look for a new version now, and waits for that
// sync to end (offlineIdle).
export async function syncNow(page, timeout) {
  await offlineIdle(page, timeout);
  await page.evaluate(() => navigator.serviceWorker.controller.postMessage({ type: 'sync' }));
  return offlineIdle(page, timeout);
}

export function waitSemantic(page, timeout = 180000) {
  return page.waitForFunction(() => window.crossfind && window.crossfind.status.semantic === 'ready', null, { timeout, polling: 200 });
}

// Registers the usual hooks of a browser test file: build the demo, serve it,
// launch Chromium before the tests; close both after. The returned object
// holds `browser` and `server` once the `before` hook has run.
// One Chromium for a test file, on the built demo: `env.browser` once the
// file's tests run; closed after them.
export function launchedBrowser() {
  const env = { browser: null };
  before(async () => {
    await ensureDemo();
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
  });
  return env;
}

export function demoBrowser() {
  const env = { browser: null, server: null };
  before(async () => {
    await ensureDemo();
    env.server = await serve();
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}
