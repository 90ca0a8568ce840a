// Vectors with sign codes (bundle format 5; `crossfind index --dense-codes
// on`, by default above 1.5 MB of rows): the worker loads the codes with
// the model instead of the vectors shard, and before a semantic answer
// fetches the rows of the first stage's candidate pages from the vectors
// shard by HTTP Range (www/src/worker.js, ensureDenseRows). Here the demo
// site is indexed again with codes, and the host answers the vectors shard
// only in byte ranges: a request for the whole file fails. Semantic results
// must arrive all the same, cross-lingual ones included, and be those of
// the native CLI on the same bundle.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDemo, launch, serve, watchErrors, instrument, typeQuery, ROOT, SITE } from './harness.mjs';

const T = { timeout: 600000 };
const CLI = path.join(ROOT, 'target/release/crossfind');
const env = { browser: null, server: null, root: null, bundle: null };

before(async () => {
  await ensureDemo();
  // the demo's pages (links) and a bundle of their own, with sign codes
  env.root = mkdtempSync(path.join(tmpdir(), 'cf-codes-'));
  for (const n of readdirSync(SITE)) if (n !== 'crossfind') symlinkSync(path.join(SITE, n), path.join(env.root, n));
  env.bundle = path.join(env.root, 'crossfind');
  execFileSync(CLI, ['index', '--input', SITE, '--out', env.bundle, '--dense-codes', 'on', '--quiet', '--report', path.join(env.root, 'report.txt')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  cpSync(path.join(ROOT, 'www/dist'), env.bundle, { recursive: true });
  env.server = await serve(env.root);
  env.browser = await launch();
});

after(async () => {
  await env.browser?.close();
  await env.server?.close();
  if (env.root) rmSync(env.root, { recursive: true, force: true });
});

const native = (q, lang) =>
  execFileSync(CLI, ['search', '--bundle', env.bundle, '--json', '--lang', lang, '--k', '5', q], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test('semantic results from a bundle with sign codes, its rows only by range, equal the native search', T, async () => {
  const manifest = JSON.parse(readFileSync(path.join(env.bundle, 'manifest.json'), 'utf8'));
  assert.equal(manifest.version, 8, 'sign codes, the docs table of a site this size in columns, snippet records naming their pages');
  assert.equal(manifest.docs_columns, true);
  const vectors = manifest.shards.find((s) => s.kind === 'vectors');
  const codes = manifest.shards.find((s) => s.kind === 'vector_codes');
  assert.ok(codes, 'the bundle has sign codes');
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const asked = [];
  const codesAsked = [];
  await context.route(new RegExp(`/crossfind/${vectors.name.replace(/\./g, '\\.')}(\\.gz)?$`), async (route) => {
    const range = route.request().headers().range || null;
    if (!range) {
      // this host sends the rows in ranges only
      asked.push({ range, status: 416, bytes: 0 });
      return route.fulfill({ status: 416, body: '' });
    }
    const res = await route.fetch();
    asked.push({ range, status: res.status(), bytes: (await res.body()).length });
    await route.fulfill({ response: res });
  });
  await context.route(new RegExp(`/crossfind/${codes.name.replace(/\./g, '\\.')}(\\.gz)?$`), async (route) => {
    codesAsked.push(route.request().url());
    await route.continue();
  });
  const page = await context.newPage();
  const errors = watchErrors(page);
  try {
    await page.goto(`${env.server.url}es/index.html`);
    await page.evaluate(() => window.crossfind.semanticReady());
    assert.equal(codesAsked.length, 1, 'the codes come once, with the model');
    assert.deepEqual(asked, [], 'no rows before a query');
    // the Spanish question whose answer exists only in English, and two more
    const queries = [
      ['¿Cómo configuro el inicio de sesión único con SAML?', 'es'],
      ['no puedo entrar a mi cuenta', 'es'],
      ['パスワードを忘れました', 'ja'],
    ];
    for (const [q, lang] of queries) {
      const hits = await page.evaluate(([q, lang]) => window.crossfind.search(q, { lang, k: 5 }), [q, lang]);
      const want = native(q, lang);
      assert.ok(hits.length > 0, q);
      assert.deepEqual(
        hits.map((h) => h.url),
        want.map((h) => h.url),
        q,
      );
      hits.forEach((h, i) => assert.ok(Math.abs(h.dense - want[i].dense) < 1e-5, `${q}: dense ${h.dense} vs ${want[i].dense}`));
    }
    assert.ok(asked.length > 0 && asked.every((a) => a.status === 206), JSON.stringify(asked));
    const fetched = asked.reduce((n, a) => n + a.bytes, 0);
    assert.ok(fetched < vectors.bytes, `${fetched} of ${vectors.bytes} bytes of rows`);
    // the same query again fetches no more rows
    const before = asked.length;
    await page.evaluate(([q, lang]) => window.crossfind.search(q, { lang, k: 5 }), queries[0]);
    assert.equal(asked.length, before);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

// A browser context whose requests for the lexical pieces and the vector
// rows are counted, and `visit(origin)`: a new page load there searching
// QUERY, with its hits and the ranges it fetched for them.
const QUERY = ['¿Cómo configuro el inicio de sesión único con SAML?', 'es'];
async function countingContext(browser) {
  const manifest = JSON.parse(readFileSync(path.join(env.bundle, 'manifest.json'), 'utf8'));
  assert.ok(manifest.shards.some((s) => s.kind === 'lexical_terms'), 'the keyword index is in pieces');
  const vectors = manifest.shards.find((s) => s.kind === 'vectors');
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const asked = { pieces: [], rows: [] };
  const count = (list) => async (route) => {
    list.push(route.request().headers().range || null);
    await route.continue();
  };
  await context.route(/\/crossfind\/lexical-terms\.[0-9a-f]+\.bin(\.gz)?$/, count(asked.pieces));
  await context.route(new RegExp(`/crossfind/${vectors.name.replace(/\./g, '\\.')}(\\.gz)?$`), count(asked.rows));
  const visit = async (origin) => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${origin}es/index.html`);
    await page.evaluate(() => window.crossfind.semanticReady());
    asked.pieces.length = 0;
    asked.rows.length = 0;
    const hits = await page.evaluate(([q, lang]) => window.crossfind.search(q, { lang, k: 5 }), QUERY);
    assert.deepEqual(errors, []);
    assert.ok(hits.length > 0 && hits.every((h) => typeof h.dense === 'number'), JSON.stringify(hits));
    return { page, hits: hits.map((h) => [h.url, h.score, h.dense]), pieces: asked.pieces.slice(), rows: asked.rows.slice() };
  };
  return { context, visit };
}

// A returning reader: the lexical pieces and vector-row blocks a query
// fetched by range are kept in Cache Storage (worker.js, loadParts), so a
// later page asking it again fetches none of them; a kept copy that is
// damaged is refused by the engine's checks, deleted and fetched again, and
// the answers stay the same. Kept parts of a shard the manifest no longer
// lists are dropped when the bundle loads.
test('a later visit takes a query’s lexical pieces and vector rows from Cache Storage, and fetches a damaged one again', T, async () => {
  const { context, visit: visitAt } = await countingContext(env.browser);
  const visit = () => visitAt(env.server.url);
  // the bundle's cache, and in the page the keys kept in it, by kind
  const name = `crossfind-parts:${env.server.url}crossfind/`;
  const keptKeys = (page) =>
    page.evaluate(async (name) => {
      const urls = (await caches.has(name)) ? (await (await caches.open(name)).keys()).map((r) => r.url) : [];
      return { pieces: urls.filter((u) => u.includes('?crossfind-piece=')), blocks: urls.filter((u) => u.includes('?crossfind-block=')) };
    }, name);
  // the worker writes what it keeps once no search has run for half a
  // second (worker.js, KEEP_AFTER_IDLE_MS), a batch at a time: settled
  // when some are written and the list holds still for a second
  const settledKeys = async (page) => {
    let last = null;
    let still = 0;
    for (const start = Date.now(); Date.now() - start < 20000; await page.waitForTimeout(250)) {
      const now = await keptKeys(page);
      still = last && JSON.stringify(now) === JSON.stringify(last) ? still + 1 : 0;
      if (still >= 4 && now.blocks.length) return now;
      last = now;
    }
    return last;
  };
  try {
    const first = await visit();
    assert.ok(first.pieces.length > 0 && first.pieces.every(Boolean), `pieces: ${JSON.stringify(first.pieces)}`);
    assert.ok(first.rows.length > 0 && first.rows.every(Boolean), `rows: ${JSON.stringify(first.rows)}`);
    const kept = await settledKeys(first.page);
    // a part of a shard an earlier index wrote, which this manifest does not list
    const stale = `${env.server.url}crossfind/lexical-terms.000000000000.bin?crossfind-piece=0`;
    await first.page.evaluate(async ([name, key]) => (await caches.open(name)).put(key, new Response('old')), [name, stale]);
    await first.page.close();

    const second = await visit();
    assert.deepEqual(second.hits, first.hits);
    assert.deepEqual(second.pieces, [], 'no lexical piece from the network');
    assert.deepEqual(second.rows, [], 'no vector rows from the network');
    assert.ok(kept.pieces.length >= first.pieces.length, JSON.stringify(kept));
    // a range of several pages' rows is kept a block (a page) an entry
    assert.ok(kept.blocks.length > first.rows.length, `${kept.blocks.length} blocks kept from ${first.rows.length} ranges`);
    const now = await keptKeys(second.page);
    assert.ok(!now.pieces.includes(stale), 'the part of an unlisted shard is dropped');
    assert.deepEqual(now.pieces.sort(), kept.pieces.sort());
    assert.deepEqual(now.blocks.sort(), kept.blocks.sort());
    // damage one kept piece and one kept block (same length, one byte changed)
    const damaged = [kept.pieces[0], kept.blocks[0]];
    const good = await second.page.evaluate(
      async ([name, keys]) => {
        const cache = await caches.open(name);
        const out = [];
        for (const key of keys) {
          const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
          out.push(Array.from(bytes));
          bytes[0] ^= 0xff;
          await cache.put(key, new Response(bytes));
        }
        return out;
      },
      [name, damaged],
    );
    await second.page.close();

    const third = await visit();
    assert.deepEqual(third.hits, first.hits);
    assert.equal(third.pieces.length, 1, `pieces: ${JSON.stringify(third.pieces)}`);
    assert.equal(third.rows.length, 1, `rows: ${JSON.stringify(third.rows)}`);
    // the damaged copies were replaced by the good bytes (written after the answer)
    let after;
    for (const start = Date.now(); Date.now() - start < 20000; await third.page.waitForTimeout(250)) {
      after = await third.page.evaluate(
        async ([name, keys]) => {
          const cache = await caches.open(name);
          return Promise.all(keys.map(async (key) => Array.from(new Uint8Array(await ((await cache.match(key)) || new Response('')).arrayBuffer()))));
        },
        [name, damaged],
      );
      if (JSON.stringify(after) === JSON.stringify(good)) break;
    }
    assert.deepEqual(after, good);
  } finally {
    await context.close();
  }
});

// A query's candidate pages lie all over the vectors shard, a range each
// run of neighbours: dozens of ranges. A host that answers several ranges
// in one request (multipart/byteranges: nginx, Apache, Go; www/serve.mjs)
// gets them in one request a file (once a first range asked alone has
// told whether the host answers ranges at all); a host that answers such
// a request with the whole file is not read whole (the answer is dropped
// at its headers) and gets one range a request. The answers are the same.
test('a host that answers several ranges at once serves a query’s rows in a few requests, with the same answers', T, async () => {
  // one range a request: the whole file for several (as S3), or 416 (as Varnish)
  const single = await serve(env.root, { faults: { singleRange: true } });
  const refusing = await serve(env.root, { faults: { singleRange: 'refuse' } });
  const { context, visit } = await countingContext(env.browser);
  const several = (list) => list.filter((r) => r.includes(','));
  try {
    const one = await visit(single.url);
    const many = await visit(env.server.url);
    assert.deepEqual(many.hits, one.hits);
    const refused = await visit(refusing.url);
    assert.deepEqual(refused.hits, one.hits);
    assert.deepEqual(refused.rows, one.rows);
    // one at a time: each range its own request, after one refused try
    assert.ok(several(one.rows).length <= 1, JSON.stringify(one.rows));
    const ranges = one.rows.length - several(one.rows).length;
    assert.ok(ranges >= 10, `the query needs rows from ${ranges} places`);
    // at once (the host answered the lexical pieces' ranges already)
    assert.ok(many.rows.length <= 2, JSON.stringify(many.rows));
    assert.ok(several(many.rows).length >= 1, JSON.stringify(many.rows));
    const named = many.rows.reduce((n, r) => n + r.split(',').length, 0);
    assert.equal(named, ranges, 'the same ranges asked for, fewer requests');
  } finally {
    await context.close();
    await single.close();
    await refusing.close();
  }
});

// The bound: at most 400 lexical pieces are kept per bundle (KEPT_PARTS
// in worker.js), the oldest dropped first. Filled here with 450 made-up
// pieces of a listed shard (indices the engine never asks for), then a
// query keeps its own.
test('at most 400 lexical pieces are kept per bundle, the oldest dropped first', T, async () => {
  const manifest = JSON.parse(readFileSync(path.join(env.bundle, 'manifest.json'), 'utf8'));
  const terms = manifest.shards.find((s) => s.kind === 'lexical_terms');
  const { context, visit } = await countingContext(env.browser);
  const name = `crossfind-parts:${env.server.url}crossfind/`;
  const old = Array.from({ length: 450 }, (_, i) => `${env.server.url}crossfind/${terms.name}?crossfind-piece=${1000000 + i}`);
  try {
    const page = await context.newPage();
    await page.goto(`${env.server.url}es/index.html`);
    await page.evaluate(
      async ([name, keys]) => {
        const cache = await caches.open(name);
        for (const key of keys) await cache.put(key, new Response('x'));
      },
      [name, old],
    );
    await page.close();
    const v = await visit(env.server.url);
    assert.ok(v.pieces.length > 0);
    // trimmed after the query's pieces are kept, without holding up its answer
    let kept;
    for (const start = Date.now(); Date.now() - start < 20000; await v.page.waitForTimeout(200)) {
      kept = await v.page.evaluate(async (name) => (await (await caches.open(name)).keys()).map((r) => r.url).filter((u) => u.includes('?crossfind-piece=')), name);
      if (kept.length <= 400) break;
    }
    assert.equal(kept.length, 400);
    const mine = kept.filter((u) => !old.includes(u));
    assert.ok(mine.length >= v.pieces.length, `the query's own pieces are kept: ${mine.length}`);
    assert.deepEqual(
      kept.filter((u) => old.includes(u)),
      old.slice(old.length - (400 - mine.length)),
      'the oldest are dropped',
    );
  } finally {
    await context.close();
  }
});

// Without Cache Storage (a page not served over https, here a host name
// other than localhost) nothing is kept: every visit fetches its pieces
// and rows, and answers as with it.
test('without Cache Storage, every visit fetches its pieces and rows and answers the same', T, async () => {
  const browser = await launch({ args: ['--host-resolver-rules=MAP crossfind.test 127.0.0.1'] });
  const { context, visit } = await countingContext(browser);
  try {
    const origin = env.server.url.replace('127.0.0.1', 'crossfind.test');
    const first = await visit(origin);
    assert.equal(await first.page.evaluate(() => typeof caches), 'undefined', 'an insecure page has no Cache Storage');
    await first.page.close();
    const second = await visit(origin);
    assert.deepEqual(second.hits, first.hits);
    assert.deepEqual([second.pieces, second.rows], [first.pieces, first.rows]);
    assert.ok(second.pieces.length > 0 && second.rows.length > 0, JSON.stringify(second));
    // the same answer as from a page with Cache Storage
    const { context: other, visit: visitSecure } = await countingContext(env.browser);
    try {
      assert.deepEqual((await visitSecure(env.server.url)).hits, first.hits);
    } finally {
      await other.close();
    }
  } finally {
    await context.close();
    await browser.close();
  }
});

// Offline: the copy (sw.js) keeps the codes and the whole vectors file, and
// answers the worker's row ranges from it.
test('offline, a bundle with sign codes still answers semantically, its rows from the offline copy', T, async () => {
  const server = await serve(env.root);
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  await instrument(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  try {
    await page.goto(`${server.url}en/index.html`);
    await page.evaluate(() => window.crossfind.ready());
    await page.keyboard.press('Control+k');
    await typeQuery(page, 'password');
    const start = Date.now();
    let state;
    for (;;) {
      state = await page.evaluate(() => window.crossfind.offline());
      if (state.state === 'ready' || state.state === 'failed' || Date.now() - start > 300000) break;
      await page.waitForTimeout(1000);
    }
    assert.equal(state.state, 'ready', JSON.stringify(state));
    await page.keyboard.press('Escape');
    await server.close();
    await context.setOffline(true);
    await page.reload();
    await page.evaluate(() => window.crossfind.semanticReady());
    const [q, lang] = ['¿Cómo configuro el inicio de sesión único con SAML?', 'es'];
    const hits = await page.evaluate(([q, lang]) => window.crossfind.search(q, { lang, k: 5 }), [q, lang]);
    const want = native(q, lang);
    assert.deepEqual(
      hits.map((h) => [h.url, typeof h.dense]),
      want.map((h) => [h.url, 'number']),
    );
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close().catch(() => {});
  }
});
