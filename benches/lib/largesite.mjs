// A large generated help center, built as real HTML from the demo's
// articles (examples/helpdesk), for benches/large_site.mjs.
//
//   generateLargeSite({ demoSite, out, pages }) -> { pages, perLanguage, sectionsPerPage }
//
// `demoSite` is the demo built by examples/helpdesk/build.mjs. Every page of
// the large site is one of the demo's article pages of the same language
// used as the template (header, navigation, footer, the search element,
// the section filter), with a new article in it:
//
// - the title is the base article's title for one edition of the product
//   ("… · Kitebook for iOS"; edition names are product names, the same in
//   every language), so each (article, edition) pair is one page;
// - the lead paragraph is the base article's;
// - then three or four `##` sections: each heading is one of the demo's
//   section headings of the same category and language, each body one to
//   three blocks (paragraphs, lists, code) drawn from sections of that
//   category and language. A section that exists elsewhere (same heading
//   and body), and a heading or block repeated within a page, are avoided,
//   up to a few hundred tries (a language with few sections in a category
//   runs out: 17 of 17,661 sections and 12 pages on the 5,040-page site).
//
// The text is all real help-center text in the page's language, recombined,
// so that pages are distinct but read like the demo. Seeded: the same
// arguments give the same site, byte for byte.

import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, cpSync } from 'node:fs';
import path from 'node:path';

const LANGS = ['en', 'es', 'fr', 'de', 'pt', 'ja', 'zh', 'ko', 'ar', 'hi', 'ru', 'sw'];
export const EDITIONS = [
  'Kitebook Web', 'Kitebook Desktop for Windows', 'Kitebook Desktop for macOS', 'Kitebook for iOS', 'Kitebook for Android',
  'Kitebook Server 3', 'Kitebook Server 4', 'Kitebook Enterprise', 'Kitebook Education', 'Kitebook Nonprofit',
  'Kitebook Starter', 'Kitebook Business', 'Kitebook Gov Cloud', 'Kitebook EU Cloud', 'Kitebook Lite',
  'Kitebook Studio', 'Kitebook Field', 'Kitebook Kiosk', 'Kitebook for Linux', 'Kitebook Classic',
  'Kitebook Teams', 'Kitebook Partner Portal', 'Kitebook Reseller', 'Kitebook Sandbox', 'Kitebook Beta',
  'Kitebook 2025 LTS', 'Kitebook 2026 LTS', 'Kitebook Mobile Web', 'Kitebook Chromebook', 'Kitebook for Outlook',
  'Kitebook for Slack', 'Kitebook for Teams', 'Kitebook CLI', 'Kitebook API v1', 'Kitebook API v2',
  'Kitebook Air', 'Kitebook Pro', 'Kitebook Max', 'Kitebook Health', 'Kitebook Finance',
];

// xorshift64*, as a float in [0, 1)
function rng(seed) {
  let s = BigInt(seed) | 1n;
  const M = (1n << 64n) - 1n;
  return () => {
    s ^= s >> 12n; s ^= (s << 25n) & M; s ^= s >> 27n;
    return Number(((s * 2685821657736338717n) & M) >> 11n) / 2 ** 53;
  };
}

const BLOCK = /<(p|ul|ol|pre)(?:\s[^>]*)?>[\s\S]*?<\/\1>/g;

// One demo article page -> template parts and its text, split into sections.
function readArticle(file) {
  const html = readFileSync(file, 'utf8');
  const a0 = html.indexOf('<article');
  const a1 = html.indexOf('</article>') + '</article>'.length;
  if (a0 < 0 || a1 < a0) return null;
  const open = html.slice(a0, html.indexOf('>', a0) + 1);
  const inner = html.slice(html.indexOf('>', a0) + 1, a1 - '</article>'.length);
  const title = /<h1>([\s\S]*?)<\/h1>/.exec(inner)[1];
  const category = /data-category="([^"]+)"/.exec(open)[1];
  const parts = inner.split(/(?=<h2[\s>])/);
  const lead = (parts[0].match(BLOCK) || [])[0] ?? '';
  const sections = parts.slice(1).map((p) => {
    const h = /<h2[^>]*>([\s\S]*?)<\/h2>/.exec(p);
    return { heading: h[1], blocks: p.slice(h.index + h[0].length).match(BLOCK) || [] };
  }).filter((s) => s.blocks.length);
  return { html, open, before: html.slice(0, a0), after: html.slice(a1), title, category, lead, sections };
}

const plain = (s) => s.replace(/<[^>]+>/g, '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");

export function generateLargeSite({ demoSite, out, pages = 5040, seed = 20261205 }) {
  const rand = rng(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const perLang = Math.ceil(pages / LANGS.length);
  mkdirSync(out, { recursive: true });
  cpSync(path.join(demoSite, 'assets'), path.join(out, 'assets'), { recursive: true });
  const seen = new Set();
  let total = 0;
  let sectionsTotal = 0;
  const perLanguage = {};
  const index = {};
  for (const lang of LANGS) {
    const dir = path.join(demoSite, lang);
    const arts = readdirSync(dir).filter((f) => f.endsWith('.html') && f !== 'index.html').sort()
      .map((f) => ({ id: f.slice(0, -5), ...readArticle(path.join(dir, f)) })).filter((a) => a.title);
    const byCat = new Map();
    for (const a of arts) {
      if (!byCat.has(a.category)) byCat.set(a.category, []);
      byCat.get(a.category).push(...a.sections);
    }
    const n = Math.min(perLang, pages - total);
    if (n <= 0) break;
    if (n > arts.length * EDITIONS.length) throw new Error(`${lang}: ${n} pages need more than ${EDITIONS.length} editions of ${arts.length} articles`);
    mkdirSync(path.join(out, lang), { recursive: true });
    const list = [];
    for (let i = 0; i < n; i++) {
      const a = arts[i % arts.length];
      const edition = EDITIONS[Math.floor(i / arts.length)];
      const slug = `${a.id}--${edition.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      const title = `${a.title} · ${edition}`;
      const pool = byCat.get(a.category);
      const body = [`<h1>${title}</h1>`, a.lead];
      const nSections = 3 + Math.floor(rand() * 2);
      const usedHeadings = new Set();
      const usedBlocks = new Set([a.lead]);
      for (let s = 0; s < nSections; s++) {
        for (let tries = 0; ; tries++) {
          const heading = pick(pool).heading;
          if (usedHeadings.has(heading) && tries < 100) continue;
          const nBlocks = 1 + Math.floor(rand() * 3);
          const blocks = [];
          for (let t = 0; blocks.length < nBlocks && t < 100; t++) {
            const b = pick(pick(pool).blocks);
            if (!usedBlocks.has(b) && !blocks.includes(b)) blocks.push(b);
          }
          const key = heading + '\u0000' + blocks.join('\u0000');
          if ((!blocks.length || seen.has(key)) && tries < 200) continue;
          seen.add(key);
          usedHeadings.add(heading);
          for (const b of blocks) usedBlocks.add(b);
          body.push(`<h2 id="s${s + 1}">${heading}</h2>`, ...blocks);
          break;
        }
      }
      sectionsTotal += nSections;
      const desc = plain(a.lead).slice(0, 160);
      const head = a.before
        .replace(/<link rel="alternate"[^>]*>\n?/g, '')
        .replace(/<title>[\s\S]*?<\/title>/, () => `<title>${title}</title>`)
        .replace(/<meta name="description" content="[^"]*">/, () => `<meta name="description" content="${desc.replace(/"/g, '&quot;')}">`)
        .replace(new RegExp(`href="/([a-z]{2})/${a.id}\\.html"`, 'g'), 'href="/$1/index.html"');
      const tail = a.after.replace(/<p class="also">[\s\S]*?<\/p>\n?/, '');
      const open = a.open.replace(/data-id="[^"]*"/, `data-id="${slug}"`);
      writeFileSync(path.join(out, lang, `${slug}.html`), `${head}${open}\n${body.join('\n')}\n</article>${tail}`);
      list.push([slug, title]);
    }
    total += n;
    perLanguage[lang] = n;
    index[lang] = list;
  }
  // a plain list of links per language and a root picker, as the demo has
  const root = readFileSync(path.join(demoSite, 'index.html'), 'utf8');
  writeFileSync(path.join(out, 'index.html'), root);
  for (const [lang, list] of Object.entries(index)) {
    const tpl = readFileSync(path.join(demoSite, lang, 'index.html'), 'utf8');
    const m0 = tpl.indexOf('<main');
    const m1 = tpl.indexOf('</main>');
    const items = list.map(([slug, title]) => `<li><a href="/${lang}/${slug}.html">${title}</a></li>`).join('\n');
    writeFileSync(path.join(out, lang, 'index.html'), `${tpl.slice(0, m0)}<main class="index">\n<ul class="article-list">\n${items}\n</ul>\n${tpl.slice(m1)}`);
  }
  return { pages: total, perLanguage, sectionsPerPage: sectionsTotal / total, seed };
}

export function siteExists(out) {
  return existsSync(path.join(out, 'index.html'));
}
