// The widget on the demo help center, in real Chromium, under the strict CSP
// (default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self';
// style-src 'self'): cross-lingual answers, the reader's language first,
// keyboard-only use, live announcements, and nothing leaving the origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDemo, instrument, launch, serve, watchErrors, W, deepActive, shownResults, waitForResults, typeQuery, waitSemantic } from './harness.mjs';

let browser, context, page, server, errors;
const requests = [];
const T = { timeout: 300000 };

before(async () => {
  await ensureDemo();
  server = await serve(undefined, { csp: true });
  browser = await launch();
  // Service workers off here (offline.test.mjs has them): every request is seen.
  context = await browser.newContext({ serviceWorkers: 'block', locale: 'en-US' });
  context.on('request', (r) => requests.push(r.url()));
  await instrument(context);
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page = await context.newPage();
  errors = watchErrors(page);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a Japanese query finds the Spanish-only article once semantic search is ready', T, async () => {
  await page.goto(`${server.url}ja/index.html`);
  await page.keyboard.press('Control+k');
  await page.locator(W.input).waitFor({ state: 'visible' });
  await waitSemantic(page);
  await typeQuery(page, 'メキシコの電子請求書 CFDI');
  const shown = await waitForResults(page, (r) => r.some((x) => x.url.includes('/es/factura-electronica-cfdi')), { query: 'メキシコの電子請求書 CFDI', semantic: true });
  const i = shown.findIndex((x) => x.url.includes('/es/factura-electronica-cfdi'));
  assert.ok(i < 5, `the Spanish article is result ${i + 1}`);
  assert.equal(shown[i].lang, 'es');
  assert.match(shown[i].text, /ES/);
  // The JS API says the same, with dense scores: the model answered.
  const hits = await page.evaluate(() => window.crossfind.search('メキシコの電子請求書 CFDI', { lang: 'ja', k: 5 }));
  const es = hits.find((h) => h.pageId === '/es/factura-electronica-cfdi');
  assert.ok(es, JSON.stringify(hits.map((h) => h.url)));
  assert.equal(typeof es.dense, 'number');
  assert.equal(es.lang, 'es');
  // Japanese UI strings on a Japanese page.
  assert.equal(await page.locator(W.input).getAttribute('placeholder'), 'どの言語でも検索できます…');
});

test('a Spanish reader gets the Spanish version of a page that exists in Spanish and English', T, async () => {
  await page.goto(`${server.url}es/index.html`);
  await page.keyboard.press('Control+k');
  await typeQuery(page, 'reset password');
  const shown = await waitForResults(page, (r) => r.length > 0, { query: 'reset password' });
  assert.match(shown[0].url, /^\/es\/reset-password\.html/, JSON.stringify(shown.map((r) => r.url)));
  assert.equal(shown[0].lang, 'es');
  assert.ok(!shown.some((r) => r.url.startsWith('/en/reset-password')), 'the English version is not listed separately');
  assert.match(shown[0].text, /También en:.*inglés/);
});

test('a misspelt query is read as the site\'s words, and the reader is told so', T, async () => {
  await page.goto(`${server.url}de/index.html`);
  await page.keyboard.press('Control+k');
  await page.locator(W.input).waitFor({ state: 'visible' });
  await waitSemantic(page);
  // "Passwort vergessen" typed in a hurry
  await typeQuery(page, 'Pasword vergesen');
  const shown = await waitForResults(page, (r) => r.length > 0, { query: 'Pasword vergesen', semantic: true });
  assert.match(shown[0].url, /^\/de\/reset-password\.html/, JSON.stringify(shown.map((r) => r.url)));
  const notice = page.locator('crossfind-search .cf-respelled');
  assert.equal(await notice.isVisible(), true);
  assert.equal(await notice.textContent(), 'Ergebnisse für „password vergessen“');
  // a query typed right shows no such line
  await typeQuery(page, 'Passwort vergessen');
  await waitForResults(page, (r) => r.length > 0, { query: 'Passwort vergessen', semantic: true });
  assert.equal(await notice.isVisible(), false);
});

test('keyboard only: Ctrl+K and / open, arrows move, Esc returns focus, Enter navigates', T, async () => {
  await page.goto(`${server.url}en/index.html`);
  // Focus something on the page first: the opener focus must come back to.
  await page.keyboard.press('Tab');
  const opener = await deepActive(page);
  assert.equal(opener.tag, 'a');

  await page.keyboard.press('Control+k');
  assert.equal((await deepActive(page)).role, 'combobox');
  await page.keyboard.type('invoice');
  const shown = await waitForResults(page, (r) => r.length >= 3, { query: 'invoice' });
  const input = page.locator(W.input);
  assert.equal(await input.getAttribute('aria-expanded'), 'true');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await input.getAttribute('aria-activedescendant'), shown[1].id);
  assert.ok((await shownResults(page))[1].selected);
  await page.keyboard.press('ArrowUp');
  assert.equal(await input.getAttribute('aria-activedescendant'), shown[0].id);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator(W.dialog).evaluate((d) => d.open), false);
  assert.deepEqual(await deepActive(page), opener, 'focus went back to the opener');

  await page.keyboard.press('/');
  assert.equal((await deepActive(page)).role, 'combobox');
  await page.keyboard.press('Control+a');
  await page.keyboard.type('export data');
  const again = await waitForResults(page, (r) => r.length >= 2, { query: 'export data' });
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  const target = new URL(again[1].url, server.url);
  await Promise.all([page.waitForURL((u) => u.pathname === target.pathname), page.keyboard.press('Enter')]);
  // the section's anchor (the text fragment after it is the browser's to consume)
  assert.equal(new URL(page.url()).hash.split(':~:')[0], target.hash);
});

test('results are announced, semantic results merge in without moving the active option', T, async () => {
  // A fresh page: lexical search first, the model arrives while the list is open.
  const p2 = await context.newPage();
  const errs2 = watchErrors(p2);
  // The model's last file waits until the reader has moved in the list.
  let release;
  const gate = new Promise((r) => (release = r));
  // (its gzip form, from this host that compresses nothing: the worker fetches that)
  await p2.route(/\/crossfind\/model\/encoder\.bin(\.gz)?$/, async (route) => {
    await gate;
    await route.continue();
  });
  await p2.goto(`${server.url}en/index.html`);
  await p2.evaluate(() => window.crossfind.ready());
  await p2.keyboard.press('Control+k');
  await p2.keyboard.type('two factor recovery codes');
  const first = await waitForResults(p2, (r) => r.length >= 3, { query: 'two factor recovery codes' });
  const live = p2.locator(W.live);
  await p2.waitForFunction((sel) => /\d+ results?/.test(document.querySelector('crossfind-search').shadowRoot.querySelector('[role="status"]').textContent), W.live);
  assert.match(await live.textContent(), /^\d+ results?/);
  // The progress bar shows real bytes while the model loads.
  await p2.waitForFunction(() => window.crossfind.status.loaded > 0);
  assert.equal(await p2.evaluate(() => window.crossfind.status.semantic), 'loading');
  assert.match(await p2.locator(W.progress).textContent(), /Downloading multilingual search: [\d.]+ of [\d.]+ MB/);
  const bar = await p2.locator(`${W.progress} progress`).evaluate((b) => [b.value, b.max]);
  assert.ok(bar[0] > 0 && bar[0] < bar[1], `progress ${bar}`);
  await p2.keyboard.press('ArrowDown');
  await p2.keyboard.press('ArrowDown');
  const active = (await shownResults(p2))[1];
  assert.ok(active.selected);
  release();
  await waitSemantic(p2);
  const after = await waitForResults(p2, (r) => r.length >= 2, { query: 'two factor recovery codes', semantic: true });
  await p2.waitForFunction(() => /other languages/.test(document.querySelector('crossfind-search').shadowRoot.querySelector('[role="status"]').textContent), null, { timeout: 10000 });
  assert.equal(after[1].url, active.url, 'the active option stayed where it was');
  assert.ok(after[1].selected);
  assert.equal(after[0].url, first[0].url, 'what is above it stayed too');
  assert.match(await live.textContent(), /other languages/);
  assert.deepEqual(errs2, []);
  await p2.close();
});

test('under the strict CSP nothing is blocked and every request stays on the origin', T, async () => {
  const res = await page.goto(`${server.url}en/index.html`);
  assert.match(res.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
  await page.evaluate(() => window.crossfind.semanticReady());
  const hits = await page.evaluate(() => window.crossfind.search('how do I change my password'));
  assert.ok(hits.length > 0);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
  const origin = new URL(server.url).origin;
  const foreign = requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, []);
  assert.ok(requests.some((u) => /\/crossfind\/model\/encoder\.bin(\.gz)?$/.test(u)), 'the model came from the site itself (its gzip form, from this host)');
  assert.deepEqual(errors, []);
});

test('events: ready, semantic-ready, search, results, zero-results, result-click', T, async () => {
  const p = await context.newPage();
  const errs = watchErrors(p);
  await p.addInitScript(() => {
    window.__events = [];
    for (const name of ['ready', 'semantic-ready', 'search', 'results', 'zero-results', 'result-click']) {
      document.addEventListener(name, (e) => {
        window.__events.push({ name, query: e.detail?.query, queryLang: e.detail?.queryLang, n: e.detail?.results?.length, url: e.detail?.result?.url });
        if (name === 'result-click') e.preventDefault(); // the page takes over navigation
      });
    }
  });
  // Nearest neighbours always exist: zero results is a keyword-only answer, so
  // the model waits until that is seen.
  let release;
  const gate = new Promise((r) => (release = r));
  await p.route(/\/crossfind\/model\/encoder\.bin(\.gz)?$/, async (route) => {
    await gate;
    await route.continue();
  });
  await p.goto(`${server.url}en/index.html`);
  await p.evaluate(() => window.crossfind.ready());
  await p.keyboard.press('Control+k');
  await typeQuery(p, 'qqxzzvw');
  await p.waitForFunction(() => window.__events.some((e) => e.name === 'zero-results' && e.query === 'qqxzzvw'));
  assert.equal(await p.locator('crossfind-search .cf-empty').textContent(), 'No results for “qqxzzvw”');
  await p.waitForFunction(() => /No results/.test(document.querySelector('crossfind-search').shadowRoot.querySelector('[role="status"]').textContent));
  release();
  await p.evaluate(() => window.crossfind.semanticReady());
  await typeQuery(p, 'webhook signature');
  await waitForResults(p, (r) => r.length > 0, { query: 'webhook signature', semantic: true });
  const before = p.url();
  await p.keyboard.press('Enter');
  await p.waitForFunction(() => window.__events.some((e) => e.name === 'result-click'));
  assert.equal(p.url(), before, 'a cancelled result-click does not navigate');
  const names = await p.evaluate(() => window.__events.map((e) => e.name));
  for (const n of ['ready', 'semantic-ready', 'search', 'results', 'zero-results', 'result-click']) assert.ok(names.includes(n), `${n} in ${names}`);
  assert.ok(names.indexOf('ready') < names.indexOf('semantic-ready'));
  const click = await p.evaluate(() => window.__events.find((e) => e.name === 'result-click'));
  assert.match(click.url, /webhook/);
  // results events say which language the reader searched in (for the
  // site's own analytics), and null when the text cannot tell
  const langOf = (q) => p.evaluate((q) => window.__events.find((e) => e.name === 'results' && e.query === q)?.queryLang, q);
  assert.equal(await langOf('webhook signature'), null, 'two words cannot tell English from the jargon of any language');
  assert.equal(
    await p.evaluate(() => window.__events.find((e) => e.name === 'zero-results' && e.query === 'qqxzzvw').queryLang),
    null,
  );
  await typeQuery(p, 'how do I get my money back for the yearly plan');
  await waitForResults(p, (r) => r.length > 0, { query: 'how do I get my money back for the yearly plan', semantic: true });
  assert.equal(await langOf('how do I get my money back for the yearly plan'), 'en');
  await typeQuery(p, 'パスワードを忘れました');
  await waitForResults(p, (r) => r.length > 0, { query: 'パスワードを忘れました', semantic: true });
  assert.equal(await langOf('パスワードを忘れました'), 'ja');
  await typeQuery(p, '¿cómo cambio la contraseña de mi cuenta?');
  await waitForResults(p, (r) => r.length > 0, { query: '¿cómo cambio la contraseña de mi cuenta?', semantic: true });
  assert.equal(await langOf('¿cómo cambio la contraseña de mi cuenta?'), 'es');
  assert.deepEqual(errs, []);
  await p.close();
});

test('results are real links: Ctrl+click and middle-click open new tabs, the keyboard works as before', T, async () => {
  const p = await context.newPage();
  const errs = watchErrors(p);
  await p.addInitScript(() => {
    window.__clicks = [];
    document.addEventListener('result-click', (e) => window.__clicks.push({ href: e.detail.href, newTab: e.detail.newTab, index: e.detail.index }));
  });
  const start = `${server.url}en/index.html`;
  await p.goto(start);
  await p.evaluate(() => window.crossfind.ready());
  await p.keyboard.press('Control+k');
  await typeQuery(p, 'invoice');
  const shown = await waitForResults(p, (r) => r.length >= 3, { query: 'invoice' });
  // Each option is a link to its result (<a href role="option">), out of the
  // tab order, filling its row of the list; nothing else in it is a link.
  const links = await p.evaluate(() =>
    [...document.querySelector('crossfind-search').shadowRoot.querySelectorAll('[role="option"]')].map((o) => {
      const box = (el) => el.getBoundingClientRect();
      return {
        tag: o.tagName.toLowerCase(),
        href: o.href,
        tabindex: o.getAttribute('tabindex'),
        inner: o.querySelectorAll('[href]').length,
        row: o.parentElement.getAttribute('role'),
        fills: box(o).width >= box(o.parentElement).width - 1 && box(o).height >= box(o.parentElement).height - 1,
      };
    }),
  );
  assert.equal(links.length, shown.length);
  links.forEach((l, i) => {
    assert.equal(l.tag, 'a', JSON.stringify(l));
    // the result's section, opened at its passage (a text fragment, when it has a snippet)
    assert.equal(l.href.split(':~:')[0].replace(/#$/, ''), new URL(shown[i].url, server.url).href);
    assert.equal(l.tabindex, '-1');
    assert.equal(l.inner, 0);
    assert.equal(l.row, 'none');
    assert.ok(l.fills, `link ${i} fills its row`);
  });

  // Ctrl+click: a new tab at the result, this page stays as it was.
  const [tab] = await Promise.all([context.waitForEvent('page'), p.locator(W.options).nth(1).click({ modifiers: ['Control'] })]);
  await tab.waitForLoadState('domcontentloaded');
  const noDirective = (u) => u.split(':~:')[0].replace(/#$/, '');
  assert.equal(noDirective(tab.url()), noDirective(links[1].href));
  await tab.close();
  assert.equal(p.url(), start);
  assert.equal(await p.locator(W.dialog).evaluate((d) => d.open), true);
  assert.equal((await deepActive(p)).role, 'combobox', 'focus stays in the search box');
  // Middle click: the same.
  const [tab2] = await Promise.all([context.waitForEvent('page'), p.locator(W.options).nth(2).click({ button: 'middle' })]);
  await tab2.waitForLoadState('domcontentloaded');
  assert.equal(noDirective(tab2.url()), noDirective(links[2].href));
  await tab2.close();
  assert.equal(p.url(), start);
  const clicks = await p.evaluate(() => window.__clicks);
  assert.deepEqual(
    clicks.map((c) => [c.href, c.newTab]),
    [
      [links[1].href, true],
      [links[2].href, true],
    ],
  );
  // `index` is the page's rank: a sub-result shares its page's
  assert.ok(clicks[0].index <= 1 && clicks[1].index <= 2 && clicks[0].index <= clicks[1].index, JSON.stringify(clicks));

  // The keyboard as before: arrows move the active option, Enter opens it here.
  const input = p.locator(W.input);
  await input.focus();
  await p.keyboard.press('ArrowUp');
  const active = await input.getAttribute('aria-activedescendant');
  const i = shown.findIndex((r) => r.id === active);
  assert.ok(i >= 0, active);
  await p.keyboard.press('ArrowDown');
  const next = (i + 1) % shown.length;
  assert.equal(await input.getAttribute('aria-activedescendant'), shown[next].id);
  await Promise.all([p.waitForURL((u) => noDirective(u.href) === noDirective(links[next].href)), p.keyboard.press('Enter')]);
  assert.deepEqual(errs, []);
  await p.close();
});

test('a page with several matching sections is shown once, its other sections beneath, each opening at its passage', T, async () => {
  const p = await context.newPage();
  const errs = watchErrors(p);
  await p.setViewportSize({ width: 800, height: 360 }); // the passage is below the first screen
  await p.goto(`${server.url}en/index.html`);
  await p.evaluate(() => window.crossfind.ready());
  await p.keyboard.press('Control+k');
  await typeQuery(p, 'webhook signature');
  await waitForResults(p, (r) => r.length >= 3, { query: 'webhook signature' });
  const opts = await p.evaluate(() =>
    [...document.querySelector('crossfind-search').shadowRoot.querySelectorAll('[role="option"]')].map((o) => ({
      id: o.id,
      sub: o.classList.contains('cf-sub-option'),
      href: o.getAttribute('href'),
      url: o.dataset.url,
      title: o.querySelector('.cf-title')?.textContent || null,
      heading: o.querySelector('.cf-section')?.textContent || null,
      snippet: o.querySelector('.cf-snippet')?.textContent || null,
      name: o.textContent,
    })),
  );
  const page = (u) => u.split('#')[0];
  // the signatures page leads, once, with other sections of it beneath
  assert.equal(page(opts[0].url), '/en/webhook-signatures.html', JSON.stringify(opts.map((o) => o.url)));
  assert.equal(opts[0].sub, false);
  const subs = [];
  for (const o of opts.slice(1)) {
    if (!o.sub) break;
    subs.push(o);
  }
  assert.ok(subs.length >= 1, JSON.stringify(opts.map((o) => [o.url, o.sub])));
  const titles = opts.filter((o) => !o.sub).map((o) => page(o.url));
  assert.equal(new Set(titles).size, titles.length, 'each page is listed once');
  for (const s of subs) {
    assert.equal(page(s.url), '/en/webhook-signatures.html');
    assert.notEqual(s.url, opts[0].url, 'a sub-result is another section');
    assert.equal(s.title, null, 'a sub-result shows its section, not the title again');
    assert.ok(s.heading, JSON.stringify(s));
    assert.ok(s.name.startsWith(`${opts[0].title}: `), `a screen reader hears the page first: ${s.name}`);
  }
  // each link carries its passage: the start of the snippet it shows
  for (const o of [opts[0], ...subs]) {
    const [, quote] = o.href.split(':~:text=');
    assert.ok(quote, o.href);
    assert.ok(o.snippet.replace(/\s+/g, ' ').startsWith(decodeURIComponent(quote)), `${decodeURIComponent(quote)} | ${o.snippet}`);
  }
  // choosing the second sub-result (keyboard) opens the page at that passage
  const target = subs[subs.length - 1];
  const input = p.locator(W.input);
  const idx = opts.findIndex((o) => o.id === target.id);
  for (let i = 0; i <= idx; i++) await p.keyboard.press('ArrowDown');
  assert.equal(await input.getAttribute('aria-activedescendant'), target.id);
  await Promise.all([p.waitForURL((u) => u.pathname === '/en/webhook-signatures.html'), p.keyboard.press('Enter')]);
  await p.waitForLoadState('load');
  const quote = decodeURIComponent(target.href.split(':~:text=')[1]);
  // the passage is on screen: the browser scrolled to the quoted text
  const onScreen = await p.waitForFunction(
    (q) => {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      const words = q.split(' ').slice(0, 3).join(' ');
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (el && el.closest('p,li,h2,h3,td,pre') && el.closest('p,li,h2,h3,td,pre').textContent.replace(/\s+/g, ' ').includes(words)) {
          const r = el.getBoundingClientRect();
          return r.top >= 0 && r.bottom <= window.innerHeight ? { top: r.top, scrolled: window.scrollY, below: r.top + window.scrollY > window.innerHeight } : null;
        }
      }
      return null;
    },
    quote,
    { timeout: 10000 },
  );
  const where = await onScreen.jsonValue();
  assert.ok(where.below && where.scrolled > 0, `the passage was below the first screen and the page scrolled to it: ${JSON.stringify(where)}`);
  assert.deepEqual(errs, []);
  await p.close();
});
