// Several bundles in one search box (issue 20, item 6): the demo help
// center's bundle and a small blog's, indexed by the real CLI into its own
// folder. Results from both come in one list, a bundle's weight moves its
// results, and each result links into its own site. Under the strict CSP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { ROOT, BUNDLE, ensureDemo, instrument, launch, serve, siteCopy, watchErrors, waitForResults, typeQuery, W, listedShards } from './harness.mjs';

const T = { timeout: 600000 };
let browser, server, root;

const post = (title, paragraphs) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title></head>
<body>
<main>
<h1>${title}</h1>
${paragraphs.map((p) => `<p>${p}</p>`).join('\n')}
</main>
</body>
</html>
`;

const BLOG = {
  'blog/en/password-resets.html': post('Behind the scenes: how we reset your password', [
    'When you forget your Kitebook password and ask for a reset, we email you a link that works once and expires after an hour.',
    'This post explains how the reset link is made, why it expires, and what to do when the password reset email never arrives.',
  ]),
  'blog/en/release-5-2.html': post('Kitebook 5.2 release notes', [
    'Version 5.2 brings faster sync on large notebooks, a new colour picker for tags and many small fixes.',
  ]),
  'blog/en/meeting-notes.html': post('Five tips for better meeting notes', [
    'Write the decisions first, keep action items short, and share the notes with everyone who was in the room.',
  ]),
};

const PAGE = (bundles) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Help and blog</title></head>
<body>
<header><crossfind-search bundles="${bundles}"></crossfind-search></header>
<main><h1>Help and blog</h1></main>
<script type="module" src="/crossfind/crossfind.js"></script>
</body>
</html>
`;

before(async () => {
  await ensureDemo();
  root = siteCopy([], {
    ...BLOG,
    't/equal.html': PAGE('/crossfind/ 1, /blog/crossfind/ 1'),
    't/blog-light.html': PAGE('/crossfind/, /blog/crossfind/ 0.1'),
    't/blog-heavy.html': PAGE('/crossfind/ 1, /blog/crossfind/ 10'),
    't/one-missing.html': PAGE('/crossfind/, /gone/crossfind/ 2'),
    't/three.html': PAGE('/crossfind/ 1, /blog/crossfind/ 1, /mirror/crossfind/ 1'),
  });
  // a third bundle large enough to have gzip forms: the help center's, published again under /mirror/
  mkdirSync(path.join(root, 'mirror/crossfind'), { recursive: true });
  for (const n of readdirSync(BUNDLE)) symlinkSync(path.join(BUNDLE, n), path.join(root, 'mirror/crossfind', n));
  // the blog's own bundle, as its build would make it
  execFileSync(path.join(ROOT, 'target/release/crossfind'), ['index', '--input', path.join(root, 'blog'), '--out', path.join(root, 'blog/crossfind')], { stdio: 'ignore' });
  server = await serve(root, { csp: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const QUERY = 'how do I reset my password';
const DOCS = /^\/en\/reset-password\.html/;
const POST = /^\/blog\/en\/password-resets\.html/;

// Opens `file`, searches QUERY once the model is in; the options shown,
// the last `results` event's detail, the page and what went wrong.
async function searchOn(file) {
  const context = await browser.newContext({ serviceWorkers: 'block', locale: 'en-US' });
  await instrument(context);
  const requests = [];
  context.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    document.addEventListener('results', (e) => (window.__last = e.detail));
  });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}t/${file}`);
  await page.evaluate(() => window.crossfind.semanticReady());
  await page.keyboard.press('Control+k');
  await page.locator(W.input).waitFor({ state: 'visible' });
  await typeQuery(page, QUERY);
  const shown = (await waitForResults(page, (r) => r.length > 0, { query: QUERY, semantic: true })).filter((r) => !r.sub);
  const detail = await page.evaluate(() => ({ bundles: window.__last.results.map((h) => h.bundle), lowConfidence: window.__last.lowConfidence }));
  return { context, page, shown, detail, errors, requests };
}

const rank = (shown, re) => shown.findIndex((r) => re.test(r.url));

test('two bundles merge into one list, each result linking into its own site', T, async () => {
  const { context, page, shown, detail, errors } = await searchOn('equal.html');
  try {
    const urls = shown.map((r) => r.url);
    assert.ok(rank(shown, DOCS) >= 0, `the help center's answer is listed: ${urls}`);
    assert.ok(rank(shown, POST) >= 0, `the blog's post is listed: ${urls}`);
    assert.ok(
      shown.some((r) => /^\/blog\/en\/(release-5-2|meeting-notes)\.html/.test(r.url)) || shown.length === 10,
      'the blog bundle answers beside the help center',
    );
    const origin = new URL(server.url).origin;
    assert.ok(detail.bundles.includes(`${origin}/crossfind/`) && detail.bundles.includes(`${origin}/blog/crossfind/`), JSON.stringify(detail.bundles));
    assert.equal(detail.lowConfidence, false);
    // the reader opens the blog's result: the blog's page, not a path of the help center
    const option = page.locator('crossfind-search [role="option"][data-url^="/blog/en/password-resets.html"]').first();
    await Promise.all([page.waitForURL(/\/blog\/en\/password-resets\.html/), option.click()]);
    assert.equal(await page.locator('h1').textContent(), 'Behind the scenes: how we reset your password');
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

// This host compresses nothing: every bundle's shards that have a gzip form
// (manifest `encoded`) come as that form, decoded in the worker, not only
// the first bundle's; the others (the small blog's are all too small to
// gain from gzip) come plain.
test('from a host that does not compress, each bundle fetches the gzip forms of its shards', T, async () => {
  const { context, shown, detail, requests, errors } = await searchOn('three.html');
  try {
    assert.ok(rank(shown, DOCS) >= 0, `the help center answers: ${shown.map((r) => r.url)}`);
    const origin = new URL(server.url).origin;
    assert.ok(detail.bundles.includes(`${origin}/mirror/crossfind/`), `the third bundle answers too: ${JSON.stringify(detail.bundles)}`);
    const gets = new Set(requests.filter((r) => r.startsWith('GET ')).map((r) => r.slice(4)));
    for (const dir of ['crossfind', 'blog/crossfind', 'mirror/crossfind']) {
      const m = JSON.parse(readFileSync(path.join(root, dir, 'manifest.json'), 'utf8'));
      const encoded = m.shards.filter((s) => s.encoded);
      // (from bundle format 6 on, a gzip form's name is the shard's with .gz)
      const gz = (s) => s.encoded.name ?? `${s.name}.gz`;
      if (dir !== 'blog/crossfind') assert.ok(encoded.length > 0, `${dir}/manifest.json lists no gzip form: nothing to check`);
      // snippet text comes per query, only for the hits shown (fragment
      // shards, or from bundle format 7 snippet records by range): the
      // shards fetched must come in their gzip form, and some must come
      const snippets = (s) => s.kind === 'fragments' || s.kind === 'snippets';
      const fetchedFrag = (s) => gets.has(`/${dir}/${s.name}`) || (s.encoded && gets.has(`/${dir}/${gz(s)}`));
      const shards = listedShards(m);
      assert.ok(shards.some((s) => snippets(s) && fetchedFrag(s)), `${dir}: no snippet text was fetched: ${[...gets].join(', ')}`);
      for (const s of shards) {
        const plain = `/${dir}/${s.name}`;
        if (snippets(s) && !fetchedFrag(s)) continue;
        if (s.encoded) {
          assert.ok(gets.has(`/${dir}/${gz(s)}`), `${dir}: ${gz(s)} was not fetched: ${[...gets].join(', ')}`);
          assert.ok(!gets.has(plain), `${dir}: ${s.name} was fetched plain although it has a gzip form`);
        } else {
          assert.ok(gets.has(plain), `${dir}: ${s.name} was not fetched: ${[...gets].join(', ')}`);
        }
      }
    }
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("a bundle's weight changes the order of the merged results", T, async () => {
  const light = await searchOn('blog-light.html');
  const heavy = await searchOn('blog-heavy.html');
  try {
    const l = rank(light.shown, POST);
    const h = rank(heavy.shown, POST);
    assert.equal(rank(light.shown, DOCS), 0, `blog weight 0.1: the help center's answer first: ${light.shown.map((r) => r.url)}`);
    assert.equal(h, 0, `blog weight 10: the blog's post first: ${heavy.shown.map((r) => r.url)}`);
    assert.ok(l === -1 || l > h, `the post moved down with the lighter weight (${l} vs ${h})`);
    assert.ok(rank(heavy.shown, DOCS) > 0);
    assert.deepEqual(light.errors, []);
    assert.deepEqual(heavy.errors, []);
  } finally {
    await light.context.close();
    await heavy.context.close();
  }
});

test('a bundle that is not there is reported, and the others are still searched', T, async () => {
  const context = await browser.newContext({ serviceWorkers: 'block', locale: 'en-US' });
  try {
    await instrument(context);
    await context.addInitScript(() => {
      window.__problems = [];
      document.addEventListener('search-error', (e) => window.__problems.push(e.detail));
    });
    const page = await context.newPage();
    await page.goto(`${server.url}t/one-missing.html`);
    await page.evaluate(() => window.crossfind.ready());
    await page.keyboard.press('Control+k');
    await typeQuery(page, 'invoice');
    const shown = await waitForResults(page, (r) => r.length > 0, { query: 'invoice' });
    assert.ok(shown.some((r) => /^\/en\/invoices-receipts\.html/.test(r.url)), JSON.stringify(shown.map((r) => r.url)));
    const problems = await page.evaluate(() => window.__problems);
    const gone = problems.find((p) => p.stage === 'bundle');
    assert.ok(gone, JSON.stringify(problems));
    assert.equal(gone.fatal, false);
    assert.equal(gone.code, 'missing_file');
    assert.equal(gone.bundle, `${new URL(server.url).origin}/gone/crossfind/`);
    assert.match(gone.message, /\/gone\/crossfind\//);
    assert.equal(await page.evaluate(() => window.crossfind.status.lexical), 'ready');
    assert.equal(await page.locator('crossfind-search .cf-notice').isVisible(), true, 'the reader is told part of the search is missing');
  } finally {
    await context.close();
  }
});
