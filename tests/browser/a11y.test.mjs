// axe-core on the open search UI, with results, on an English page and on a
// page in each right-to-left language the widget has strings for: Arabic (a
// page of the demo help center), Persian, Hebrew and Urdu (pages served by
// the test, with the demo's widget and bundle). Each is checked closed and
// open with results; in each the dialog is right to left and mirrored, its
// strings are that language's, and the result count is announced in its
// plural form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BUNDLE, ensureDemo, instrument, launch, serve, watchErrors, W, waitForResults, typeQuery } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const T = { timeout: 300000 };
let browser, context, server;

// A help page in `lang` that is not part of the demo: the widget in the
// header, the bundle's script, as a site would have it.
const RTL_PAGES = {
  fa: { title: 'مرکز راهنمای Kitebook', h1: 'ساخت توکن API', p: 'برای اتصال برنامه‌ها به Kitebook یک توکن API بسازید.' },
  he: { title: 'מרכז העזרה של Kitebook', h1: 'יצירת טוקן API', p: 'כדי לחבר יישומים ל־Kitebook, צרו טוקן API.' },
  ur: { title: 'Kitebook ہیلپ سینٹر', h1: 'API ٹوکن بنائیں', p: 'ایپس کو Kitebook سے جوڑنے کے لیے API ٹوکن بنائیں۔' },
};
const pageHtml = (lang, { title, h1, p }) => `<!doctype html>
<html lang="${lang}" dir="rtl">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<link rel="stylesheet" href="/assets/site.css"></head>
<body>
<header class="site-header"><div class="bar"><a class="brand" href="/${lang}/index.html">${title}</a><crossfind-search></crossfind-search></div></header>
<main><h1>${h1}</h1><p>${p}</p></main>
<script type="module" src="/crossfind/crossfind.js"></script>
</body>
</html>
`;

before(async () => {
  await ensureDemo();
  server = await serve();
  browser = await launch();
  context = await browser.newContext({ serviceWorkers: 'block' });
  await instrument(context);
  for (const [lang, page] of Object.entries(RTL_PAGES)) {
    await context.route(`${server.url}${lang}/index.html`, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: pageHtml(lang, page) }));
  }
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// Violations inside the widget (its shadow tree included), open with results.
async function axeWidget(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run({ include: [['crossfind-search']] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' > ')).slice(0, 5) }));
  });
}

// Waits until the live region announces the number of results (pages) shown
// in `lang`'s plural form: forms[Intl.PluralRules(lang).select(n)], n written
// by Intl.NumberFormat(lang), as Chromium has them.
async function expectAnnounced(page, lang, forms, timeout = 30000) {
  const start = Date.now();
  let last = null;
  while (Date.now() - start < timeout) {
    last = await page.evaluate(
      ([l, f]) => {
        const root = document.querySelector('crossfind-search').shadowRoot;
        // results are pages; a page's other sections (sub-results) are options too
        const n = root.querySelectorAll('[role="option"]:not(.cf-sub-option)').length;
        const want = f[new Intl.PluralRules(l).select(n)].replace('{n}', new Intl.NumberFormat(l).format(n));
        return { n, want, live: root.querySelector('[role="status"]').textContent };
      },
      [lang, forms],
    );
    if (last.n > 0 && last.live.startsWith(last.want)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${lang}: announced ${JSON.stringify(last.live)} for ${last.n} results, not ${JSON.stringify(last.want)}`);
}

// What the reader sees of the widget's strings, in each language: the
// placeholder and the button, written out here.
const SHOWN = {
  ar: { placeholder: 'ابحث بأي لغة…', button: 'بحث' },
  fa: { placeholder: 'به هر زبانی جستجو کنید…', button: 'جستجو' },
  he: { placeholder: 'אפשר לחפש בכל שפה…', button: 'חיפוש' },
  ur: { placeholder: 'کسی بھی زبان میں تلاش کریں…', button: 'تلاش' },
};

for (const [name, lang, query] of [
  ['English', 'en', 'change my billing email'],
  ['Arabic (RTL)', 'ar', 'إعادة تعيين كلمة المرور'],
  // readers who type the product's own words in Latin letters
  ['Persian (RTL)', 'fa', 'توکن API'],
  ['Hebrew (RTL)', 'he', 'טוקן API'],
  ['Urdu (RTL)', 'ur', 'API ٹوکن'],
]) {
  test(`axe finds no violations in the open search UI on a page in ${name}`, T, async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}${lang}/index.html`);
    await page.evaluate(() => window.crossfind.ready());
    // Closed: the button alone.
    assert.deepEqual(await axeWidget(page), []);
    await page.keyboard.press('Control+k');
    await typeQuery(page, query);
    await waitForResults(page, (r) => r.length >= 2, { query });
    await page.keyboard.press('ArrowDown');
    const violations = await axeWidget(page);
    assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
    assert.equal(await page.evaluate(() => window.crossfind.uiLanguage), lang);
    assert.equal(await page.locator(W.dialog).getAttribute('lang'), lang);
    if (lang !== 'en') {
      const dir = await page.locator(W.dialog).evaluate((d) => getComputedStyle(d).direction);
      assert.equal(dir, 'rtl');
      assert.equal(await page.locator(W.dialog).getAttribute('dir'), 'rtl');
      assert.equal(await page.locator(W.trigger).getAttribute('dir'), 'rtl');
      // Mirrored: the search icon sits at the right of the input.
      const [icon, input] = await page.evaluate(() => {
        const root = document.querySelector('crossfind-search').shadowRoot;
        return [root.querySelector('.cf-bar .cf-icon').getBoundingClientRect().x, root.querySelector('.cf-input').getBoundingClientRect().x];
      });
      assert.ok(icon > input, `icon at ${icon}, input at ${input}`);
      assert.equal(await page.locator(W.input).getAttribute('placeholder'), SHOWN[lang].placeholder);
      assert.equal((await page.locator(`${W.trigger} .cf-trigger-label`).textContent()).trim(), SHOWN[lang].button);
    }
    // The count is announced in this language's plural form for the number
    // of results shown, with its digits (Intl in Chromium picks both).
    const forms = JSON.parse(readFileSync(path.join(BUNDLE, 'i18n', `${lang}.json`), 'utf8')).results;
    await expectAnnounced(page, lang, forms);
    assert.deepEqual(errors, []);
    await page.close();
  });
}
