// The widget ships two wasm builds (scripts/build-wasm.sh); the search worker
// loads one. Chromium has relaxed SIMD, so it must fetch the relaxed build,
// and only that, and answer exactly as the baseline build does (same hits,
// same scores: the arithmetic is bitwise the same). ?crossfind-wasm= forces
// a build; a relaxed build that cannot be fetched falls back to the baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBrowser } from './harness.mjs';

const T = { timeout: 300000 };
const Q = 'メキシコの電子請求書 CFDI';
// (or their gzip forms, which the worker fetches from a host that does not compress)
const RELAXED = /\/crossfind\/crossfind_relaxed_bg\.[0-9a-f]{12}\.wasm(\.gz)?$/;
const BASELINE = /\/crossfind\/crossfind_bg\.[0-9a-f]{12}\.wasm(\.gz)?$/;
const env = demoBrowser();

// Opens a demo page in a fresh context (no service worker: every request is
// seen), waits for the model, and runs one semantic search through the JS API.
async function visit(query = '', route = null) {
  const context = await env.browser.newContext({ serviceWorkers: 'block', locale: 'ja-JP' });
  const requests = [];
  // downloads only (not the worker's HEAD request asking whether the host compresses .wasm)
  context.on('request', (r) => r.method() === 'GET' && requests.push(r.url()));
  if (route) await context.route(route.url, route.handler);
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}ja/index.html${query}`);
    await page.evaluate(() => window.crossfind.semanticReady());
    const hits = await page.evaluate((q) => window.crossfind.search(q, { lang: 'ja', k: 8 }), Q);
    const wasm = await page.evaluate(() => window.crossfind.status.wasm);
    return { hits, wasm, fetched: requests.filter((u) => /\.wasm(\.gz)?$/.test(u)) };
  } finally {
    await context.close();
  }
}

let relaxed;

test('Chromium runs the relaxed-SIMD build, fetches only that, and finds the Spanish article', T, async () => {
  relaxed = await visit();
  assert.equal(relaxed.wasm, 'relaxed');
  assert.equal(relaxed.fetched.length, 1, JSON.stringify(relaxed.fetched));
  assert.match(relaxed.fetched[0], RELAXED);
  const es = relaxed.hits.find((h) => h.pageId === '/es/factura-electronica-cfdi');
  assert.ok(es, JSON.stringify(relaxed.hits.map((h) => h.url)));
  assert.equal(typeof es.dense, 'number');
  assert.ok(relaxed.hits.indexOf(es) < 5);
});

test('?crossfind-wasm=baseline runs the baseline build, with the very same hits and scores', T, async () => {
  assert.ok(relaxed, 'needs the first test');
  const baseline = await visit('?crossfind-wasm=baseline');
  assert.equal(baseline.wasm, 'baseline');
  assert.equal(baseline.fetched.length, 1, JSON.stringify(baseline.fetched));
  assert.match(baseline.fetched[0], BASELINE);
  assert.deepEqual(baseline.hits, relaxed.hits);
});

test('a relaxed build the server does not have: the worker falls back to the baseline', T, async () => {
  const missing = await visit('', { url: RELAXED, handler: (r) => r.fulfill({ status: 404, body: 'gone' }) });
  assert.equal(missing.wasm, 'baseline');
  // the relaxed build's gzip form, then its plain file (a host may have only
  // that), then the baseline's gzip form
  assert.deepEqual(
    missing.fetched.map((u) => (RELAXED.test(u) ? 'relaxed' : BASELINE.test(u) ? 'baseline' : u)),
    ['relaxed', 'relaxed', 'baseline'],
  );
  assert.deepEqual(missing.hits, relaxed.hits);
});
