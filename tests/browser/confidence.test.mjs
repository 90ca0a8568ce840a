// Quality in production, per language (issue 20, item 7): the widget's
// `results` and `zero-results` events tell the site, for its own analytics,
// the language a query was written in, whether it found nothing, and
// whether what it found is weak (lowConfidence: the site most likely has no
// page about it). Under the strict CSP, with nothing sent anywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDemo, instrument, launch, serve, watchErrors, waitForResults, typeQuery, W } from './harness.mjs';

let browser, context, server;
const requests = [];
const T = { timeout: 300000 };

before(async () => {
  await ensureDemo();
  server = await serve(undefined, { csp: true });
  browser = await launch();
  context = await browser.newContext({ serviceWorkers: 'block', locale: 'en-US' });
  context.on('request', (r) => requests.push(r.url()));
  await instrument(context);
  await context.addInitScript(() => {
    window.__events = [];
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    for (const name of ['results', 'zero-results']) {
      document.addEventListener(name, (e) => {
        const d = e.detail || {};
        window.__events.push({ name, query: d.query, lang: d.lang, queryLang: d.queryLang, lowConfidence: d.lowConfidence, confidence: d.confidence, n: d.results?.length ?? 0, semantic: d.semantic, source: d.source });
      });
    }
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const lastEvent = (page, query, name = 'results') =>
  page.evaluate(([q, n]) => window.__events.filter((e) => e.query === q && e.name === n && e.source !== 'api').at(-1), [query, name]);

// Questions the demo help center (a note-taking app's) has no page for,
// none of them among the model pack's sample questions, and questions it answers.
const OFF_TOPIC = [
  ['what is the capital of Australia', 'en'],
  ['receta de tortilla de patatas con cebolla', 'es'],
  ['où est-ce que je peux acheter des billets pour le concert', 'fr'],
  ['wann fährt der letzte Zug nach Hamburg', 'de'],
];
const ON_TOPIC = [
  ['how can I change the password of my account', 'en'],
  ['¿cómo puedo descargar la factura de mi suscripción?', 'es'],
  ['comment est-ce que je peux exporter les données de mon compte', 'fr'],
  ['wie kann ich mein Konto und alle meine Daten löschen', 'de'],
];

test('an off-topic question is flagged low-confidence in its language, an answered one is not', T, async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}en/index.html`);
  await page.evaluate(() => window.crossfind.semanticReady());
  await page.keyboard.press('Control+k');
  await page.locator(W.input).waitFor({ state: 'visible' });
  for (const [query, lang] of OFF_TOPIC.concat(ON_TOPIC)) {
    await typeQuery(page, query);
    await waitForResults(page, (r) => r.length > 0, { query, semantic: true });
  }
  for (const [query, lang] of OFF_TOPIC) {
    const e = await lastEvent(page, query);
    assert.equal(e.name, 'results', query);
    assert.equal(e.semantic, true);
    assert.ok(e.n > 0, 'nearest neighbours are still shown');
    assert.equal(e.queryLang, lang, query);
    assert.equal(e.lowConfidence, true, `${query}: ${JSON.stringify(e.confidence)}`);
    assert.ok(e.confidence.score < e.confidence.level, JSON.stringify(e.confidence));
    assert.equal(e.confidence.levelLang, lang, 'judged by its own language\'s level');
  }
  for (const [query, lang] of ON_TOPIC) {
    const e = await lastEvent(page, query);
    assert.equal(e.queryLang, lang, query);
    assert.equal(e.lowConfidence, false, `${query}: ${JSON.stringify(e.confidence)}`);
    assert.ok(e.confidence.score >= e.confidence.level);
  }
  // the JS API's events say the same
  const q = OFF_TOPIC[0][0];
  await page.evaluate((q) => window.crossfind.search(q), q);
  const api = await page.evaluate((q) => window.__events.filter((e) => e.query === q && e.source === 'api').at(-1), q);
  assert.equal(api.lowConfidence, true);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
  const origin = new URL(server.url).origin;
  assert.deepEqual(requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')), [], 'nothing leaves the site');
  assert.deepEqual(errors, []);
  await page.close();
});

test('zero results and keyword-only answers carry no confidence verdict', T, async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  // the model never arrives: every answer is by keywords
  // (its gzip form too: from this host, which compresses nothing, the worker fetches that)
  await page.route(/\/crossfind\/model\/encoder\.bin(\.gz)?$/, (route) => route.abort());
  await page.goto(`${server.url}en/index.html`);
  await page.evaluate(() => window.crossfind.ready());
  await page.keyboard.press('Control+k');
  await typeQuery(page, 'qqxzzvw');
  await page.waitForFunction(() => window.__events.some((e) => e.name === 'zero-results' && e.query === 'qqxzzvw'));
  const zero = await lastEvent(page, 'qqxzzvw', 'zero-results');
  assert.equal(zero.n, 0);
  assert.equal(zero.lowConfidence, null, 'not judged: no semantic answer');
  assert.equal(zero.queryLang, null);
  await typeQuery(page, 'invoice');
  await waitForResults(page, (r) => r.length > 0, { query: 'invoice' });
  const lexical = await lastEvent(page, 'invoice');
  assert.equal(lexical.semantic, false);
  assert.equal(lexical.lowConfidence, null);
  assert.deepEqual(errors.filter((e) => !/encoder\.bin|net::ERR_FAILED/.test(e)), []);
  await page.close();
});
