// axe-core on the open search UI, with results, on an English page and on an
// Arabic (right-to-left) one; the layout mirrors for Arabic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ensureDemo, instrument, launch, serve, watchErrors, W, waitForResults, typeQuery } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const T = { timeout: 300000 };
let browser, context, server;

before(async () => {
  await ensureDemo();
  server = await serve();
  browser = await launch();
  context = await browser.newContext({ serviceWorkers: 'block' });
  await instrument(context);
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

for (const [name, path, query] of [
  ['English', 'en/index.html', 'change my billing email'],
  ['Arabic (RTL)', 'ar/index.html', 'إعادة تعيين كلمة المرور'],
]) {
  test(`axe finds no violations in the open search UI on an ${name} page`, T, async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}${path}`);
    await page.evaluate(() => window.crossfind.ready());
    // Closed: the button alone.
    assert.deepEqual(await axeWidget(page), []);
    await page.keyboard.press('Control+k');
    await typeQuery(page, query);
    await waitForResults(page, (r) => r.length >= 2, { query });
    await page.keyboard.press('ArrowDown');
    const violations = await axeWidget(page);
    assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
    if (path.startsWith('ar/')) {
      const dir = await page.locator(W.dialog).evaluate((d) => getComputedStyle(d).direction);
      assert.equal(dir, 'rtl');
      // Mirrored: the search icon sits at the right of the input.
      const [icon, input] = await page.evaluate(() => {
        const root = document.querySelector('crossfind-search').shadowRoot;
        return [root.querySelector('.cf-bar .cf-icon').getBoundingClientRect().x, root.querySelector('.cf-input').getBoundingClientRect().x];
      });
      assert.ok(icon > input, `icon at ${icon}, input at ${input}`);
      assert.equal(await page.locator(W.input).getAttribute('placeholder'), 'ابحث بأي لغة…');
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
}
