// Updates of the offline copy that fail: a new version whose file arrives
// damaged or is cut off mid-download, a new widget file that arrives
// damaged, and a new sw.js that is broken or cut off. Each time the version
// the reader already has keeps working, offline too; a bundle update that
// failed lands once the host serves it whole, without downloading again
// what had arrived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { demoBrowser, serve, siteCopy, watchErrors, recordOffline, offlineReport, offlineIdle, syncNow, relist, BUNDLE } from './harness.mjs';

const T = { timeout: 600000 };
const env = demoBrowser();

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const QUERY = 'reembolso de un pago duplicado';

// A site whose manifest, precache list, widget list, widget script and sw.js
// the test rewrites; a server that records the paths asked for, with faults.
async function site() {
  const root = siteCopy(['crossfind/manifest.json', 'crossfind/offline.json', 'crossfind/widget.json', 'crossfind/crossfind.js', 'crossfind/sw.js']);
  const asked = [];
  const server = await serve(root, { headers: (p) => (asked.push(p), null) });
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  await recordOffline(context);
  const file = (name) => path.join(root, 'crossfind', name);
  const close = async () => {
    await context.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  };
  return { root, server, asked, context, file, close };
}

// The first visit: the reader searches, and the service worker keeps one
// complete version.
async function firstVisit(s) {
  const page = await s.context.newPage();
  await page.goto(`${s.server.url}en/index.html`);
  await page.evaluate(() => window.crossfind.search('password'));
  const report = await offlineReport(page);
  assert.equal(report.state, 'ready', JSON.stringify(report));
  return { page, version: report.version };
}

// What a reader sees now, offline, on a page opened afresh: the bundle
// manifest it runs on, the widget script, and a semantic answer.
async function offlineVisit(s, version) {
  await s.context.setOffline(true);
  const page = await s.context.newPage();
  const errors = watchErrors(page);
  try {
    const res = await page.goto(`${s.server.url}en/index.html`);
    assert.ok(res.fromServiceWorker(), 'the page came from the offline copy');
    await page.evaluate(() => window.crossfind.semanticReady());
    const hits = await page.evaluate((q) => window.crossfind.search(q, { k: 5 }), QUERY);
    assert.ok(hits.length > 0 && typeof hits[0].dense === 'number', `offline: ${JSON.stringify(hits.map((h) => h.url))}`);
    const seen = await page.evaluate(async () => ({
      manifest: await (await fetch('/crossfind/manifest.json')).text(),
      widget: await (await fetch('/crossfind/crossfind.js')).text(),
      offline: await window.crossfind.offline(),
    }));
    assert.equal(seen.offline.version, version);
    // only the browser's own complaint about being offline (the sync this
    // page asked for could not reach the host)
    assert.deepEqual(errors, []);
    return seen;
  } finally {
    await s.context.setOffline(false);
    // the sync this page asked for (offline, it failed) is over before the
    // next step changes what the host serves
    if (await page.evaluate(() => !!window.crossfind)) await offlineIdle(page);
    await page.close();
  }
}

// The paths a version's cache holds, from a page.
const cached = (page, version) =>
  page.evaluate(async (v) => {
    const name = (await caches.keys()).find((k) => k.endsWith(`:v:${v}`));
    return name ? (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname).sort() : [];
  }, version);

test('a bundle update that arrives damaged or cut off leaves the old version working, and lands once the host is fixed', T, async () => {
  const s = await site();
  try {
    const { page, version: a } = await firstVisit(s);
    const manifestA = readFileSync(s.file('manifest.json'), 'utf8');

    // Version B: one shard re-published (the docs table: a new file, the
    // same table), named and hashed in a new manifest and precache list.
    const m = JSON.parse(manifestA);
    const shard = m.shards.find((x) => x.kind === 'docs');
    const body = Buffer.concat([readFileSync(path.join(BUNDLE, shard.name)), Buffer.from('\n')]);
    const digest = sha256(body);
    // (offline.json lists a shard by its gzip form where it has one, named
    // after the shard from bundle format 6 on; the new shard is published
    // without one, as a plain file)
    const oldListed = shard.encoded ? shard.encoded.name ?? `${shard.name}.gz` : shard.name;
    const name = shard.name.replace(/\.[0-9a-f]{12}\.json$/, `.${digest.slice(0, 12)}.json`);
    writeFileSync(s.file(name), body);
    Object.assign(shard, { name, bytes: body.length, sha256: digest });
    delete shard.encoded;
    const manifestB = JSON.stringify(m, null, 1);
    writeFileSync(s.file('manifest.json'), manifestB);
    const listB = JSON.parse(relist(path.dirname(s.file('manifest.json')), ['manifest.json', name], { [oldListed]: name }));
    const newFile = `/crossfind/${name}`;

    // what a sync downloads from the bundle (sw.js is the browser's own
    // check for a new service worker, at any navigation)
    const bundleAsked = () => [...new Set(s.asked.filter((p) => p.startsWith('/crossfind/') && p !== '/crossfind/sw.js'))].sort();

    // 1. The new file arrives damaged. Only what changed is downloaded (the
    // new shard and manifest, and the two lists): every other file of B is
    // A's, same name and sha256, copied from A's cache.
    s.server.faults.corrupt = [newFile];
    s.asked.length = 0;
    let r = await syncNow(page);
    assert.equal(r.version, a, JSON.stringify(r));
    assert.match(r.error, new RegExp(`${name.replace(/\./g, '\\.')} does not match its sha256`));
    assert.deepEqual(bundleAsked(), ['/crossfind/manifest.json', '/crossfind/offline.json', '/crossfind/widget.json', newFile].sort());
    let seen = await offlineVisit(s, a);
    assert.equal(seen.manifest, manifestA, 'the reader still runs on version A');

    // 2. The new file is cut off mid-download.
    s.server.faults.corrupt = [];
    s.server.faults.failMidway = [newFile];
    r = await syncNow(page);
    assert.equal(r.version, a, JSON.stringify(r));
    assert.ok(r.error, 'the cut-off download failed the update');
    seen = await offlineVisit(s, a);
    assert.equal(seen.manifest, manifestA);

    // 3. The host serves it whole: B lands, and only what had not arrived
    // is downloaded (besides the two lists every sync reads).
    s.server.faults.failMidway = [];
    const widgetText = readFileSync(s.file('widget.json'), 'utf8');
    const b = sha256(`${listB.copy}\n${widgetText}`).slice(0, 16);
    // the tries that failed kept every other file of B (copied from A): its
    // cache holds all of A's but the shard replaced (and the two lists, put last)
    const holdsA = await cached(page, a);
    const oldFile = `/crossfind/${oldListed}`;
    const lastOnes = ['/crossfind/offline.json', '/crossfind/widget.json', oldFile];
    assert.deepEqual(await cached(page, b), holdsA.filter((p) => !lastOnes.includes(p)));
    s.asked.length = 0;
    r = await syncNow(page);
    assert.deepEqual({ version: r.version, error: r.error }, { version: b, error: null });
    // (the new file may take two requests: Chromium resumes the copy it
    // kept of the cut-off download with a range request)
    assert.deepEqual(bundleAsked(), ['/crossfind/offline.json', '/crossfind/widget.json', newFile].sort());
    seen = await offlineVisit(s, b);
    assert.equal(seen.manifest, manifestB, 'a new page runs on version B');
  } finally {
    await s.close();
  }
});

test('a widget or sw.js update that fails keeps the old widget and service worker working', T, async () => {
  const s = await site();
  try {
    const { page, version: a } = await firstVisit(s);
    const widgetJsA = readFileSync(s.file('crossfind.js'), 'utf8');
    const swA = readFileSync(s.file('sw.js'), 'utf8');

    // A new widget script, listed in widget.json, arrives damaged.
    const widgetJsB = `${widgetJsA}\n// update B\n`;
    writeFileSync(s.file('crossfind.js'), widgetJsB);
    const list = JSON.parse(readFileSync(s.file('widget.json'), 'utf8'));
    Object.assign(
      list.files.find((f) => f.name === 'crossfind.js'),
      { bytes: Buffer.byteLength(widgetJsB), sha256: sha256(widgetJsB) },
    );
    writeFileSync(s.file('widget.json'), JSON.stringify(list, null, 1));
    s.server.faults.corrupt = ['/crossfind/crossfind.js'];
    const r = await syncNow(page);
    assert.equal(r.version, a, JSON.stringify(r));
    assert.match(r.error, /crossfind\.js does not match its sha256/);
    let seen = await offlineVisit(s, a);
    assert.equal(seen.widget, widgetJsA, 'pages still run the old widget');

    // A new sw.js: the browser checks for one (registration.update()).
    const update = () =>
      page.evaluate(async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        window.__cfActive = window.__cfActive || reg.active;
        const outcome = await reg.update().then(
          () => 'updated',
          (e) => `failed: ${e.message}`,
        );
        // a new worker that installs takes over at once (skipWaiting): wait
        // until none is installing or waiting
        for (let i = 0; i < 600 && (reg.installing || reg.waiting); i++) await new Promise((r) => setTimeout(r, 50));
        return { outcome, same: reg.active === window.__cfActive, waiting: !!reg.waiting, installing: !!reg.installing };
      });
    // one that throws when it starts
    writeFileSync(s.file('sw.js'), `${swA}\nthrow new Error('a broken update');\n`);
    let u = await update();
    assert.match(u.outcome, /^failed/, JSON.stringify(u));
    assert.deepEqual({ same: u.same, waiting: u.waiting, installing: u.installing }, { same: true, waiting: false, installing: false });
    // a good one, cut off mid-download
    writeFileSync(s.file('sw.js'), `${swA}\n// update B\n`);
    s.server.faults.failMidway = ['/crossfind/sw.js'];
    u = await update();
    assert.match(u.outcome, /^failed/, JSON.stringify(u));
    assert.equal(u.same, true);
    seen = await offlineVisit(s, a);
    assert.equal(seen.widget, widgetJsA);

    // The good one arrives whole: it takes over and keeps the version the
    // reader has (the widget update still arrives damaged).
    s.server.faults.failMidway = [];
    u = await update();
    assert.equal(u.outcome, 'updated', JSON.stringify(u));
    assert.deepEqual({ same: u.same, waiting: u.waiting, installing: u.installing }, { same: false, waiting: false, installing: false }, 'the new sw.js is running');
    seen = await offlineVisit(s, a);
    assert.equal(seen.widget, widgetJsA);

    // Once the widget script arrives whole, the new version lands.
    s.server.faults.corrupt = [];
    const done = await syncNow(page);
    assert.equal(done.error, null, JSON.stringify(done));
    assert.notEqual(done.version, a);
    seen = await offlineVisit(s, done.version);
    assert.equal(seen.widget, widgetJsB);
  } finally {
    await s.close();
  }
});
