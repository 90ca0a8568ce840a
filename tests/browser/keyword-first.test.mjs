// Keyword results do not wait for the vectors: the worker builds its engine
// from the docs and lexical shards (BundleLoader.buildKeywords) and fetches
// the vectors shard with the model, for semantic search only
// (www/src/worker.js, loadVectors). Here the host holds back every answer
// for the vectors shard: keyword results must show all the same, the
// widget must say that multilingual search is still loading, and once the
// vectors come it becomes ready and answers across languages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { demoBrowser, instrument, watchErrors, waitForResults, waitSemantic, typeQuery, W, ROOT, BUNDLE } from './harness.mjs';

const T = { timeout: 300000 };
const env = demoBrowser();
const VECTORS = /\/crossfind\/vectors\.[0-9a-f]+\.bin(\.gz)?$/;

test('keyword results show before any vector bytes are fetched; semantic search once they come', T, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  await instrument(context);
  const held = [];
  let release;
  const released = new Promise((r) => (release = r));
  await context.route(VECTORS, async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    held.push(new URL(route.request().url()).pathname);
    await released;
    await route.continue();
  });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const delivered = [];
  page.on('requestfinished', (r) => {
    if (VECTORS.test(new URL(r.url()).pathname)) delivered.push(r.url());
  });
  try {
    await page.goto(`${env.server.url}en/index.html`);
    await page.keyboard.press('Control+k'); // opening the box starts the model (and the vectors) download
    await typeQuery(page, 'cancel subscription');
    const shown = await waitForResults(page, (r) => r.length > 0, { query: 'cancel subscription', timeout: 60000 });
    assert.match(shown[0].url, /cancel-subscription/);
    assert.deepEqual(delivered, [], 'no vector bytes before the keyword results');
    const status = await page.evaluate(() => ({ lexical: window.crossfind.status.lexical, semantic: window.crossfind.status.semantic }));
    assert.equal(status.lexical, 'ready');
    assert.ok(['loading', 'building'].includes(status.semantic), `semantic is ${status.semantic} while the vectors are held`);
    // the worker asked for them (with the model), it was not answered yet
    for (let i = 0; i < 100 && !held.length; i++) await page.waitForTimeout(100);
    assert.equal(held.length, 1, 'the vectors shard is fetched once, with the model');
    // the model alone does not make semantic search ready
    await page.waitForTimeout(3000);
    assert.notEqual(await page.evaluate(() => window.crossfind.status.semantic), 'ready');
    assert.equal(await page.locator(W.progress).isVisible(), true, 'the progress bar stays while the vectors are missing');
    release();
    await waitSemantic(page);
    assert.equal(delivered.length, 1);
    // a query whose answer exists only in other languages is now found by meaning
    const q = 'descargar el registro de auditoría de quién hizo qué';
    await typeQuery(page, q);
    const semantic = await waitForResults(page, (r) => r.length > 0, { query: q, semantic: true, timeout: 60000 });
    assert.match(semantic[0].url, /audit-log-export/);
    assert.deepEqual(errors, []);
  } finally {
    release();
    await context.close();
  }
});

// The demo's keyword index is in term-range pieces (bundle format 4): a
// keyword query fetches the pieces of its terms by byte range, not the
// whole index, and finds what the native CLI finds.
test('a keyword query fetches only the lexical pieces of its terms, by byte range, and its hits come with their titles', T, async () => {
  const manifest = JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8'));
  const terms = manifest.shards.filter((s) => s.kind === 'lexical_terms');
  assert.ok(terms.length > 0, 'the demo bundle has its lexical index in pieces');
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const asked = [];
  await context.route(/\/crossfind\/lexical-terms\.[0-9a-f]+\.bin$/, async (route) => {
    const res = await route.fetch();
    asked.push({ range: route.request().headers().range || null, status: res.status(), bytes: (await res.body()).length });
    await route.fulfill({ response: res });
  });
  const page = await context.newPage();
  const errors = watchErrors(page);
  try {
    await page.goto(`${env.server.url}en/index.html`);
    await page.evaluate(() => window.crossfind.ready());
    assert.deepEqual(asked, [], 'no piece before a query');
    const q = 'cancel subscription';
    const hits = await page.evaluate((q) => window.crossfind.search(q, { lang: 'en', k: 5, mode: 'lexical' }), q);
    const native = execFileSync(path.join(ROOT, 'target/release/crossfind'), ['search', '--bundle', BUNDLE, '--json', '--lang', 'en', '--mode', 'lexical', '--k', '5', q], { encoding: 'utf8' })
      .split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(hits.map((h) => h.url), native.map((h) => h.url));
    // the docs table holds no URLs, titles or headings on this site: they
    // came with the fragment shards of the hits (display_in_fragments)
    assert.equal(manifest.display_in_fragments, true);
    assert.equal(manifest.docs_columns, true);
    const docs = readFileSync(path.join(BUNDLE, manifest.shards.find((x) => x.kind === 'docs').name), 'utf8');
    assert.ok(!docs.includes('.html') && !hits.some((h) => docs.includes(h.title)), 'no URL or title in the docs table');
    assert.deepEqual(hits.map((h) => [h.title, h.heading, h.sections.map((x) => [x.heading, x.url])]), native.map((h) => [h.title, h.heading, h.sections.map((x) => [x.heading, x.url])]));
    assert.ok(hits.every((h) => h.title && h.url.includes('.html')));
    assert.ok(asked.length > 0 && asked.every((a) => a.range && a.status === 206), JSON.stringify(asked));
    const fetched = asked.reduce((n, a) => n + a.bytes, 0);
    const total = terms.reduce((n, s) => n + s.bytes, 0);
    assert.ok(fetched <= total / 4, `${fetched} of ${total} bytes`);
    // the same query again fetches nothing more
    const before = asked.length;
    await page.evaluate((q) => window.crossfind.search(q, { lang: 'en', k: 5, mode: 'lexical' }), q);
    assert.equal(asked.length, before);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
