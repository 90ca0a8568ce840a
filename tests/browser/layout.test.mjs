// The search dialog as readers see it on the demo help center, open with
// results, in light and dark colour schemes, on a 1280×800 desktop, a 360 px
// phone, at 200 % zoom (a 1280×800 window zoomed twice: 640×400 CSS px at
// two device pixels each) and with reduced motion: nothing runs off the
// side of the screen, the input and the active result show where focus is,
// dark mode is dark with legible text (axe: no contrast violations), and
// reduced motion means no transitions.
//
// CROSSFIND_SCREENSHOTS=DIR saves a PNG of the open dialog per setting there
// (docs/screenshots/ holds the ones in www/README.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ensureDemo, instrument, launch, serve, watchErrors, W, deepActive, waitForResults, typeQuery, waitSemantic } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.CROSSFIND_SCREENSHOTS || '';
const T = { timeout: 300000 };
const QUERY = 'reset password';

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const ZOOM = { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 };
const SETTINGS = [
  { name: 'light-desktop', options: { ...DESKTOP, colorScheme: 'light' } },
  { name: 'dark-desktop', options: { ...DESKTOP, colorScheme: 'dark' } },
  { name: 'light-phone-360', options: { ...PHONE, colorScheme: 'light' } },
  { name: 'dark-phone-360', options: { ...PHONE, colorScheme: 'dark' } },
  { name: 'light-zoom-200', options: { ...ZOOM, colorScheme: 'light' } },
  // Reduced motion does not change the picture; here it comes with dark at 200 %.
  { name: 'dark-zoom-200-reduced-motion', options: { ...ZOOM, colorScheme: 'dark', reducedMotion: 'reduce' } },
];

let browser, server;

before(async () => {
  await ensureDemo();
  server = await serve();
  browser = await launch();
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// Runs in the page: colour arithmetic of WCAG 2 (relative luminance,
// contrast ratio) on computed CSS colours, and the indicators that mark an
// element as focused or active.
function pageHelpers() {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
    a: 1,
  });
  // The colour behind `el`: its own background or the nearest ancestor's
  // (inside the shadow root, then the page), composited.
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement || e.getRootNode().host) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a === 1) break;
      }
    }
    let col = { r: 255, g: 255, b: 255, a: 1 };
    for (const c of layers.reverse()) col = over(c, col);
    return col;
  };
  const contrast = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // What marks `el` beyond plain borders: an outline, a box-shadow with a
  // size, or a border of 2 px or more; each with its colour's contrast
  // against the background it is drawn on.
  const indicators = (el) => {
    const s = getComputedStyle(el);
    const bg = background(el);
    const out = [];
    const add = (kind, colour) => {
      const c = parse(colour);
      if (c && c.a > 0) out.push({ kind, colour, contrast: +contrast(over(c, bg), bg).toFixed(2) });
    };
    if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) add('outline', s.outlineColor);
    if (s.boxShadow && s.boxShadow !== 'none') {
      for (const sh of s.boxShadow.split(/,(?![^(]*\))/)) {
        const lengths = (sh.replace(/rgba?\([^)]*\)/, '').match(/-?[\d.]+px/g) || []).map(parseFloat);
        if (lengths.some((v) => v !== 0)) add('box-shadow', /rgba?\([^)]*\)/.exec(sh)?.[0]);
      }
    }
    for (const side of ['Top', 'Right', 'Bottom', 'Left']) {
      if (s[`border${side}Style`] !== 'none' && parseFloat(s[`border${side}Width`]) >= 2) add(`border-${side.toLowerCase()}`, s[`border${side}Color`]);
    }
    return out;
  };
  return { parse, lum, background, contrast, indicators };
}
const HELPERS = `(${pageHelpers})()`;

// Boxes that lie outside the viewport's width or outside the dialog (which
// clips them): [{what, left, right}]. Visually hidden text (.cf-vh) is 1 px
// and not seen.
function overflowing(page) {
  return page.evaluate(() => {
    const root = document.querySelector('crossfind-search').shadowRoot;
    const vw = document.documentElement.clientWidth;
    const dialog = root.querySelector('dialog').getBoundingClientRect();
    const bad = [];
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')}`;
    const check = (el, box, within, label) => {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) bad.push({ what: `${name(el)} ${label}`, left: Math.round(r.left), right: Math.round(r.right), within: `${Math.round(box.left)}–${Math.round(box.right)}` });
    };
    const viewport = { left: 0, right: vw };
    check(root.querySelector('dialog'), viewport, 'viewport', 'in the viewport');
    check(root.querySelector('[role="listbox"]'), viewport, 'viewport', 'in the viewport');
    for (const el of root.querySelectorAll('dialog *')) {
      if (el.closest('.cf-vh') || el.closest('[hidden]')) continue;
      check(el, dialog, 'dialog', 'in the dialog');
    }
    // Content wider than its box, cut off or scrolled sideways.
    for (const el of root.querySelectorAll('.cf-list, [role="option"], .cf-bar, .cf-filters, .cf-hint')) {
      if (el.closest('[hidden]')) continue;
      if (el.scrollWidth > el.clientWidth + 1) bad.push({ what: `${name(el)} scrolls sideways`, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth });
    }
    return { page: { scrollWidth: document.documentElement.scrollWidth, clientWidth: vw }, bad };
  });
}

async function axeContrast(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run({ include: [['crossfind-search']] }, { runOnly: ['color-contrast'], resultTypes: ['violations'] });
    return r.violations.flatMap((v) => v.nodes.map((n) => `${n.target.join(' > ')}: ${n.any.map((a) => a.message).join('; ')}`));
  });
}

for (const { name, options } of SETTINGS) {
  test(`the open search looks right: ${name}`, T, async () => {
    const context = await browser.newContext({ serviceWorkers: 'block', locale: 'en-US', ...options });
    await instrument(context);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}en/index.html`);
    await page.evaluate(() => window.crossfind.ready());

    // Closed: the button fits the header.
    const pageWidth = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(pageWidth[0] <= pageWidth[1], `the page scrolls sideways with the search closed: ${pageWidth}`);

    // Open: a tap on the button on the phone, Ctrl+K elsewhere.
    if (options.hasTouch) await page.locator(W.trigger).tap();
    else await page.keyboard.press('Control+k');
    await page.locator(W.input).waitFor({ state: 'visible' });
    assert.equal((await deepActive(page))?.role, 'combobox');
    await typeQuery(page, QUERY);
    if (SHOTS) await waitSemantic(page);
    const shown = await waitForResults(page, (r) => r.length >= 2, { query: QUERY, semantic: !!SHOTS });
    assert.match(shown[0].url, /reset-password/);

    // Focus is seen: the input (or the search bar around it) carries a ring
    // that stands out (3:1) from the dialog.
    const inputMarks = await page.evaluate((helpers) => {
      const H = eval(helpers);
      const root = document.querySelector('crossfind-search').shadowRoot;
      const input = root.activeElement;
      const marks = [];
      for (let e = input; e && e.tagName !== 'DIALOG' && !e.classList.contains('cf-panel'); e = e.parentElement) marks.push(...H.indicators(e));
      return marks;
    }, HELPERS);
    assert.ok(inputMarks.some((m) => m.contrast >= 3), `no visible focus on the input: ${JSON.stringify(inputMarks)}`);

    // ArrowDown makes the first result active (checked below).
    await page.keyboard.press('ArrowDown');
    // The picture before the checks, so a failing setting leaves one to look at.
    if (SHOTS) {
      await page.locator(W.dialog).screenshot({ path: path.join(SHOTS, `${name}.png`), animations: 'disabled' });
    }
    // Nothing runs off the side.
    const o = await overflowing(page);
    assert.ok(o.page.scrollWidth <= o.page.clientWidth, `the page scrolls sideways: ${JSON.stringify(o.page)}`);
    assert.deepEqual(o.bad, []);
    // The dialog fits the screen's height too, with at least one whole result in view.
    const fit = await page.evaluate(() => {
      const root = document.querySelector('crossfind-search').shadowRoot;
      const d = root.querySelector('dialog').getBoundingClientRect();
      const list = root.querySelector('[role="listbox"]').getBoundingClientRect();
      const first = root.querySelector('[role="option"]').getBoundingClientRect();
      return { top: d.top, bottom: d.bottom, vh: document.documentElement.clientHeight, list: [list.top, list.bottom], first: [first.top, first.bottom] };
    });
    assert.ok(fit.top >= 0 && fit.bottom <= fit.vh + 0.5, `the dialog runs off the screen: ${JSON.stringify(fit)}`);
    assert.ok(fit.first[0] >= fit.list[0] - 0.5 && fit.first[1] <= fit.list[1] + 0.5, `the first result is not wholly in view: ${JSON.stringify(fit)}`);

    // Colours: the dialog follows the scheme; its text reads on it.
    const colours = await page.evaluate((helpers) => {
      const H = eval(helpers);
      const root = document.querySelector('crossfind-search').shadowRoot;
      const dialog = root.querySelector('dialog');
      const title = root.querySelector('[role="option"] .cf-title');
      const bg = H.background(dialog);
      const text = H.parse(getComputedStyle(title).color);
      return { bg: H.lum(bg), text: H.lum(text), contrast: H.contrast(bg, text), scheme: getComputedStyle(dialog).colorScheme };
    }, HELPERS);
    if (options.colorScheme === 'dark') {
      assert.ok(colours.bg < 0.05, `the dialog is not dark in dark mode: ${JSON.stringify(colours)}`);
      assert.ok(colours.text > 0.6, `the text is not light in dark mode: ${JSON.stringify(colours)}`);
      // Scrollbars, checkboxes and the progress bar are drawn dark too.
      assert.match(colours.scheme, /dark/, `the dialog's form controls and scrollbar are light in dark mode: ${JSON.stringify(colours)}`);
    } else {
      assert.ok(colours.bg > 0.8, `the dialog is not light: ${JSON.stringify(colours)}`);
      assert.ok(colours.text < 0.1, `the text is not dark: ${JSON.stringify(colours)}`);
    }
    assert.ok(colours.contrast >= 7, `result titles at ${colours.contrast.toFixed(2)}:1`);

    // The active result shows it against the others: an indicator the
    // second result has not, at 3:1 against its background.
    const optionMarks = await page.evaluate((helpers) => {
      const H = eval(helpers);
      const root = document.querySelector('crossfind-search').shadowRoot;
      const [first, second] = root.querySelectorAll('[role="option"]');
      const input = root.querySelector('[role="combobox"]');
      return {
        activedescendant: input.getAttribute('aria-activedescendant') === first.id,
        selected: first.getAttribute('aria-selected'),
        active: H.indicators(first),
        other: H.indicators(second),
      };
    }, HELPERS);
    assert.ok(optionMarks.activedescendant, 'ArrowDown did not make the first result active');
    assert.equal(optionMarks.selected, 'true');
    const seen = optionMarks.active.filter((m) => m.contrast >= 3 && !optionMarks.other.some((x) => x.kind === m.kind && x.colour === m.colour));
    assert.ok(seen.length > 0, `the active result does not stand out: ${JSON.stringify(optionMarks)}`);

    // axe: no contrast violations in the widget, results shown, one active.
    const contrastViolations = await axeContrast(page);
    assert.deepEqual(contrastViolations, []);

    // Reduced motion: nothing in the widget moves.
    if (options.reducedMotion === 'reduce') {
      const moving = await page.evaluate(() => {
        const root = document.querySelector('crossfind-search').shadowRoot;
        const secs = (v) => v.split(',').map((x) => (x.trim().endsWith('ms') ? parseFloat(x) / 1000 : parseFloat(x)));
        const out = [];
        const els = [document.querySelector('crossfind-search'), ...root.querySelectorAll('*')];
        for (const el of els) {
          for (const pseudo of el.tagName === 'DIALOG' ? [null, '::backdrop'] : [null]) {
            const s = getComputedStyle(el, pseudo);
            const t = secs(s.transitionDuration);
            const a = secs(s.animationDuration);
            if (t.some((x) => x > 0) || a.some((x) => x > 0)) out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')}${pseudo || ''}: transition ${s.transitionDuration}, animation ${s.animationDuration}`);
          }
        }
        return out;
      });
      assert.deepEqual(moving, []);
    }

    assert.deepEqual(errors, []);
    await context.close();
  });
}
