// Offline after one visit: a page with <crossfind-search offline> registers
// sw.js, which keeps the bundle, the model and the widget by version. With
// the server gone and the browser offline, a reload still answers queries
// semantically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, copyFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchedBrowser, instrument, serve, watchErrors, waitForResults, typeQuery, relist, SITE, BUNDLE, W } from './harness.mjs';

const T = { timeout: 400000 };
const env = launchedBrowser();

async function offlineState(page) {
  return page.evaluate(() => window.crossfind.offline());
}

test('after one visit the site and its semantic search work offline', T, async () => {
  // A server of its own: it is stopped half-way.
  const server = await serve();
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  await instrument(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  try {
    const fetched = [];
    page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
    await page.goto(`${server.url}en/index.html`);
    assert.equal(await page.locator('crossfind-search').getAttribute('offline'), '', 'the demo opts in');
    // The first page view, no search yet: the page, the widget and the
    // keyword index only. No service worker, no model, no offline copy.
    await page.evaluate(() => window.crossfind.ready());
    await page.waitForTimeout(1500);
    assert.equal((await offlineState(page)).state, 'waiting');
    assert.deepEqual(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0);
    const extra = fetched.filter((u) => /\/crossfind\/(model\/|sw\.js)/.test(u));
    assert.deepEqual(extra, [], 'nothing of the model or the offline copy before a search');
    // The reader searches: sw.js takes control and keeps one complete version,
    // reporting its size and progress.
    await page.evaluate(() => {
      window.__progress = [];
      document.addEventListener('offline-progress', (e) => window.__progress.push(e.detail));
    });
    await page.keyboard.press('Control+k');
    await typeQuery(page, 'password');
    const start = Date.now();
    let state;
    for (;;) {
      state = await offlineState(page);
      if (state.state === 'ready' || state.state === 'failed' || Date.now() - start > 300000) break;
      await page.waitForTimeout(1000);
    }
    assert.equal(state.state, 'ready', JSON.stringify(state));
    assert.match(state.version, /^[0-9a-f]{16}$/);
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    const done = progress[progress.length - 1];
    assert.ok(done.total > 10e6 && done.loaded === done.total, JSON.stringify(done));
    await page.keyboard.press('Escape');
    const caches = await page.evaluate(() => caches.keys());
    assert.equal(caches.filter((k) => k.includes(':v:')).length, 1, JSON.stringify(caches));
    assert.ok(caches.some((k) => k.endsWith(`:v:${state.version}`)));
    // Of the two wasm builds, only the one this browser runs (Chromium: relaxed SIMD) is kept.
    const wasmKept = await page.evaluate(async (v) => {
      const name = (await caches.keys()).find((k) => k.endsWith(`:v:${v}`));
      return (await (await caches.open(name)).keys()).map((r) => r.url).filter((u) => /\.wasm(\.gz)?$/.test(u));
    }, state.version);
    assert.equal(wasmKept.length, 1, JSON.stringify(wasmKept));
    // its gzip form, which the search worker fetches from the copy
    assert.match(wasmKept[0], /\/crossfind_relaxed_bg\.[0-9a-f]{12}\.wasm\.gz$/);

    // No server, no network.
    await server.close();
    await context.setOffline(true);
    const reloaded = await page.reload();
    assert.ok(reloaded.fromServiceWorker(), 'the page came from the service worker');
    assert.equal(await page.evaluate(() => navigator.onLine), false);
    assert.match(await page.title(), /Kitebook/);
    await page.keyboard.press('Control+k');
    await page.evaluate(() => window.crossfind.semanticReady());
    const q = 'メキシコの電子請求書 CFDI';
    await typeQuery(page, q);
    const shown = await waitForResults(page, (r) => r.some((x) => x.url.includes('/es/factura-electronica-cfdi')), { query: q, semantic: true });
    assert.ok(shown.length > 0);
    const hits = await page.evaluate((query) => window.crossfind.search(query, { k: 5 }), q);
    assert.ok(hits.some((h) => h.pageId === '/es/factura-electronica-cfdi' && typeof h.dense === 'number'), JSON.stringify(hits.map((h) => h.url)));
    assert.deepEqual((await offlineState(page)).version, state.version);
    assert.equal(await page.evaluate(() => window.crossfind.status.wasm), 'relaxed', 'the kept build ran');
    assert.deepEqual(errors, []);

    // Of the word-embedding rows, only those of the scripts the site's 12
    // languages use are kept: the byte ranges offline.json lists, not the
    // whole row shards.
    const kept = await page.evaluate(async (v) => {
      const name = (await caches.keys()).find((k) => k.endsWith(`:v:${v}`));
      const cache = await caches.open(name);
      const urls = (await cache.keys()).map((r) => r.url);
      const list = await (await fetch('/crossfind/offline.json')).json();
      const pack = await (await fetch('/crossfind/model/pack.json')).json();
      let parts = 0;
      for (const u of urls.filter((x) => x.includes('.crossfind-rows-'))) parts += (await (await cache.match(u)).arrayBuffer()).byteLength;
      return {
        whole: urls.filter((u) => /\/emb-\d+\.bin$/.test(u)).length,
        parts,
        listed: list.files.filter((f) => f.start !== undefined && /^model\/emb-\d+\.bin$/.test(f.name)).reduce((n, f) => n + f.end - f.start, 0),
        groups: list.row_groups,
        table: pack.files.filter((f) => f.role === 'embeddings').reduce((n, f) => n + f.bytes, 0),
      };
    }, state.version);
    assert.equal(kept.whole, 0, JSON.stringify(kept));
    assert.equal(kept.parts, kept.listed, JSON.stringify(kept));
    assert.ok(kept.parts < 0.85 * kept.table, JSON.stringify(kept));
    assert.ok(!kept.groups.includes('greek') && kept.groups.includes('kana'), JSON.stringify(kept.groups));
    // A query in a script none of the site's languages uses (Greek) needs
    // rows that were left out: offline it answers by keywords, and says so.
    const greek = 'Πώς αλλάζω τον κωδικό πρόσβασης μου;';
    await typeQuery(page, greek);
    await waitForResults(page, () => true, { query: greek });
    const last = await page.evaluate(() => window.__cfResults.at(-1));
    assert.equal(last.semantic, false, JSON.stringify(last));
    await page.locator(W.notice).waitFor({ state: 'visible' });
    assert.match(await page.locator(W.notice).textContent(), /^Offline, multilingual search covers this site's languages/);
    // and the next query in a site language is semantic again
    const again = 'reembolso de un pago duplicado';
    await typeQuery(page, again);
    await waitForResults(page, (r) => r.length > 0, { query: again, semantic: true });
  } finally {
    await context.close();
    await server.close().catch(() => {});
  }
});

// A site root whose files are links to the demo's, except the bundle manifest
// and the precache list: rewriting them makes a new bundle version.
function siteWithOwnManifest() {
  const root = mkdtempSync(path.join(tmpdir(), 'cf-site-'));
  const own = ['manifest.json', 'offline.json'];
  for (const n of readdirSync(SITE)) if (n !== 'crossfind') symlinkSync(path.join(SITE, n), path.join(root, n));
  mkdirSync(path.join(root, 'crossfind'));
  for (const n of readdirSync(BUNDLE)) if (!own.includes(n)) symlinkSync(path.join(BUNDLE, n), path.join(root, 'crossfind', n));
  for (const n of own) copyFileSync(path.join(BUNDLE, n), path.join(root, 'crossfind', n));
  return root;
}

async function waitOffline(page, want) {
  const start = Date.now();
  for (;;) {
    const s = await offlineState(page);
    if ((s.state === 'ready' && (!want || want(s))) || s.state === 'failed' || Date.now() - start > 300000) return s;
    await page.waitForTimeout(500);
  }
}

const versionCaches = (page) => page.evaluate(async () => (await caches.keys()).filter((k) => k.includes(':v:')).map((k) => k.split(':v:')[1]).sort());
const manifestSeen = (page) => page.evaluate(async () => (await fetch('/crossfind/manifest.json')).text());

test('a new bundle version replaces the old one whole, and open pages keep theirs', T, async () => {
  const root = siteWithOwnManifest();
  const server = await serve(root);
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  const manifest = path.join(root, 'crossfind', 'manifest.json');
  const oldText = readFileSync(manifest, 'utf8');
  try {
    const p1 = await context.newPage();
    const errors = watchErrors(p1);
    await p1.goto(`${server.url}en/index.html`);
    await p1.evaluate(() => window.crossfind.search('password')); // the copy starts after a search
    const a = await waitOffline(p1);
    assert.equal(a.state, 'ready', JSON.stringify(a));
    assert.deepEqual(await versionCaches(p1), [a.version]);
    // Loaded again, the page is one the service worker serves from version A.
    assert.ok((await p1.reload()).fromServiceWorker());
    assert.equal((await waitOffline(p1)).version, a.version);

    // The site is republished: same shards, a manifest that differs.
    const newText = oldText.trimEnd() + '\n\n';
    writeFileSync(manifest, newText);
    relist(path.dirname(manifest), ['manifest.json']);
    const p2 = await context.newPage();
    await p2.goto(`${server.url}es/index.html`);
    const b = await waitOffline(p2, (s) => s.version !== a.version);
    assert.equal(b.state, 'ready', JSON.stringify(b));
    assert.notEqual(b.version, a.version);
    // Both kept while pages that started on the old one are open; those pages
    // still see the old manifest, not a mix.
    assert.deepEqual(await versionCaches(p1), [a.version, b.version].sort());
    assert.equal(await manifestSeen(p1), oldText);
    await p1.close();
    await p2.close();

    // A page opened now gets the new version, and the old one is gone.
    const p3 = await context.newPage();
    const errors3 = watchErrors(p3);
    await p3.goto(`${server.url}fr/index.html`);
    const c = await waitOffline(p3);
    assert.equal(c.version, b.version);
    assert.equal(await manifestSeen(p3), newText);
    const start = Date.now();
    let left;
    do {
      left = await versionCaches(p3);
      if (left.length === 1) break;
      await p3.waitForTimeout(300);
    } while (Date.now() - start < 10000);
    assert.deepEqual(left, [b.version]);
    const hits = await p3.evaluate(() => window.crossfind.search('facture', { k: 3 }));
    assert.ok(hits.length > 0);
    assert.deepEqual(errors, []);
    assert.deepEqual(errors3, []);
  } finally {
    await context.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

// A site of links to the demo's files plus a folder of test pages, each
// served with the headers given for it.
function siteWithPages(pages) {
  const root = mkdtempSync(path.join(tmpdir(), 'cf-pages-'));
  for (const n of readdirSync(SITE)) symlinkSync(path.join(SITE, n), path.join(root, n));
  mkdirSync(path.join(root, 't'));
  for (const [name, body] of Object.entries(pages)) writeFileSync(path.join(root, 't', name), body);
  return root;
}

const plain = (title, extra = '') => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${extra}</body></html>`;

test('the page cache keeps only public pages of the site, at most offline-pages of them', T, async () => {
  const root = siteWithPages({
    'start.html': plain(
      'Start',
      '<link rel="stylesheet" href="/t/style.css"><crossfind-search offline offline-pages="3"></crossfind-search><script type="module" src="/crossfind/crossfind.js"></script>',
    ),
    'style.css': 'h1 { color: #123456; }',
    'nostore.html': plain('No store'),
    'private.html': plain('Private'),
    'vary.html': plain('Per reader', '<script>fetch("/t/data.json")</script>'),
    'data.json': '{"account": "someone"}',
    'p1.html': plain('P1'),
    'p2.html': plain('P2'),
    'p3.html': plain('P3'),
    'p4.html': plain('P4'),
  });
  const server = await serve(root, {
    headers: (p) =>
      ({
        '/t/nostore.html': { 'Cache-Control': 'no-store' },
        '/t/private.html': { 'Cache-Control': 'private, no-cache' },
        '/t/vary.html': { Vary: 'Cookie' },
      })[p] || null,
  });
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  const page = await context.newPage();
  const t = (name) => `${server.url}t/${name}`;
  const kept = () =>
    page.evaluate(async () => {
      const name = (await caches.keys()).find((k) => k.endsWith(':pages'));
      return name ? (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname) : [];
    });
  const until = async (want) => {
    const start = Date.now();
    let got;
    while (!want((got = await kept())) && Date.now() - start < 30000) await page.waitForTimeout(200);
    return got;
  };
  try {
    await page.goto(t('start.html'));
    await page.evaluate(() => window.crossfind.search('password').catch(() => {})); // the copy starts after a search
    await page.waitForFunction(() => navigator.serviceWorker.controller, null, { timeout: 60000 });
    // The first visit's page and its stylesheet, reported by the widget.
    assert.deepEqual((await until((k) => k.length >= 2)).sort(), ['/t/start.html', '/t/style.css']);

    for (const name of ['nostore.html', 'private.html', 'vary.html']) {
      const res = await page.goto(t(name));
      assert.equal(res.status(), 200);
    }
    await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/t/data.json')));
    for (const name of ['p1.html', 'p2.html', 'p3.html', 'p4.html']) {
      await page.goto(t(name));
      await until((k) => k.includes(`/t/${name}`));
    }
    // Bounded: the three newest, the oldest went first; nothing private,
    // unstorable, per reader, or that is not a page.
    assert.deepEqual(await until((k) => k.length <= 3), ['/t/p2.html', '/t/p3.html', '/t/p4.html']);

    // Offline: kept pages come from the copy, the others do not.
    await server.close();
    await context.setOffline(true);
    const again = await page.goto(t('p3.html'));
    assert.ok(again.fromServiceWorker());
    assert.equal(await page.title(), 'P3');
    for (const name of ['nostore.html', 'private.html', 'vary.html', 'p1.html']) {
      const q = await context.newPage();
      const got = await q.goto(t(name)).then(
        (res) => `served: ${res.status()} ${res.fromServiceWorker()}`,
        (e) => e.message,
      );
      assert.match(got, /net::ERR_|chrome-error/, name);
      await q.close();
    }
  } finally {
    await context.close();
    await server.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  }
});

test('under Save-Data the offline copy waits for the reader, and removeOffline() takes it back', T, async () => {
  const server = await serve();
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  // what Chromium reports when the reader turned on its data saver
  await context.addInitScript(() => Object.defineProperty(navigator, 'connection', { value: { saveData: true, effectiveType: '4g', type: 'wifi' } }));
  const page = await context.newPage();
  const errors = watchErrors(page);
  const fetched = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  try {
    await page.goto(`${server.url}en/index.html`);
    await page.evaluate(() => {
      window.__paused = [];
      document.addEventListener('offline-paused', (e) => window.__paused.push(e.detail.reason));
    });
    const hits = await page.evaluate(() => window.crossfind.search('password', { mode: 'lexical' }));
    assert.ok(hits.length > 0);
    await page.waitForTimeout(1500);
    assert.deepEqual(await offlineState(page), { state: 'paused', version: null, hold: 'save-data' });
    assert.deepEqual(await page.evaluate(() => window.__paused), ['save-data']);
    assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0);
    assert.deepEqual(fetched.filter((u) => /\/crossfind\/sw\.js/.test(u)), []);
    // The reader asks for it (the site's "keep for offline" button): it comes.
    await page.evaluate(() => window.crossfind.enableOffline());
    const ready = await waitOffline(page);
    assert.equal(ready.state, 'ready', JSON.stringify(ready));
    const kept = await page.evaluate(() => caches.keys());
    assert.ok(kept.some((k) => k.includes(':v:')));
    // the keyword query's index pieces, kept per query whether or not there is an offline copy
    assert.ok(kept.some((k) => k.startsWith('crossfind-parts:')), JSON.stringify(kept));
    // And takes it back: every cache of the bundle (the per-query ones too) and the worker go.
    await page.evaluate(() => window.crossfind.removeOffline());
    assert.deepEqual((await page.evaluate(() => caches.keys())).filter((k) => k.startsWith('crossfind')), []);
    assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0);
    assert.equal(await page.evaluate(() => window.crossfind.status.offline), 'removed');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
  }
});
