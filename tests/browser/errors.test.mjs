// Damaged and hostile input: a flipped byte in a shard or a model file, a
// bundle from another version, and page titles made of markup. The reader
// gets a clear message, keyword search goes on where it can, and the page
// sees no uncaught error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBrowser, ensureHostileSite, instrument, serve, watchErrors, W, waitForResults, typeQuery } from './harness.mjs';

const T = { timeout: 300000 };
const env = demoBrowser();

// A page on a context whose responses for `pattern` come back with one byte flipped
// (or rewritten by `edit`).
async function tamperedPage(pattern, edit = null) {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  await instrument(context);
  const damaged = [];
  await context.route(pattern, async (route) => {
    // (the worker's HEAD request, asking whether the host compresses, has no body to damage)
    if (route.request().method() !== 'GET') return route.continue();
    const res = await route.fetch();
    let body = await res.body();
    if (edit) body = Buffer.from(edit(body.toString('utf8')));
    else {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0x20;
    }
    damaged.push(new URL(route.request().url()).pathname);
    await route.fulfill({ response: res, body });
  });
  const page = await context.newPage();
  const errors = watchErrors(page);
  return { context, page, errors, damaged };
}

const noticeText = (page) => page.locator(W.notice).textContent();

async function waitNotice(page, re) {
  await page.waitForFunction(
    (src) => {
      const n = document.querySelector('crossfind-search')?.shadowRoot?.querySelector('.cf-notice');
      return !!n && !n.hidden && new RegExp(src).test(n.textContent);
    },
    re.source,
    { timeout: 120000 },
  );
}

test('a damaged model file: a clear message, and keyword search keeps working', T, async () => {
  // From this host, which compresses nothing, the worker fetches the gzip
  // form (encoder.bin.gz): a flipped byte in it fails the decoder, or else
  // the content's checksum, and the message names the file either way.
  const { context, page, errors, damaged } = await tamperedPage(/\/crossfind\/model\/encoder\.bin(\.gz)?$/);
  await page.goto(`${env.server.url}en/index.html`);
  await page.keyboard.press('Control+k');
  await waitNotice(page, /Multilingual search is unavailable/);
  assert.match(await noticeText(page), /keyword search still works.*damaged \(encoder\.bin(\.gz)?\)/);
  assert.equal(await page.locator(W.notice).getAttribute('role'), 'alert');
  assert.deepEqual(damaged, ['/crossfind/model/encoder.bin.gz']);
  await typeQuery(page, 'cancel subscription');
  const shown = await waitForResults(page, (r) => r.length > 0, { query: 'cancel subscription' });
  assert.match(shown[0].url, /cancel-subscription/);
  assert.equal(await page.evaluate(() => window.crossfind.status.semantic), 'unavailable');
  assert.equal(await page.locator(W.progress).isVisible(), false, 'no progress bar for a download that failed');
  await page.waitForTimeout(500);
  assert.deepEqual(errors, []);
  await context.close();
});

// Word-embedding rows come per query by HTTP Range; damaged ones are refused
// block by block, and that query is answered by keywords.
test('damaged embedding rows: a clear message, and the query still gets keyword results', T, async () => {
  const { context, page, errors, damaged } = await tamperedPage(/\/crossfind\/model\/emb-\d+\.bin$/);
  await page.goto(`${env.server.url}en/index.html`);
  await page.keyboard.press('Control+k');
  await page.evaluate(() => window.crossfind.semanticReady());
  await typeQuery(page, 'cancel subscription');
  await waitNotice(page, /Multilingual search is unavailable/);
  assert.match(await noticeText(page), /damaged \(emb-\d+\.bin\)/);
  assert.ok(damaged.length > 0 && damaged.every((p) => /\/model\/emb-\d+\.bin$/.test(p)), damaged.join());
  const shown = await waitForResults(page, (r) => r.length > 0, { query: 'cancel subscription' });
  assert.match(shown[0].url, /cancel-subscription/);
  await page.waitForTimeout(500);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a damaged vectors shard: a clear message and no uncaught error', T, async () => {
  const { context, page, errors, damaged } = await tamperedPage(/\/crossfind\/vectors\.[0-9a-f]+\.bin(\.gz)?$/);
  await page.goto(`${env.server.url}en/index.html`);
  await page.keyboard.press('Control+k');
  await waitNotice(page, /damaged/);
  assert.equal(damaged.length, 1);
  const file = damaged[0].split('/').pop();
  assert.ok((await noticeText(page)).includes(`(${file})`), await noticeText(page));
  await typeQuery(page, 'cancel subscription');
  // the reader still gets answers (by keywords), and nothing was thrown
  const shown = await waitForResults(page, (r) => r.length > 0, { query: 'cancel subscription' });
  assert.match(shown[0].url, /cancel-subscription/);
  assert.deepEqual(errors, []);
  await context.close();
});

// Keyword search without the vectors: the worker builds the engine from the
// other shards (BundleLoader.buildKeywords) and fetches the vectors with the
// model; when they are damaged, the model download stops there.
test('a damaged vectors shard: keyword search keeps working', T, async () => {
  const { context, page, errors, damaged } = await tamperedPage(/\/crossfind\/vectors\.[0-9a-f]+\.bin(\.gz)?$/);
  const model = [];
  page.on('request', (r) => {
    if (/\/crossfind\/model\//.test(r.url())) model.push(r.url());
  });
  await page.goto(`${env.server.url}en/index.html`);
  await page.keyboard.press('Control+k');
  await waitNotice(page, /damaged/);
  const file = damaged[0].split('/').pop();
  assert.match(await noticeText(page), /only keyword search works/);
  assert.ok((await noticeText(page)).includes(`(${file})`), await noticeText(page));
  assert.equal(await page.locator(W.notice).getAttribute('role'), 'alert');
  await typeQuery(page, 'cancel subscription');
  const shown = await waitForResults(page, (r) => r.length > 0, { query: 'cancel subscription', timeout: 10000 });
  assert.match(shown[0].url, /cancel-subscription/);
  const status = await page.evaluate(() => ({ lexical: window.crossfind.status.lexical, semantic: window.crossfind.status.semantic }));
  assert.deepEqual(status, { lexical: 'ready', semantic: 'unavailable' });
  // The JS API answers too, by keywords, whatever mode it asks for.
  const api = await page.evaluate(() => window.crossfind.search('cancel subscription', { lang: 'en' }).then((h) => h.map((x) => x.url)));
  assert.match(api[0], /cancel-subscription/);
  assert.equal(await page.locator(W.progress).isVisible(), false, 'no model download without vectors');
  // at most the model files asked for beside the vectors (pack.json and
  // four at a time), and none once the vectors were refused
  const asked = model.length;
  assert.ok(asked <= 5, model.join());
  await page.waitForTimeout(1500);
  assert.equal(model.length, asked, 'no model file is asked for once the vectors are refused');
  assert.equal(await page.evaluate(() => window.crossfind.status.semantic), 'unavailable');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a bundle from another version: a clear message and no uncaught error', T, async () => {
  const { context, page, errors } = await tamperedPage('**/crossfind/manifest.json', (text) => text.replace(/"version":\s*\d+/, '"version":99'));
  await page.goto(`${env.server.url}en/index.html`);
  await page.keyboard.press('Control+k');
  await waitNotice(page, /another version of crossfind/);
  assert.match(await noticeText(page), /^Search is unavailable/);
  await page.keyboard.type('password');
  await page.waitForTimeout(500);
  const rejected = await page.evaluate(() => window.crossfind.search('password').then(() => 'resolved', (e) => e.code));
  assert.equal(rejected, 'version_mismatch');
  assert.deepEqual(errors, []);
  await context.close();
});

test('titles and headings made of markup render as text', T, async () => {
  const dir = ensureHostileSite();
  // no Content-Security-Policy: it would block an injected handler whatever
  // the widget did, and the alert check below could not fail
  const hostile = await serve(dir);
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  await instrument(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  const dialogs = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  try {
    await page.goto(`${hostile.url}en/hostile.html`);
    await page.keyboard.press('Control+k');
    await typeQuery(page, 'zebra');
    const shown = await waitForResults(page, (r) => r.length > 0, { query: 'zebra' });
    const mine = shown.find((r) => r.url.startsWith('/en/hostile.html'));
    assert.ok(mine, JSON.stringify(shown));
    assert.equal(mine.title, '<img src=x onerror=alert(1)>');
    await typeQuery(page, 'titles are text never markup');
    const shown2 = await waitForResults(page, (r) => r.some((x) => x.url === '/xss.html'), { query: 'titles are text never markup' });
    assert.match(shown2.find((x) => x.url === '/xss.html').title, /^<img src=x onerror=alert\(1\)> in titles/);
    await typeQuery(page, 'zebra heading');
    const shown3 = await waitForResults(page, (r) => r.some((x) => x.url === '/en/hostile.html#bold-heading'), { query: 'zebra heading' });
    assert.ok(shown3.some((x) => x.text.includes('<b onmouseover=alert(2)>Zebra heading</b>')), JSON.stringify(shown3.map((x) => x.text)));
    const elements = await page.evaluate(() => {
      const list = document.querySelector('crossfind-search').shadowRoot.querySelector('[role="listbox"]');
      // the widget's own: <li role="none"><a role="option" href> with spans and marks inside
      const own = (e) => ['li', 'span', 'mark'].includes(e.tagName.toLowerCase()) || (e.tagName === 'A' && e.getAttribute('role') === 'option');
      return [...list.querySelectorAll('*')].filter((e) => !own(e)).map((e) => e.tagName.toLowerCase());
    });
    assert.deepEqual(elements, []);
    await page.waitForTimeout(500);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await hostile.close();
  }
});
