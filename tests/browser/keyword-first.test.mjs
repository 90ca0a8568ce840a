// Keyword results do not wait for the vectors: the worker builds its engine
// from the docs and lexical shards (BundleLoader.buildKeywords) and fetches
// the vectors shard with the model, for semantic search only
// (www/src/worker.js, loadVectors). Here the host holds back every answer
// for the vectors shard: keyword results must show all the same, the
// widget must say that multilingual search is still loading, and once the
// vectors come it becomes ready and answers across languages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBrowser, instrument, watchErrors, waitForResults, waitSemantic, typeQuery, W } from './harness.mjs';

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
