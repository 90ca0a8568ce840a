// The widget's strings in Chromium: plural forms as Chromium's Intl has
// them, the UI language from full tags (zh-TW reads Traditional Chinese), and
// a site's own strings (<crossfind-search strings='{...}'>): over the shipped
// ones of the page's language, as a language crossfind does not ship, right
// to left, changed by a script later, and refused key by key when wrong.
// Pages other than the demo's are served by the test, with the demo's
// bundle, all under the strict Content-Security-Policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { STRICT_CSP } from '../../www/serve.mjs';
import { ROOT, BUNDLE, ensureDemo, instrument, launch, serve, watchErrors, W, waitForResults, typeQuery } from './harness.mjs';

const T = { timeout: 300000 };
const EN = JSON.parse(readFileSync(path.join(BUNDLE, 'i18n/en.json'), 'utf8'));
const STRINGS_MODULE = readFileSync(path.join(ROOT, 'www/src/strings.mjs'), 'utf8');
let browser, server;

before(async () => {
  await ensureDemo();
  server = await serve(undefined, { csp: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const attr = (s) => s.replace(/&/g, '&amp;').replace(/'/g, '&#39;');

// A help page at /t/<name>.html: `lang` on <html> (none when null), the
// widget with `strings` (an object, or raw attribute text) when given.
function pageHtml({ lang = 'en', dir = null, strings = null }) {
  const s = strings === null ? '' : ` strings='${attr(typeof strings === 'string' ? strings : JSON.stringify(strings))}'`;
  return `<!doctype html>
<html${lang ? ` lang="${lang}"` : ''}${dir ? ` dir="${dir}"` : ''}>
<head><meta charset="utf-8"><title>Kitebook</title><link rel="stylesheet" href="/assets/site.css"></head>
<body>
<header class="site-header"><div class="bar"><crossfind-search${s}></crossfind-search></div></header>
<main><h1>Kitebook</h1></main>
<script type="module" src="/crossfind/crossfind.js"></script>
</body>
</html>
`;
}

// A browser context whose reader prefers `locale` (or the list `languages`,
// best first), serving `pages` ({name: pageHtml options}) and
// www/src/strings.mjs at /t/strings.mjs.
async function readerContext(locale, pages = {}, languages = null) {
  const context = await browser.newContext({ serviceWorkers: 'block', locale });
  await instrument(context);
  if (languages) {
    await context.addInitScript((l) => Object.defineProperty(Navigator.prototype, 'languages', { get: () => l }), languages);
  }
  for (const [name, opts] of Object.entries(pages)) {
    // under the strict CSP, as the server sends it: the attribute needs no script of the site's
    await context.route(`${server.url}t/${name}.html`, (route) =>
      route.fulfill({ contentType: 'text/html; charset=utf-8', headers: { 'Content-Security-Policy': STRICT_CSP }, body: pageHtml(opts) }),
    );
  }
  await context.route(`${server.url}t/strings.mjs`, (route) => route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: STRINGS_MODULE }));
  return context;
}

// Opens /t/<name>.html; resolves with the page, its errors (a CSP refusal
// is a console error) and the widget's console warnings.
async function visit(context, name) {
  const page = await context.newPage();
  const errors = watchErrors(page);
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.goto(`${server.url}t/${name}.html`);
  await page.evaluate(() => window.crossfind.ready());
  return { page, errors, warnings };
}

// What the widget shows of its strings.
function shown(page) {
  return page.evaluate(() => {
    const host = document.querySelector('crossfind-search');
    const root = host.shadowRoot;
    return {
      ui: window.crossfind.uiLanguage,
      button: root.querySelector('.cf-trigger-label').textContent,
      placeholder: root.querySelector('.cf-input').getAttribute('placeholder'),
      hint: root.querySelector('.cf-hint').textContent,
      lang: root.querySelector('dialog').getAttribute('lang'),
      dir: root.querySelector('dialog').getAttribute('dir'),
      direction: getComputedStyle(root.querySelector('dialog')).direction,
    };
  });
}

async function searchAndListen(page, query) {
  await page.keyboard.press('Control+k');
  await typeQuery(page, query);
  const results = await waitForResults(page, (r) => r.length >= 2, { query });
  await page.waitForFunction(() => document.querySelector('crossfind-search').shadowRoot.querySelector('[role="status"]').textContent !== '', null, { timeout: 10000 });
  // the count announced is of pages, not of their sub-results
  return { n: results.filter((r) => !r.sub).length, live: await page.locator(W.live).textContent() };
}

test("plural forms as Chromium's Intl.PluralRules picks them, in every shipped table", T, async () => {
  const context = await readerContext('en-US', { blank: {} });
  const { page, errors } = await visit(context, 'blank');
  const got = await page.evaluate(async () => {
    const m = await import('/t/strings.mjs');
    const load = async (l) => (await fetch(`/crossfind/i18n/${l}.json`)).json();
    const en = await load('en');
    const problems = {};
    const tables = {};
    for (const l of m.UI_LANGS) {
      tables[l] = await load(l);
      const p = m.checkTable(l, tables[l], en).map((x) => x.message);
      if (p.length) problems[l] = p;
    }
    const say = (l, n) => m.format(l, [tables[l]], 'results', { n });
    const forms = {};
    for (const [l, ns] of Object.entries({ ru: [1, 3, 5, 11, 21, 22, 25], uk: [1, 2, 5, 21], pl: [1, 2, 5, 22], ar: [0, 1, 2, 3, 11, 100, 102], he: [1, 2, 3], ro: [1, 2, 20] })) {
      forms[l] = Object.fromEntries(ns.map((n) => [n, say(l, n)]));
    }
    return { problems, forms, shipped: m.UI_LANGS.length };
  });
  // Chromium knows every shipped language with the categories its table has.
  assert.deepEqual(got.problems, {});
  assert.ok(got.shipped >= 30);
  assert.deepEqual(got.forms, {
    ru: { 1: '1 результат', 3: '3 результата', 5: '5 результатов', 11: '11 результатов', 21: '21 результат', 22: '22 результата', 25: '25 результатов' },
    uk: { 1: '1 результат', 2: '2 результати', 5: '5 результатів', 21: '21 результат' },
    pl: { 1: '1 wynik', 2: '2 wyniki', 5: '5 wyników', 22: '22 wyniki' },
    ar: { 0: 'لا توجد نتائج', 1: 'نتيجة واحدة', 2: 'نتيجتان', 3: '3 نتائج', 11: '11 نتيجة', 100: '100 نتيجة', 102: '102 نتيجة' },
    he: { 1: 'תוצאה אחת', 2: 'שתי תוצאות', 3: '3 תוצאות' },
    ro: { 1: '1 rezultat', 2: '2 rezultate', 20: '20 de rezultate' },
  });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the UI language comes from full tags: zh-TW reads Traditional Chinese, zh-CN Simplified', T, async () => {
  for (const [locale, ui, placeholder, button] of [
    ['zh-TW', 'zh-Hant', '可用任何語言搜尋…', '搜尋'],
    ['zh-HK', 'zh-Hant', '可用任何語言搜尋…', '搜尋'],
    ['zh-CN', 'zh', '可用任何语言搜索…', '搜索'],
    ['pt-BR', 'pt', 'Pesquise em qualquer idioma…', 'Pesquisar'],
  ]) {
    // a page that does not say its language: the browser's decides
    const context = await readerContext(locale, { nolang: { lang: null } });
    const { page, errors } = await visit(context, 'nolang');
    await page.waitForFunction((l) => window.crossfind.uiLanguage === l, ui, { timeout: 10000 });
    const s = await shown(page);
    assert.equal(s.placeholder, placeholder, locale);
    assert.equal(s.button, button, locale);
    assert.equal(s.lang, ui, locale);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("a site's strings replace the shipped ones of the page's language, key by key", T, async () => {
  const context = await readerContext('en-US', {
    en: { lang: 'en', strings: { placeholder: 'Search the Kitebook docs…', button: 'Search docs', results: { one: '{n} article', other: '{n} articles' }, placholder: 'a typo', dialogTitle: 'Search {site}' } },
    de: { lang: 'de', strings: { placeholder: 'Kitebook-Hilfe durchsuchen…' } },
  });
  let { page, errors, warnings } = await visit(context, 'en');
  let s = await shown(page);
  assert.equal(s.placeholder, 'Search the Kitebook docs…');
  assert.equal(s.button, 'Search docs');
  assert.equal(s.hint, EN.hint, 'keys the site does not give stay as shipped');
  const { n, live } = await searchAndListen(page, 'invoice');
  assert.ok(live.startsWith(`${n} article${n === 1 ? '' : 's'}`), live);
  // The bad keys are named in the console and left out; nothing is thrown.
  assert.ok(warnings.some((w) => w.includes('placholder: not a string crossfind shows')), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes('dialogTitle: placeholders {site}, English has none')), warnings.join('\n'));
  assert.equal(await page.locator(`${W.dialog} h2`).textContent(), EN.dialogTitle);
  assert.deepEqual(errors, []);
  await page.close();

  // On a German page the site's strings are German, over the German table.
  ({ page, errors } = await visit(context, 'de'));
  await page.waitForFunction(() => window.crossfind.uiLanguage === 'de');
  s = await shown(page);
  assert.equal(s.placeholder, 'Kitebook-Hilfe durchsuchen…');
  assert.equal(s.button, 'Suchen');
  assert.equal(s.hint, '↑ ↓ zum Wechseln · Eingabe zum Öffnen · Esc zum Schließen');
  assert.deepEqual(errors, []);
  await context.close();
});

// Catalan, which crossfind does not ship, as a site would give it. When
// en.json gains a key, this table needs it too (the test says which).
const CA = {
  button: 'Cerca',
  dialogTitle: 'Cerca al centre d’ajuda',
  inputLabel: 'Text de la cerca',
  placeholder: 'Cerca en qualsevol llengua…',
  close: 'Esc',
  resultsLabel: 'Resultats',
  filtersLabel: 'Filtra els resultats',
  filterPages: { one: '{n} pàgina', many: '{n} de pàgines', other: '{n} pàgines' },
  hint: '↑ ↓ per moure’t · Retorn per obrir · Esc per tancar',
  results: { one: '{n} resultat', many: '{n} de resultats', other: '{n} resultats' },
  noResults: 'No hi ha resultats per a «{q}»',
  respelled: 'Resultats per a «{q}»',
  loading: 'S’està carregant l’índex de cerca…',
  semanticReady: 'La cerca multilingüe ja està a punt.',
  semanticMerged: '{count}, ara també amb coincidències en altres llengües.',
  modelStarting: 'S’està preparant la cerca multilingüe…',
  modelLoading: 'S’està baixant la cerca multilingüe: {loaded} de {total} MB',
  modelBuilding: 'S’està iniciant la cerca multilingüe…',
  alsoIn: 'També en:',
  matchedIn: 'Coincidència en {lang}',
  errorUnavailable: 'La cerca no està disponible: {reason}',
  errorUnavailableShort: 'La cerca no està disponible.',
  errorLexicalOnly: 'Part de l’índex de cerca està malmesa; només funciona la cerca per paraules clau. {reason}',
  errorSnippets: 'Falten algunes previsualitzacions de resultats. {reason}',
  errorSemantic: 'La cerca multilingüe no està disponible; la cerca per paraules clau continua funcionant. {reason}',
  errorOfflineRows: 'Sense connexió, la cerca multilingüe cobreix les llengües d’aquest lloc; aquesta consulta s’ha cercat per paraules clau.',
  reasonDamaged: 'Un fitxer de l’índex de cerca està malmès ({file}).',
  reasonVersion: 'L’índex de cerca s’ha creat amb una altra versió de crossfind.',
  reasonModel: 'El model de llengua no correspon a l’índex de cerca.',
  reasonNetwork: 'No s’ha pogut baixar un fitxer; comproveu la connexió.',
  reasonOther: 'S’ha produït un error inesperat.',
};

test('a site can add a language crossfind does not ship by giving every string', T, async () => {
  assert.deepEqual(Object.keys(CA).sort(), Object.keys(EN).sort(), 'the Catalan table of this test follows en.json');
  const { button: _, ...partial } = CA;
  // a table written before a string was added (LATER_KEYS) is still complete
  const { respelled: __, ...older } = CA;
  // The reader reads Catalan, then Spanish.
  const context = await readerContext('ca-ES', { complete: { lang: 'ca', strings: CA }, partial: { lang: 'ca', strings: partial }, older: { lang: 'ca', strings: older } }, ['ca-ES', 'es']);
  let { page, errors, warnings } = await visit(context, 'complete');
  await page.waitForFunction(() => window.crossfind.uiLanguage === 'ca', null, { timeout: 10000 });
  let s = await shown(page);
  assert.deepEqual([s.button, s.placeholder, s.hint, s.lang, s.dir], [CA.button, CA.placeholder, CA.hint, 'ca', 'ltr']);
  const { n, live } = await searchAndListen(page, 'factura');
  assert.ok(live.startsWith(`${n} resultat${n === 1 ? '' : 's'}`), live);
  // language names in Catalan, through Intl.DisplayNames
  assert.match(await page.locator(W.listbox).textContent(), /També en: .*(anglès|castellà|francès)/);
  assert.deepEqual(warnings.filter((w) => w.includes('crossfind')), []);
  assert.deepEqual(errors, []);
  await page.close();

  // Without a string added after the table was written: still Catalan,
  // that one string in English, no warning.
  ({ page, errors, warnings } = await visit(context, 'older'));
  await page.waitForFunction(() => window.crossfind.uiLanguage === 'ca', null, { timeout: 10000 });
  assert.deepEqual(warnings.filter((w) => w.includes('crossfind')), []);
  assert.deepEqual(errors, []);
  await page.close();

  // One key short: not a language of its own; the reader's next one (es), with a warning.
  ({ page, errors, warnings } = await visit(context, 'partial'));
  await page.waitForFunction(() => window.crossfind.uiLanguage === 'es', null, { timeout: 10000 });
  s = await shown(page);
  assert.deepEqual([s.button, s.placeholder, s.lang], ['Buscar', 'Busca en cualquier idioma…', 'es']);
  assert.ok(warnings.some((w) => w.includes('crossfind has no strings in ca') && w.includes('missing: button')), warnings.join('\n'));
  assert.deepEqual(errors, []);
  await context.close();
});

test("a right-to-left page's strings, and strings a script sets or removes later", T, async () => {
  const context = await readerContext('en-US', {
    fa: { lang: 'fa', dir: 'rtl', strings: { placeholder: 'در راهنمای Kitebook جستجو کنید…' } },
    spa: { lang: 'en' },
    broken: { lang: 'en', strings: '{"placeholder": "unterminated' },
  });
  let { page, errors, warnings } = await visit(context, 'fa');
  await page.waitForFunction(() => window.crossfind.uiLanguage === 'fa');
  let s = await shown(page);
  assert.deepEqual([s.placeholder, s.button, s.dir, s.direction], ['در راهنمای Kitebook جستجو کنید…', 'جستجو', 'rtl', 'rtl']);
  assert.deepEqual(errors, []);
  await page.close();

  // A single-page app sets the attribute after the widget is up, changes it,
  // then takes the strings away.
  ({ page, errors } = await visit(context, 'spa'));
  assert.equal((await shown(page)).placeholder, EN.placeholder);
  await page.evaluate(() => document.querySelector('crossfind-search').setAttribute('strings', JSON.stringify({ placeholder: 'Ask Kitebook…' })));
  await page.waitForFunction(() => document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-input').placeholder === 'Ask Kitebook…');
  await page.evaluate(() => document.querySelector('crossfind-search').setAttribute('strings', JSON.stringify({ placeholder: 'Ask Kitebook anything…', button: 'Ask' })));
  await page.waitForFunction(() => document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-trigger-label').textContent === 'Ask');
  assert.equal((await shown(page)).placeholder, 'Ask Kitebook anything…');
  await page.evaluate(() => document.querySelector('crossfind-search').removeAttribute('strings'));
  await page.waitForFunction((p) => document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-input').placeholder === p, EN.placeholder);
  assert.deepEqual(errors, []);
  await page.close();

  // Not JSON: a warning, the shipped strings, search works.
  ({ page, errors, warnings } = await visit(context, 'broken'));
  s = await shown(page);
  assert.equal(s.placeholder, EN.placeholder);
  assert.ok(warnings.some((w) => w.includes('strings attribute: not JSON')), warnings.join('\n'));
  const { live } = await searchAndListen(page, 'invoice');
  assert.match(live, /^\d+ results?/);
  assert.deepEqual(errors, []);
  await context.close();
});
