// The reader's language on a page that does not declare one (no lang on
// <html>): the widget takes it from navigator.languages, the browser's
// language settings, for its own strings and for the version of a page it
// shows first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { demoBrowser, serve, siteCopy, instrument, waitForResults, typeQuery, watchErrors, W } from './harness.mjs';

const T = { timeout: 300000 };
const env = demoBrowser();

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>Help</title></head>
<body>
<header><crossfind-search></crossfind-search></header>
<main><h1>Help</h1><p>A page that says nothing about its language.</p></main>
<script type="module" src="/crossfind/crossfind.js"></script>
</body>
</html>
`;

// [browser locale, reader language, the search box's placeholder in it]
const READERS = [
  ['es-MX', 'es', 'Busca en cualquier idioma…'],
  ['ja-JP', 'ja', 'どの言語でも検索できます…'],
];

test('on a page without lang the reader language comes from navigator.languages', T, async () => {
  const root = siteCopy([], { 't/help.html': PAGE });
  const server = await serve(root);
  try {
    for (const [locale, lang, placeholder] of READERS) {
      const context = await env.browser.newContext({ locale, serviceWorkers: 'block' });
      try {
        await instrument(context);
        const page = await context.newPage();
        const errors = watchErrors(page);
        await page.goto(`${server.url}t/help.html`);
        // the set-up: the page has no language, the browser has one
        assert.equal(await page.evaluate(() => document.documentElement.getAttribute('lang')), null);
        assert.equal(await page.evaluate(() => navigator.languages[0]), locale);
        assert.deepEqual(await page.evaluate(() => window.crossfind.readerLanguages), [lang]);
        // the widget speaks it
        await page.keyboard.press('Control+k');
        await page.locator(W.input).waitFor({ state: 'visible' });
        assert.equal(await page.locator(W.input).getAttribute('placeholder'), placeholder);
        // and an English query about a page that exists in every language
        // shows the reader's version first, the others folded into it
        await typeQuery(page, 'reset password');
        const shown = await waitForResults(page, (r) => r.length > 0, { query: 'reset password' });
        assert.match(shown[0].url, new RegExp(`^/${lang}/reset-password\\.html`), `${locale}: ${JSON.stringify(shown.map((r) => r.url))}`);
        assert.equal(shown[0].lang, lang);
        assert.ok(!shown.some((r) => r.url.startsWith('/en/reset-password')), 'the English version is not listed apart');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
