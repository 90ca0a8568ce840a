// A bundle is data from the host, not code: no URL in it runs script or
// leads off the site, and no name in a manifest makes the search worker or
// the service worker fetch outside the bundle folder. No CSP here: the
// widget itself must refuse, not the env.browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { launchedBrowser, instrument, serve, watchErrors, W, waitForResults, typeQuery, ROOT, SITE, BUNDLE } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const T = { timeout: 300000 };
const env = launchedBrowser();

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// Result URLs a bundle could carry (one made by an older crossfind, or edited
// after indexing), each with a title to find it by.
// (void: a javascript: URL that returns a string replaces the document, and
// the mark with it; the test also checks the document is still the page)
const HOSTILE = {
  'Zebra script': "javascript:void(window.__pwned='js')",
  'Zebra tab': "java\tscript:void(window.__pwned='tab')",
  'Zebra control': " \u0001JAVASCRIPT:void(window.__pwned='upper')",
  'Zebra data': "data:text/html,<script>top.__pwned='data'</script>",
  'Zebra vbscript': 'vbscript:msgbox(1)',
  'Zebra protocol-relative': '//evil.example/proto',
  'Zebra backslashes': '\\\\evil.example/backslash',
  'Zebra other host': 'https://evil.example/abs',
};

// A filter key and value the safe page declares: markup, to be shown as text
// in the filter bar.
const HOSTILE_KEY = `<img src=x onerror="window.__pwned='filter key'">`;
const HOSTILE_VALUE = `<b onmouseover="window.__pwned='filter value'">Zebra</b> & co`;

const page = (title) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title></head>
<body>
<header><crossfind-search semantic="off"></crossfind-search></header>
<main><h1>${title}</h1><p>A page of the hostile-URL site.</p></main>
<script type="module" src="/crossfind/crossfind.js"></script>
</body>
</html>
`;

// The site: two pages and a bundle indexed by the real CLI from JSONL, whose
// docs table then gets the hostile URLs (the CLI itself refuses them: the
// first two lines below are dropped with a warning).
function hostileSite() {
  const dir = path.join(ROOT, 'target/browser-hostile-urls');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'site'), { recursive: true });
  const text = (t) => `${t}: zebra crossing checklist, a page whose link must stay on the site.`;
  const lines = [
    { id: 'cli-js', lang: 'en', title: 'Zebra refused by the indexer', url: "javascript:alert('indexed')", text: text('refused') },
    { id: 'cli-tab', lang: 'en', title: 'Zebra refused by the indexer too', url: 'java\tscript:alert(1)', text: text('refused') },
    { id: 'safe', lang: 'en', title: 'Zebra safe page', url: '/safe.html', text: text('safe'), filters: { [HOSTILE_KEY]: [HOSTILE_VALUE] } },
    ...Object.keys(HOSTILE).map((title, i) => ({ id: `h${i}`, lang: 'en', title, url: `/placeholder-${i}.html`, text: text(title) })),
  ];
  const input = path.join(dir, 'pages.jsonl');
  writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const bundle = path.join(dir, 'site/crossfind');
  const run = spawnSync(path.join(ROOT, 'target/release/crossfind'), ['index', '--input', input, '--out', bundle], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const cli = run.stdout + run.stderr;
  writeFileSync(path.join(dir, 'site/index.html'), page('Hostile URLs'));
  writeFileSync(path.join(dir, 'site/safe.html'), page('Safe page'));

  const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
  const shard = manifest.shards.find((s) => s.kind === 'docs');
  const docs = JSON.parse(readFileSync(path.join(bundle, shard.name), 'utf8'));
  const indexedUrls = docs.pages.map((p) => p.url);
  Object.values(HOSTILE).forEach((url, i) => {
    const p = docs.pages.find((x) => x.url === `/placeholder-${i}.html`);
    p.url = url;
  });
  const bytes = Buffer.from(JSON.stringify(docs));
  writeFileSync(path.join(bundle, shard.name), bytes);
  shard.bytes = bytes.length;
  shard.sha256 = sha256(bytes);
  writeFileSync(path.join(bundle, 'manifest.json'), JSON.stringify(manifest, null, 1));
  cpSync(path.join(ROOT, 'www/dist'), bundle, { recursive: true });
  return { root: path.join(dir, 'site'), cli, indexedUrls };
}

test('hostile result URLs never run script or leave the site (no CSP)', T, async () => {
  const { root, cli, indexedUrls } = hostileSite();
  // The indexer: javascript: URLs are not indexed, and it says so.
  assert.match(cli, /skipped line 1 \(id "cli-js"\): its "url" "javascript:alert\('indexed'\)" has the scheme `javascript:`/);
  assert.match(cli, /skipped line 2 \(id "cli-tab"\): its "url" "java\\tscript:alert\(1\)" has the scheme `javascript:`/);
  assert.ok(!indexedUrls.some((u) => /script:/i.test(u)), JSON.stringify(indexedUrls));

  const server = await serve(root);
  const origin = new URL(server.url).origin;
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  await instrument(context);
  const offSite = [];
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/')) offSite.push(u);
  });
  await context.route(/evil\.example/, (route) => route.abort());
  const pages = [];
  context.on('page', (p) => pages.push(p));
  const p = await context.newPage();
  const errors = watchErrors(p);
  const dialogs = [];
  p.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  try {
    const start = `${server.url}index.html`;
    await p.goto(start);
    assert.equal(await p.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')), null);
    await p.evaluate(() => window.crossfind.ready());
    await p.keyboard.press('Control+k');
    await typeQuery(p, 'zebra');
    // (with their snippets: the list is final)
    const shown = await waitForResults(p, (r) => r.length === 1 + Object.keys(HOSTILE).length && r.every((x) => /zebra crossing/.test(x.text)), { query: 'zebra' });

    // What the list offers: a link for the safe page only.
    const options = await p.evaluate(() =>
      [...document.querySelector('crossfind-search').shadowRoot.querySelectorAll('[role="option"]')].map((o) => ({
        title: o.querySelector('.cf-title').textContent,
        disabled: o.getAttribute('aria-disabled'),
        hrefs: [o, ...o.querySelectorAll('*')].filter((e) => e.hasAttribute('href')).map((a) => a.getAttribute('href')),
      })),
    );
    for (const o of options) {
      if (o.title === 'Zebra safe page') {
        // the page, opened at its passage (a text fragment quoting the snippet)
        assert.equal(o.hrefs.length, 1, JSON.stringify(o.hrefs));
        assert.equal(o.hrefs[0].split('#:~:text=')[0], `${origin}/safe.html`);
        assert.equal(o.disabled, null);
      } else {
        assert.ok(o.title in HOSTILE, o.title);
        assert.deepEqual(o.hrefs, [], `${o.title} has no link`);
        assert.equal(o.disabled, 'true', `${o.title} is disabled`);
      }
    }

    // The filter bar shows the page's markup as text, and ticking it leaves the page that declares it.
    const bar = await p.evaluate(() => {
      const f = document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-filters');
      return { hidden: f.hidden, legend: f.querySelector('legend')?.textContent, value: f.querySelector('.cf-filter-value')?.textContent, elements: [...f.querySelectorAll('*')].map((e) => e.localName) };
    });
    assert.equal(bar.hidden, false);
    assert.equal(bar.legend, HOSTILE_KEY);
    assert.equal(bar.value, HOSTILE_VALUE);
    assert.ok(!bar.elements.some((n) => n === 'img' || n === 'b'), JSON.stringify(bar.elements));
    await p.locator('crossfind-search .cf-filter-box').check();
    await waitForResults(p, (r) => r.length === 1 && r[0].title === 'Zebra safe page', { query: 'zebra' });
    await p.locator('crossfind-search .cf-filter-box').uncheck();
    await waitForResults(p, (r) => r.length === 1 + Object.keys(HOSTILE).length, { query: 'zebra' });
    await p.locator(W.input).focus();

    // Still an accessible listbox, disabled options included.
    await p.evaluate(AXE);
    const violations = await p.evaluate(async () => (await window.axe.run({ include: [['crossfind-search']] }, { resultTypes: ['violations'] })).violations.map((v) => v.id));
    assert.deepEqual(violations, []);

    // Click each hostile result, Ctrl+click it, and open it with Enter.
    const hostile = shown.map((r, i) => ({ ...r, i })).filter((r) => r.title in HOSTILE);
    assert.equal(hostile.length, Object.keys(HOSTILE).length);
    for (const r of hostile) {
      const option = p.locator(W.options).filter({ has: p.locator('.cf-title', { hasText: new RegExp(`^${r.title}$`) }) });
      r.id = await option.getAttribute('id');
      // (force: Playwright does not click what is aria-disabled; a reader can)
      await option.click({ force: true });
      await option.click({ force: true, modifiers: ['Control'] });
      await option.click({ force: true, button: 'middle' });
      // and the keyboard: move to it, Enter
      await p.locator(W.input).focus();
      for (let k = 0; k <= shown.length && (await p.locator(W.input).getAttribute('aria-activedescendant')) !== r.id; k++) {
        await p.keyboard.press('ArrowDown');
      }
      assert.equal(await p.locator(W.input).getAttribute('aria-activedescendant'), r.id);
      const navigations = [];
      const onRequest = (q) => q.isNavigationRequest() && navigations.push(q.url());
      p.on('request', onRequest);
      await p.keyboard.press('Enter');
      await p.waitForTimeout(300);
      p.off('request', onRequest);
      // a navigation that began but had not committed counts too
      assert.deepEqual(navigations, [], `${r.title}: no navigation began`);
      assert.equal(p.url(), start, `${r.title}: no navigation`);
      assert.equal(await p.evaluate(() => window.__pwned), undefined, `${r.title}: no script ran`);
      assert.equal(await p.evaluate(() => document.querySelector('h1')?.textContent), 'Hostile URLs', `${r.title}: the page is still there`);
      assert.equal(await p.locator(W.dialog).evaluate((d) => d.open), true);
    }
    assert.deepEqual(dialogs, [], 'no alert() ran');
    assert.deepEqual(offSite, [], 'no request left the site');
    assert.equal(pages.length, 1, 'no new tab or window opened');
    // The API tells sites the same.
    const checked = await p.evaluate((urls) => urls.map((u) => window.crossfind.safeHref(u)), Object.values(HOSTILE));
    assert.deepEqual(checked, Object.values(HOSTILE).map(() => null));

    // The safe result opens as before.
    const safe = p.locator(W.options).filter({ has: p.locator('.cf-title', { hasText: /^Zebra safe page$/ }) });
    await Promise.all([p.waitForURL((u) => `${u.origin}${u.pathname}` === `${origin}/safe.html`), safe.click()]);
    assert.equal(await p.evaluate(() => window.__pwned), undefined);
    assert.deepEqual(offSite, []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
  }
});

// ------------------------------------------------------- manifest names

// Serves the demo with manifest.json rewritten by `edit`; returns what the
// reader is told and every request made.
async function withManifest(edit, fn) {
  const server = await serve();
  const origin = new URL(server.url).origin;
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  await context.route(/evil\.example/, (route) => route.abort());
  await context.route('**/crossfind/manifest.json', async (route) => {
    const res = await route.fetch();
    const m = JSON.parse(await res.text());
    edit(m);
    await route.fulfill({ response: res, body: JSON.stringify(m) });
  });
  const p = await context.newPage();
  const errors = watchErrors(p);
  try {
    await p.goto(`${server.url}en/index.html`);
    await fn(p, { origin, requests, errors });
  } finally {
    await context.close();
    await server.close();
  }
}

const noticeOf = (p) =>
  p.waitForFunction(
    () => {
      const n = document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-notice');
      return n && !n.hidden && n.textContent;
    },
    null,
    { timeout: 120000 },
  ).then((h) => h.jsonValue());

for (const [what, edit, bad] of [
  ['a snippets file on another host', (m) => (m.snippet_files[0][0] = 'https://evil.example/x'), 'https://evil.example/x'],
  ['a percent-encoded way out', (m) => (m.snippet_files[0][0] = '%2e%2e/%2e%2e/x'), '%2e%2e/%2e%2e/x'],
  ['a shard on another host', (m) => (m.shards.find((s) => s.kind === 'docs').name = 'https://evil.example/docs.json'), 'https://evil.example/docs.json'],
  ['a model folder outside the bundle', (m) => (m.model.dir = '../../elsewhere'), '../../elsewhere'],
  ['an absolute model folder', (m) => (m.model.dir = '/elsewhere/model'), '/elsewhere/model'],
]) {
  test(`the search worker refuses a manifest naming ${what}`, T, async () => {
    await withManifest(edit, async (p, { origin, requests, errors }) => {
      const err = await p.evaluate(() => window.crossfind.ready().then(() => null, (e) => ({ code: e.code, file: e.file, message: e.message })));
      await p.evaluate(() => window.crossfind.semanticReady().catch(() => {}));
      assert.equal(err?.code, 'corrupt_file', JSON.stringify(err));
      assert.equal(err.file, 'manifest.json');
      assert.ok(err.message.includes(bad), err.message);
      await p.keyboard.press('Control+k');
      assert.equal(await noticeOf(p), 'Search is unavailable: A file of the search index is damaged (manifest.json).');
      // Nothing was fetched for it.
      const strays = requests.filter((u) => /evil\.example|\/snippets\.bin$|\/elsewhere\//.test(u) && !u.startsWith(`${origin}/crossfind/`));
      assert.deepEqual(strays, []);
      assert.deepEqual(errors.filter((e) => !/crossfind: index:/.test(e)), []);
    });
  });
}

// A site of links to the demo's files, with its own precache list
// (offline.json, what the service worker reads).
function siteWithList(edit) {
  const root = mkdtempSync(path.join(tmpdir(), 'cf-names-'));
  for (const n of readdirSync(SITE)) if (n !== 'crossfind') symlinkSync(path.join(SITE, n), path.join(root, n));
  mkdirSync(path.join(root, 'crossfind'));
  for (const n of readdirSync(BUNDLE)) if (n !== 'offline.json') symlinkSync(path.join(BUNDLE, n), path.join(root, 'crossfind', n));
  const list = JSON.parse(readFileSync(path.join(BUNDLE, 'offline.json'), 'utf8'));
  edit(list);
  writeFileSync(path.join(root, 'crossfind', 'offline.json'), JSON.stringify(list));
  writeFileSync(path.join(root, 'secret.json'), '{"secret": true}');
  return root;
}

test('the service worker refuses a precache list naming a file outside the bundle, and says which', T, async () => {
  const bad = '%2e%2e/secret.json';
  const root = siteWithList((l) => l.files.push({ name: bad, bytes: 16, sha256: sha256('{"secret": true}') }));
  const seen = [];
  const server = await serve(root, { log: (line) => seen.push(line) });
  const context = await env.browser.newContext({ serviceWorkers: 'allow' });
  try {
    const p = await context.newPage();
    await p.goto(`${server.url}en/index.html`);
    await p.evaluate(() => window.crossfind.search('password').catch(() => {})); // the copy starts after a search
    let state;
    const start = Date.now();
    do {
      await p.waitForTimeout(500);
      state = await p.evaluate(() => window.crossfind.offline());
    } while (state.state !== 'failed' && state.state !== 'ready' && Date.now() - start < 120000);
    assert.equal(state.state, 'failed', JSON.stringify(state));
    assert.match(state.error, /^offline\.json names the file "%2e%2e\/secret\.json", which is not a plain name inside the bundle folder: it is percent-encoded$/);
    assert.equal(state.version, null);
    assert.deepEqual(seen.filter((l) => /secret/.test(l)), [], 'nothing fetched outside the bundle');
  } finally {
    await context.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
