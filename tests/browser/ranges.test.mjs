// Hosts that ignore HTTP Range (some CDNs and proxies answer a byte range
// with the whole file, 200). The search worker fetches the embedding rows a
// query needs by range: from such a host each row shard must come once,
// checked whole against pack.json (Engine.addShard), and give the same
// answers as from a host that honours Range. The service worker's offline
// copy keeps byte ranges of the row shards: from such a host it cuts them
// out of the whole files, and the site searches offline as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBrowser, serve, watchErrors, recordOffline, offlineReport, SITE } from './harness.mjs';

const T = { timeout: 600000 };
const env = demoBrowser();

// Each needs rows from several places of one shard (checked below on the
// host that honours Range), in three scripts.
const QUERIES = [
  'how do I change the password of my account after the reset email expired',
  'reembolso de un pago duplicado con tarjeta de crédito',
  'メキシコの電子請求書 CFDI',
];

const rowShard = /^\/crossfind\/model\/(emb-\d+\.bin)$/;

// A server on the demo site that counts the requests for each row shard.
async function countingServer(faults) {
  const asked = [];
  const server = await serve(SITE, {
    faults,
    headers: (p) => {
      const m = rowShard.exec(p);
      if (m) asked.push(m[1]);
      return null;
    },
  });
  return { server, asked };
}

const counts = (names) => names.reduce((m, n) => m.set(n, (m.get(n) || 0) + 1), new Map());

// Every query on a fresh page of `server`: the hits (page, scores) and the
// row shards asked for while it was answered.
async function searchAll(server, asked) {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}en/index.html`);
    await page.evaluate(() => window.crossfind.semanticReady());
    const out = [];
    for (const q of QUERIES) {
      asked.length = 0;
      const hits = await page.evaluate((query) => window.crossfind.search(query, { k: 10 }), q);
      out.push({ q, hits: hits.map((h) => [h.pageId, h.score, h.dense]), rows: asked.slice() });
    }
    // A second visit finds the rows of the first query in Cache Storage.
    const again = await context.newPage();
    await again.goto(`${server.url}en/index.html`);
    await again.evaluate(() => window.crossfind.semanticReady());
    asked.length = 0;
    const hits = await again.evaluate((query) => window.crossfind.search(query, { k: 10 }), QUERIES[0]);
    assert.deepEqual(hits.map((h) => [h.pageId, h.score, h.dense]), out[0].hits);
    const rowsAgain = asked.slice();
    assert.deepEqual(errors, []);
    return { out, rowsAgain };
  } finally {
    await context.close();
  }
}

test('from a host that ignores Range, each row shard comes once and the answers are the same', T, async () => {
  const honours = await countingServer({});
  const ignores = await countingServer({ ignoreRange: true });
  try {
    const a = await searchAll(honours.server, honours.asked);
    // the queries do need several ranges of one shard (else this test
    // could not tell one download per shard from one per range)
    assert.ok(
      a.out.some((r) => [...counts(r.rows).values()].some((n) => n > 1)),
      `no query needed two ranges of one shard: ${JSON.stringify(a.out.map((r) => r.rows))}`,
    );
    const b = await searchAll(ignores.server, ignores.asked);
    for (const [i, r] of b.out.entries()) {
      assert.ok(r.hits.length > 0 && r.hits.every(([, , dense]) => typeof dense === 'number'), `${r.q}: not answered semantically`);
      // the same pages, in the same order, with the same scores
      assert.deepEqual(r.hits, a.out[i].hits, r.q);
    }
    // each shard downloaded once in the whole session: once a whole shard
    // is in, no later query asks for it again
    const all = b.out.flatMap((r) => r.rows);
    assert.ok(all.length > 0);
    for (const [name, n] of counts(all)) assert.equal(n, 1, `${name} downloaded ${n} times: ${JSON.stringify(b.out.map((r) => r.rows))}`);
    // the ranges the first query needed were cut from the whole shards and
    // kept: a second visit downloads nothing for it
    assert.deepEqual(b.rowsAgain, []);
    assert.deepEqual(a.rowsAgain, []);
  } finally {
    await honours.server.close();
    await ignores.server.close();
  }
});

test('the offline copy is made from a host that ignores Range, and the site searches offline', T, async () => {
  const { server, asked } = await countingServer({ ignoreRange: true });
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  await recordOffline(context);
  try {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}en/index.html`);
    await page.evaluate(() => window.crossfind.search('password')); // the copy starts after a search
    const report = await offlineReport(page);
    assert.equal(report.state, 'ready', JSON.stringify(report));
    assert.ok(asked.length > 0, 'the row shards came from the host');
    // only the byte ranges offline.json lists are kept, cut from the whole shards
    const kept = await page.evaluate(async (v) => {
      const name = (await caches.keys()).find((k) => k.endsWith(`:v:${v}`));
      const cache = await caches.open(name);
      const urls = (await cache.keys()).map((r) => r.url);
      const list = await (await fetch('/crossfind/offline.json')).json();
      let parts = 0;
      for (const u of urls.filter((x) => x.includes('.crossfind-rows-'))) parts += (await (await cache.match(u)).arrayBuffer()).byteLength;
      return { whole: urls.filter((u) => /\/emb-\d+\.bin$/.test(u)).length, parts, listed: list.files.filter((f) => f.start !== undefined && /^model\/emb-\d+\.bin$/.test(f.name)).reduce((n, f) => n + f.end - f.start, 0) };
    }, report.version);
    assert.equal(kept.whole, 0, JSON.stringify(kept));
    assert.equal(kept.parts, kept.listed, JSON.stringify(kept));

    await server.close();
    await context.setOffline(true);
    assert.ok((await page.reload()).fromServiceWorker());
    await page.evaluate(() => window.crossfind.semanticReady());
    const hits = await page.evaluate(() => window.crossfind.search('reembolso de un pago duplicado', { k: 5 }));
    assert.ok(hits.length > 0 && typeof hits[0].dense === 'number', JSON.stringify(hits.map((h) => h.url)));
    assert.equal((await page.evaluate(() => window.crossfind.offline())).version, report.version);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close().catch(() => {});
  }
});
