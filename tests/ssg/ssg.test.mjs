// crossfind on the output of real static-site generators, each in its own
// multilingual set-up, built from the sources in tests/fixtures/ssg/<tool>/:
//   - Hugo (Debian's package): languages in hugo.toml, translations by file
//     name suffix (reset-password.es.md), layouts of our own laid out as the
//     Hugo Book theme, with <link rel="alternate" hreflang> as themes emit;
//   - MkDocs Material with mkdocs-static-i18n (pinned in the fixture's
//     requirements.txt, installed by scripts/ssg-test.sh into
//     .cache/ssg-venv): one folder per language, translations named only by
//     Material's language selector;
//   - VitePress (pinned in the fixture's package.json, installed into
//     .cache/ssg-npm): `locales`, English at the root; its pages name no
//     translation, so they are the same path under each language's folder.
// Each site is built with the real tool, indexed with the real CLI
// (--strict: no warnings), and the bundle is read as the widget reads it:
// pages and languages, translation groups, sections and their anchors, and
// no text from the sites' navigation, sidebars, footers, banners or tables
// of contents. Then one cross-lingual question per site is asked in the
// widget, in Chromium, on the built site.
//
// Run by scripts/ssg-test.sh, which installs Hugo, .cache/ssg-venv and
// .cache/ssg-npm. Needs
// target/release/crossfind
// and the widget build in www/dist (scripts/demo.sh --no-serve).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, mkdirSync, cpSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { ROOT, launch, serve, instrument, watchErrors, W, waitForResults, typeQuery, waitSemantic } from '../browser/harness.mjs';
import { readBundle } from './bundle.mjs';

const T = { timeout: 600000 };
const FIXTURES = path.join(ROOT, 'tests/fixtures/ssg');
const OUT = path.join(ROOT, 'target/ssg');
const CLI = path.join(ROOT, 'target/release/crossfind');

function need(file, hint) {
  if (!existsSync(file)) throw new Error(`tests/ssg: ${file} is missing: ${hint}`);
}

function hugoBinary() {
  try {
    execFileSync('hugo', ['version'], { stdio: 'ignore' });
    return 'hugo';
  } catch {
    throw new Error("tests/ssg: Hugo is not installed: run 'sudo apt-get install hugo' (scripts/ssg-test.sh does when root)");
  }
}

const SITES = {
  hugo: {
    build(out) {
      execFileSync(hugoBinary(), ['--quiet', '--source', path.join(FIXTURES, 'hugo'), '--destination', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    },
    pages: [
      ['en', '/en/export-notes/index.html'],
      ['en', '/en/reset-password/index.html'],
      ['en', '/en/two-step-verification/index.html'],
      ['es', '/es/export-notes/index.html'],
      ['es', '/es/reset-password/index.html'],
      ['es', '/es/two-step-verification/index.html'],
      ['ja', '/ja/export-notes/index.html'],
      ['ja', '/ja/konbini-payment/index.html'],
      ['ja', '/ja/reset-password/index.html'],
      ['ja', '/ja/two-step-verification/index.html'],
    ],
    translated: ['export-notes', 'reset-password', 'two-step-verification'].map((a) => ['en', 'es', 'ja'].map((l) => `/${l}/${a}/index.html`)),
    alone: ['/ja/konbini-payment/index.html'],
    // Hugo's heading ids keep letters of every script
    anchors: [
      ['/en/reset-password/index.html#reset-your-password', 'Reset your password'],
      ['/es/reset-password/index.html#si-el-correo-de-restablecimiento-no-llega', 'Si el correo de restablecimiento no llega'],
      ['/ja/reset-password/index.html#再設定メールが届かない場合', '再設定メールが届かない場合'],
      ['/es/two-step-verification/index.html#códigos-de-recuperación', 'Códigos de recuperación'],
    ],
    // in the layouts' sidebar, header, version banner and footer
    chrome: ['Heliotrope', 'Lumen 4.2', 'Quokka', 'Edit this page', 'Marzipan', 'Lumen Labs', 'Lumen Help', 'English', 'Español', '日本語'],
    query: { page: '/en/', text: 'pay for my plan with cash at a convenience store', answer: '/ja/konbini-payment/' },
  },
  mkdocs: {
    build(out) {
      const mkdocs = path.join(ROOT, '.cache/ssg-venv/bin/mkdocs');
      need(mkdocs, 'run scripts/ssg-test.sh (it installs MkDocs Material and mkdocs-static-i18n, pinned)');
      execFileSync(mkdocs, ['build', '--quiet', '--config-file', path.join(FIXTURES, 'mkdocs/mkdocs.yml'), '--site-dir', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    },
    pages: [
      ['en', '/connect-calendar/index.html'],
      ['en', '/delete-account/index.html'],
      ['es', '/es/connect-calendar/index.html'],
      ['es', '/es/delete-account/index.html'],
      ['es', '/es/index.html'],
      ['es', '/es/invite-teammates/index.html'],
      ['es', '/es/pago-oxxo/index.html'],
      ['en', '/index.html'],
      ['en', '/invite-teammates/index.html'],
      ['ja', '/ja/connect-calendar/index.html'],
      ['ja', '/ja/delete-account/index.html'],
      ['ja', '/ja/index.html'],
      ['ja', '/ja/invite-teammates/index.html'],
    ],
    translated: ['connect-calendar/', 'delete-account/', 'invite-teammates/', ''].map((a) => ['', 'es/', 'ja/'].map((l) => `/${l}${a}index.html`)),
    alone: ['/es/pago-oxxo/index.html'],
    // Python-Markdown's ids: accents folded, other scripts dropped (`_1`, `_2`), repeats numbered
    anchors: [
      ['/invite-teammates/index.html#send-an-invitation', 'Send an invitation'],
      ['/es/connect-calendar/index.html#la-sincronizacion-es-lenta-o-se-detuvo', 'La sincronización es lenta o se detuvo'],
      ['/delete-account/index.html#delete-your-account_1', 'Delete your account'],
      ['/ja/connect-calendar/index.html#_2', '同期が遅い、または止まった'],
    ],
    // Material's header, language selector, search box, sidebars, table of
    // contents, footer and our announcement-bar version banner
    chrome: ['Tamarind', 'Orbit 3.1', 'Pelican Wharf', 'Orbit Labs', 'Orbit Help', 'Made with', 'Material for MkDocs', 'Skip to content', 'Initializing search', 'Table of contents', 'Previous', 'Next', 'Back to top', 'English', 'Español', '日本語', '¶'],
    query: { page: '/ja/', text: 'メキシコのコンビニで現金で支払いたい', answer: '/es/pago-oxxo/' },
  },
  vitepress: {
    build(out) {
      // VitePress loads the config and theme from the project folder, which
      // must see its node_modules: a copy of the sources beside a link to them
      const modules = path.join(ROOT, '.cache/ssg-npm/node_modules');
      need(path.join(modules, '.bin/vitepress'), 'run scripts/ssg-test.sh (it installs VitePress, pinned)');
      const src = path.join(path.dirname(out), 'src');
      cpSync(path.join(FIXTURES, 'vitepress/docs'), path.join(src, 'docs'), { recursive: true });
      symlinkSync(modules, path.join(src, 'node_modules'));
      execFileSync(path.join(modules, '.bin/vitepress'), ['build', path.join(src, 'docs'), '--outDir', out, '--logLevel', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
    },
    pages: [
      ['en', '/change-plan.html'],
      ['en', '/index.html'],
      ['en', '/notifications.html'],
      ['en', '/proxy.html'],
      ['en', '/slack.html'],
      ...['es', 'ja'].flatMap((l) => ['change-plan', 'index', 'notifications', 'slack'].map((a) => [l, `/${l}/${a}.html`])),
    ],
    // no hreflang anywhere: the same path under each language's folder
    translated: ['change-plan', 'index', 'notifications', 'slack'].map((a) => ['', 'es/', 'ja/'].map((l) => `/${l}${a}.html`)),
    alone: ['/proxy.html'],
    anchors: [
      ['/change-plan.html#upgrade-to-a-bigger-plan', 'Upgrade to a bigger plan'],
      ['/es/slack.html#anadir-pulse-a-slack', 'Añadir Pulse a Slack'],
      // VitePress decomposes its ids (NFKD: プ is フ and a combining mark); a
      // link must keep them so, or the browser finds no such element
      [`/ja/change-plan.html#${'上位プランにアップグレードする'.normalize('NFKD')}`, '上位プランにアップグレードする'],
    ],
    // the default theme's nav bar, sidebar, outline, doc footer (edit link,
    // previous/next) and site footer (our version notice); \u200b is the
    // text of its heading permalinks
    chrome: ['Saffron', 'Pulse 2.0', 'Wombat', 'Edit this page', 'Heron Lane', 'Pulse Labs', 'Pulse Help', 'On this page', 'Previous page', 'Next page', 'Guides', 'Appearance', 'Return to top', 'Menu', 'English', 'Español', '日本語', '\u200b'],
    query: { page: '/ja/', text: '社内ネットワークからプロキシ経由でサイトを監視したい', answer: '/proxy.html' },
  },
};

const built = {};
let browser;

before(() => {
  need(CLI, 'run scripts/setup.sh');
  need(path.join(ROOT, 'www/dist/crossfind.js'), 'run scripts/demo.sh --no-serve (the widget build)');
  for (const [tool, s] of Object.entries(SITES)) {
    const site = path.join(OUT, tool, 'site');
    rmSync(path.join(OUT, tool), { recursive: true, force: true });
    mkdirSync(path.join(OUT, tool), { recursive: true });
    s.build(site);
    const bundle = path.join(site, 'crossfind');
    execFileSync(CLI, ['index', '--input', site, '--out', bundle, '--strict', '--report', path.join(OUT, tool, 'report.txt')], { stdio: ['ignore', 'ignore', 'inherit'] });
    cpSync(path.join(ROOT, 'www/dist'), bundle, { recursive: true });
    built[tool] = { site, bundle: readBundle(bundle) };
  }
});
after(async () => {
  await browser?.close();
});

for (const [tool, s] of Object.entries(SITES)) {
  test(`${tool}: the pages and their languages`, () => {
    const { pages } = built[tool].bundle;
    assert.deepEqual(
      pages.map((p) => [p.lang, p.url]).sort(),
      s.pages.map((p) => p.slice()).sort(),
    );
  });

  test(`${tool}: translations share a group; the single-language article is alone`, () => {
    const { pages } = built[tool].bundle;
    const group = Object.fromEntries(pages.map((p) => [p.url, p.group]));
    const groups = s.translated.map((urls) => {
      const gs = new Set(urls.map((u) => group[u]));
      assert.equal(gs.size, 1, `${urls.join(', ')} are in groups ${[...gs].join(', ')}`);
      return [...gs][0];
    });
    assert.equal(new Set(groups).size, groups.length, 'two articles share a group');
    for (const u of s.alone) {
      assert.equal(pages.filter((p) => p.group === group[u]).length, 1, `${u} shares its group`);
    }
  });

  test(`${tool}: sections keep the generator's heading ids`, () => {
    const { site, bundle } = built[tool];
    const byUrl = new Map(bundle.chunks.map((c) => [c.url, c]));
    for (const [url, heading] of s.anchors) {
      const c = byUrl.get(url);
      assert.ok(c, `no section at ${url}; have ${bundle.chunks.filter((c) => c.url.startsWith(url.split('#')[0])).map((c) => c.url).join(', ')}`);
      assert.equal(c.heading, heading);
    }
    // every anchor a result links to exists on its page
    for (const c of bundle.chunks.filter((c) => c.anchor)) {
      const html = readFileSync(path.join(site, decodeURI(c.page.url)), 'utf8');
      assert.ok(html.includes(`id="${c.anchor}"`), `${c.url}: no element with that id`);
    }
    // and no heading keeps its permalink symbol
    for (const c of bundle.chunks) {
      assert.ok(!/[¶#]$/.test(c.heading), `${c.url}: heading ${JSON.stringify(c.heading)}`);
    }
  });

  test(`${tool}: navigation, sidebars, header, footer, banner and table of contents are left out`, () => {
    const { chunks } = built[tool].bundle;
    for (const c of chunks) {
      for (const s2 of s.chrome) {
        assert.ok(!c.text.includes(s2) && !c.heading.includes(s2), `${c.url} has ${JSON.stringify(s2)}: ${c.heading} / ${c.text}`);
      }
    }
    // a table of contents would put a page's headings next to each other
    const byPage = new Map();
    for (const c of chunks) byPage.set(c.page.url, [...(byPage.get(c.page.url) || []), c]);
    for (const [url, cs] of byPage) {
      const hs = cs.map((c) => c.heading).filter(Boolean);
      for (let i = 1; i < hs.length; i++) {
        const pair = `${hs[i - 1]} ${hs[i]}`;
        assert.ok(!cs.some((c) => c.text.includes(pair)), `${url}: the table of contents (${pair}) is in the text`);
      }
    }
  });

  test(`${tool}: a cross-lingual question is answered in the widget`, T, async () => {
    browser ??= await launch();
    const server = await serve(built[tool].site);
    const context = await browser.newContext({ serviceWorkers: 'block' });
    try {
      await instrument(context);
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${server.url}${s.query.page.slice(1)}`);
      await page.keyboard.press('Control+k');
      await page.locator(W.input).waitFor({ state: 'visible' });
      await waitSemantic(page);
      await typeQuery(page, s.query.text);
      const shown = (await waitForResults(page, (r) => r.length > 0, { query: s.query.text, semantic: true })).filter((r) => !r.sub);
      const rank = shown.findIndex((r) => r.url.startsWith(s.query.answer)) + 1;
      console.log(`${tool}: ${JSON.stringify(s.query.text)} -> ${s.query.answer} at rank ${rank || 'not shown'} (${shown.map((r) => r.url).join(', ')})`);
      assert.ok(rank >= 1 && rank <= 3, `${s.query.answer} not in the top 3: ${shown.map((r) => r.url).join(', ')}`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await server.close();
    }
  });
}
