// Snippet records (bundle format 7, the demo has more than 200 pages):
// the text, URL and title a hit shows come as its page's record, fetched
// by byte range after the search, several records of one file in one
// request. A damaged record costs only its own page's snippet: that hit
// still shows, the reader's other hits keep theirs, a problem is reported
// and the record is not asked for again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { demoBrowser, serve, watchErrors, listedShards, BUNDLE, SITE } from './harness.mjs';

const T = { timeout: 600000 };
const env = demoBrowser();

const manifest = () => JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8'));

// The docs columns' runs (bundle/columns.rs), expanded.
const expand = (runs) => {
  const out = [];
  let v = 0;
  for (const [step, n] of runs) {
    v += step;
    for (let i = 0; i < n; i++) out.push(v);
  }
  return out;
};

// Every record: its page (id and number), its file and where it lies in it.
function recordsOf(m) {
  const docsShard = m.shards.find((s) => s.kind === 'docs');
  const docs = JSON.parse(readFileSync(path.join(BUNDLE, docsShard.name), 'utf8'));
  assert.equal(docs.ids, undefined, 'the docs table leaves the page ids to the records (format 8)');
  const files = listedShards(m).filter((s) => s.kind === 'snippets');
  const pageOfChunk = expand(docs.pages_of_chunks);
  const recordOfChunk = expand(docs.frags_of_chunks);
  const pageOfRecord = new Map();
  recordOfChunk.forEach((r, c) => pageOfRecord.has(r) || pageOfRecord.set(r, pageOfChunk[c]));
  const out = [];
  let record = 0;
  files.forEach((f, k) => {
    let at = 0;
    for (let j = 0; j < docs.record_files[k]; j++, record++) {
      const len = docs.records[record];
      // the record names its page
      const stored = readFileSync(path.join(BUNDLE, f.name)).subarray(at, at + len);
      const page = JSON.parse(inflateSync(stored)).page;
      out.push({ file: f.name, size: f.bytes, start: at, end: at + len, page, number: pageOfRecord.get(record) });
      at += len;
    }
  });
  return out;
}

// For each snippets file, the page whose record holds the file's middle
// byte (the byte www/serve.mjs changes when it serves the file "corrupt").
const pagesAtMiddles = (m) => recordsOf(m).filter((r) => r.start <= r.size >> 1 && r.size >> 1 < r.end);

const titleOf = (pageId) => /<title>([^<·]*)/.exec(readFileSync(path.join(SITE, `${pageId}.html`), 'utf8'))[1].trim();

async function searchOn(server, query, lang) {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.addInitScript(() => {
    window.__problems = [];
    document.addEventListener('search-error', (e) => window.__problems.push(e.detail));
  });
  await page.goto(`${server.url}${lang}/index.html`);
  await page.evaluate(() => window.crossfind.ready());
  const run = () => page.evaluate((q) => window.crossfind.search(q, { k: 5, mode: 'lexical' }), query);
  return { context, page, errors, run };
}

test('the records of the hits shown come in one request a file, with their text, URL and title', T, async () => {
  const m = manifest();
  assert.equal(m.version, 8);
  // "GET /crossfind/snippets.<hash>.bin 206 3ms[ N ranges]" (www/serve.mjs)
  const asked = [];
  const server = await serve(SITE, {
    log: (line) => {
      const m = /^GET (\/crossfind\/snippets\.[^ ]+) (\d+) \d+ms( (\d+) ranges)?/.exec(line);
      if (m) asked.push({ p: m[1], status: Number(m[2]), ranges: Number(m[4] || 1) });
    },
  });
  try {
    const { context, errors, run } = await searchOn(server, 'reset my password', 'en');
    try {
      const hits = await run();
      assert.equal(hits.length, 5);
      for (const h of hits) {
        assert.ok(h.title && /\.html(#|$)/.test(h.url), JSON.stringify(h));
        assert.ok(h.snippet, `a snippet for ${h.pageId}`);
      }
      const files = new Set(asked.map((a) => a.p));
      assert.ok(asked.length >= 1, 'records were fetched');
      assert.equal(asked.length, files.size, `one request a file: ${JSON.stringify(asked)}`);
      assert.ok(asked.every((a) => a.status === 206), `by range: ${JSON.stringify(asked)}`);
      // a file holding several of the hits' records sent them in one answer
      const fileOf = new Map(recordsOf(m).map((r) => [r.page, r.file]));
      for (const a of asked) {
        const wanted = hits.filter((h) => `/crossfind/${fileOf.get(h.pageId)}` === a.p).length;
        assert.equal(a.ranges, wanted, `${a.p}: ${JSON.stringify(asked)}`);
      }
      // asked again: nothing more to fetch
      asked.length = 0;
      await run();
      assert.deepEqual(asked, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  } finally {
    await server.close();
  }
});

test('a damaged record costs its page its snippet, once, and the other hits keep theirs', T, async () => {
  const m = manifest();
  const [target] = pagesAtMiddles(m).filter(({ page }) => page.startsWith('/en/'));
  assert.ok(target, 'an English page whose record holds the middle byte of its file');
  const server = await serve(SITE, { faults: { corrupt: [`/crossfind/${target.file}`] } });
  try {
    const { context, page, run } = await searchOn(server, titleOf(target.page), 'en');
    try {
      const hits = await run();
      // its id came with the record, so it is shown as its page's number
      const hit = hits.find((h) => h.pageId === `#${target.number}`);
      assert.ok(hit, `${target.page} (#${target.number}) among ${JSON.stringify(hits.map((h) => h.pageId))}`);
      assert.equal(hit.snippet, null);
      assert.equal(hit.title, '');
      assert.ok(!hits.some((h) => h.pageId === target.page));
      const others = hits.filter((h) => h !== hit);
      assert.ok(others.length > 0 && others.every((h) => h.snippet), JSON.stringify(others.map((h) => [h.pageId, h.snippet])));
      const problems = await page.evaluate(() => window.__problems);
      const p = problems.find((x) => x.stage === 'fragments');
      assert.ok(p, JSON.stringify(problems));
      assert.equal(p.code, 'corrupt_file');
      assert.equal(p.file, target.file);
      assert.equal(p.fatal, false);
      // the same search again: not asked for again, no new problem
      await run();
      const again = await page.evaluate(() => window.__problems.filter((x) => x.stage === 'fragments').length);
      assert.equal(again, 1);
    } finally {
      await context.close();
    }
  } finally {
    await server.close();
  }
});
