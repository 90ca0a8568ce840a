// Search filters on the demo help center, whose articles declare their
// category as the filter `section` (examples/helpdesk/build.mjs): the
// filter bar with each section's page count, ticking a section (by
// keyboard) keeps every result in it and still fills the list, the
// default filter of the `filter` attribute (and of the JS API), and axe on
// the open dialog with the bar, left to right and right to left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, ensureDemo, instrument, launch, serve, watchErrors, W, waitForResults, typeQuery, waitSemantic, deepActive } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const T = { timeout: 300000 };
const K = 10;

// The demo's sections as the reader sees them (the English category names),
// each article id's section, and how many pages (every language version)
// each section has: written out from the content, not from the bundle.
const HELPDESK = path.join(ROOT, 'examples/helpdesk');
const NAMES = { account: 'Account', billing: 'Billing', security: 'Security', integrations: 'Integrations & API', troubleshooting: 'Troubleshooting' };
const catalog = JSON.parse(readFileSync(path.join(HELPDESK, 'catalog.json'), 'utf8'));
const SECTION_OF = Object.fromEntries(catalog.map((e) => [e.id, NAMES[e.category]]));
const PAGES = {};
for (const lang of readdirSync(path.join(HELPDESK, 'content'))) {
  for (const e of catalog) {
    if (existsSync(path.join(HELPDESK, 'content', lang, `${e.id}.md`))) PAGES[NAMES[e.category]] = (PAGES[NAMES[e.category]] || 0) + 1;
  }
}
const ARTICLES = (section) => catalog.filter((e) => NAMES[e.category] === section).length;
const sectionOf = (url) => SECTION_OF[/^\/[a-z]{2}\/([a-z0-9-]+)\.html/.exec(url)?.[1]] ?? null;

let browser, context, server;

before(async () => {
  await ensureDemo();
  server = await serve(); // no CSP: axe-core sets inline styles
  browser = await launch();
  context = await browser.newContext({ serviceWorkers: 'block', locale: 'en-US' });
  await instrument(context);
  // The last `results` event's filter, for the assertions below.
  await context.addInitScript(() => {
    document.addEventListener('results', (e) => {
      if (e.detail.source !== 'api') window.__cfFilter = e.detail.filter;
    });
    document.addEventListener('zero-results', (e) => {
      if (e.detail.source !== 'api') window.__cfZero = e.detail.query;
    });
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// What the filter bar shows: [{key, boxes: [{value, count, name, checked}]}],
// `name` being the checkbox's accessible name as axe/Chromium compute it.
async function filterBar(page) {
  const groups = await page.evaluate(() => {
    const bar = document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-filters');
    if (bar.hidden) return null;
    return [...bar.querySelectorAll('fieldset')].map((f) => ({
      key: f.querySelector('legend').textContent,
      boxes: [...f.querySelectorAll('label')].map((l) => ({
        value: l.querySelector('.cf-filter-value').textContent,
        count: l.querySelector('.cf-filter-count').textContent,
        label: l.textContent,
        checked: l.querySelector('input').checked,
      })),
    }));
  });
  return groups;
}

// Waits for the widget's final answer (its `results` event) under `filter`.
function answeredWith(page, filter) {
  return page.waitForFunction((f) => JSON.stringify(window.__cfFilter) === f, JSON.stringify(filter), { timeout: 60000 });
}

async function axeWidget(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run({ include: [['crossfind-search']] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' > ')).slice(0, 5) }));
  });
}

test('the filter bar lists each section with its page count; ticking one by keyboard keeps every result in it, k of them', T, async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}en/index.html`);
  await page.keyboard.press('Control+k');
  await waitSemantic(page);
  const query = 'how do I turn on two-factor authentication';
  await typeQuery(page, query);
  const before = await waitForResults(page, (r) => r.length > 0, { query, semantic: true });
  const pagesBefore = before.filter((r) => !r.sub);
  assert.ok(pagesBefore.some((r) => sectionOf(r.url) === 'Security'), JSON.stringify(pagesBefore.map((r) => r.url)));

  // One group, "section", a box per section with its number of pages.
  const bar = await filterBar(page);
  assert.ok(bar, 'the filter bar is shown');
  assert.deepEqual(bar.map((g) => g.key), ['section']);
  const boxes = Object.fromEntries(bar[0].boxes.map((b) => [b.value, b]));
  assert.deepEqual(Object.keys(boxes).sort(), Object.values(NAMES).sort());
  for (const [section, n] of Object.entries(PAGES)) {
    assert.equal(boxes[section].count, String(n), `${section}: ${JSON.stringify(boxes[section])}`);
    assert.equal(boxes[section].checked, false);
  }
  // The screen reader's name says what the number is.
  const name = await page.getByRole('checkbox', { name: `Billing (${PAGES.Billing} pages)`, exact: true }).count();
  assert.equal(name, 1, 'the Billing checkbox is named "Billing (N pages)"');

  // Keyboard only: Tab from the search box reaches the Billing box; Space ticks it.
  await page.locator(W.input).focus();
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    const a = await page.evaluate(() => {
      let el = document.activeElement;
      while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
      return el && el.type === 'checkbox' ? el.dataset.value : null;
    });
    reached = a === 'Billing';
  }
  assert.ok(reached, `Tab reaches the Billing checkbox (focus: ${JSON.stringify(await deepActive(page))})`);
  await page.keyboard.press('Space');
  await answeredWith(page, { section: ['Billing'] });

  // The same query, answered again: every result is a Billing article, and
  // the list is still full (k, or every Billing article there is).
  const want = Math.min(K, ARTICLES('Billing'));
  const after = await waitForResults(
    page,
    (r) => {
      const pages = r.filter((x) => !x.sub);
      return pages.length > 0 && pages.every((x) => sectionOf(x.url) === 'Billing');
    },
    { query, semantic: true },
  );
  const pagesAfter = after.filter((r) => !r.sub);
  assert.equal(pagesAfter.length, want, JSON.stringify(pagesAfter.map((r) => r.url)));
  for (const r of after) assert.equal(sectionOf(r.url), 'Billing', r.url);
  assert.deepEqual(await page.evaluate(() => window.__cfFilter), { section: ['Billing'] });
  assert.equal((await filterBar(page))[0].boxes.find((b) => b.value === 'Billing').checked, true);
  // The count is announced, and the box keeps the focus.
  await page.waitForFunction((n) => document.querySelector('crossfind-search').shadowRoot.querySelector('[role="status"]').textContent.startsWith(`${n} results`), want, { timeout: 10000 });
  assert.equal(await page.evaluate(() => document.querySelector('crossfind-search').shadowRoot.activeElement?.dataset.value), 'Billing');

  // axe: the open dialog with the filter bar and a box ticked.
  const violations = await axeWidget(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));

  // Untick: the other sections come back.
  await page.keyboard.press('Space');
  await answeredWith(page, {});
  await waitForResults(page, (r) => r.some((x) => sectionOf(x.url) === 'Security'), { query, semantic: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('the filter attribute sets the default filter, for the widget and the JS API', T, async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.route(`${server.url}en/index.html`, async (route) => {
    const res = await route.fetch();
    const body = (await res.text()).replace('<crossfind-search offline>', '<crossfind-search offline filter="section: Billing ; section:Account">');
    await route.fulfill({ response: res, body });
  });
  await page.goto(`${server.url}en/index.html`);
  assert.equal(await page.locator('crossfind-search[filter]').count(), 1);
  await page.evaluate(() => window.crossfind.ready());
  await page.keyboard.press('Control+k');
  const query = 'reset my password';
  await typeQuery(page, query);
  const shown = await waitForResults(page, (r) => r.length > 0, { query });
  for (const r of shown) assert.ok(['Billing', 'Account'].includes(sectionOf(r.url)), r.url);
  assert.ok(shown.some((r) => sectionOf(r.url) === 'Account'), 'Account articles answer "reset my password"');
  const checked = (await filterBar(page))[0].boxes.filter((b) => b.checked).map((b) => b.value);
  assert.deepEqual(checked.sort(), ['Account', 'Billing']);
  assert.deepEqual(await page.evaluate(() => window.__cfFilter), { section: ['Billing', 'Account'] });
  assert.deepEqual(await page.evaluate(() => document.querySelector('crossfind-search').filter), { section: ['Billing', 'Account'] });

  // The JS API: the site's default when it does not say, its own filter when it does.
  const sections = (hits) => [...new Set(hits.map((h) => sectionOf(h.url)))].sort();
  const byDefault = await page.evaluate(() => window.crossfind.search('two-factor authentication', { mode: 'lexical' }));
  assert.ok(byDefault.length > 0);
  assert.ok(sections(byDefault).every((s) => s === 'Billing' || s === 'Account'), JSON.stringify(sections(byDefault)));
  const none = await page.evaluate(() => window.crossfind.search('two-factor authentication', { mode: 'lexical', filter: null }));
  assert.ok(sections(none).includes('Security'), JSON.stringify(sections(none)));
  const security = await page.evaluate(() => window.crossfind.search('two-factor authentication', { mode: 'lexical', filter: { section: 'Security' } }));
  assert.deepEqual(sections(security), ['Security']);
  assert.deepEqual(await page.evaluate(() => window.crossfind.filters().then((f) => f.section.Security)), PAGES.Security);

  // The site changes the attribute (a page of another section): the bar and the results follow.
  await page.evaluate(() => document.querySelector('crossfind-search').setAttribute('filter', 'section:Security'));
  await waitForResults(page, (r) => r.length > 0 && r.every((x) => sectionOf(x.url) === 'Security'), { query });
  assert.deepEqual((await filterBar(page))[0].boxes.filter((b) => b.checked).map((b) => b.value), ['Security']);

  // A default no page declares: shown ticked with 0 pages, nothing found, and the reader can untick it.
  await page.evaluate(() => document.querySelector('crossfind-search').setAttribute('filter', 'section:Gardening'));
  await page.waitForFunction(() => window.__cfZero === 'reset my password', null, { timeout: 30000 });
  const gardening = (await filterBar(page))[0].boxes.find((b) => b.value === 'Gardening');
  assert.deepEqual([gardening.count, gardening.checked], ['0', true]);
  assert.equal(await page.locator('crossfind-search .cf-empty').textContent(), 'No results for “reset my password”');
  await page.locator('crossfind-search .cf-filter-box[data-value="Gardening"]').uncheck();
  await answeredWith(page, {});
  await waitForResults(page, (r) => r.length > 0, { query });
  assert.deepEqual(errors, []);
  await page.close();
});

test('axe finds no violations in the filter bar on the Arabic page (right to left)', T, async () => {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}ar/index.html`);
  await page.evaluate(() => window.crossfind.ready());
  await page.keyboard.press('Control+k');
  const query = 'إعادة تعيين كلمة المرور';
  await typeQuery(page, query);
  await waitForResults(page, (r) => r.length > 0, { query });
  await page.locator('crossfind-search .cf-filter-box[data-value="Account"]').check();
  await waitForResults(page, (r) => r.length > 0 && r.every((x) => sectionOf(x.url) === 'Account'), { query });
  // The group's name and the count's words are Arabic; the bar runs right to left.
  const bar = await page.evaluate(() => {
    const f = document.querySelector('crossfind-search').shadowRoot.querySelector('.cf-filters');
    const boxes = [...f.querySelectorAll('label')].map((l) => l.getBoundingClientRect().x);
    return { label: f.getAttribute('aria-label'), dir: getComputedStyle(f).direction, first: boxes[0], second: boxes[1], hidden: f.querySelector('label .cf-vh').textContent };
  });
  assert.equal(bar.label, 'تصفية النتائج');
  assert.equal(bar.dir, 'rtl');
  assert.ok(bar.first > bar.second, `the first value sits right of the second (${bar.first}, ${bar.second})`);
  assert.match(bar.hidden, /صفح/);
  const violations = await axeWidget(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
  assert.deepEqual(errors, []);
  await page.close();
});
