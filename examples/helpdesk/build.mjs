#!/usr/bin/env node
// Builds the Kitebook demo help center (examples/helpdesk) into a static site.
//
//   node examples/helpdesk/build.mjs --out <DIR> [--strict]
//
// Renders content/<lang>/<id>.md to <DIR>/<lang>/<id>.html, writes one index
// per language, a language picker at <DIR>/index.html and <DIR>/assets/site.css.
// Each article declares its category as the search filter `section`
// (data-crossfind-filter="section:Billing"), the same English value in every
// language.
// Node 20, no dependencies. The Markdown renderer supports exactly the subset
// described in README.md.
//
// Validation: front matter that disagrees with the file path, unknown ids,
// category mismatches, missing section anchors and malformed Markdown are
// errors (exit code 1). Articles listed in catalog.json but not written yet,
// and internal links to such articles, are warnings unless --strict is given.

import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(fileURLToPath(import.meta.url));
const CONTENT = join(ROOT, 'content');

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const args = { out: null, strict: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') args.out = argv[++i];
    else if (a.startsWith('--out=')) args.out = a.slice(6);
    else if (a === '--strict') args.strict = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else { console.error(`build.mjs: unknown argument ${a}`); process.exit(2); }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (args.help || !args.out) {
  console.error('usage: node examples/helpdesk/build.mjs --out <DIR> [--strict]');
  process.exit(args.help ? 0 : 2);
}
const OUT = resolve(args.out);

// ------------------------------------------------------------ site metadata

const LANGS = ['en', 'es', 'fr', 'de', 'pt', 'ja', 'zh', 'ko', 'ar', 'hi', 'ru', 'sw'];
const RTL = new Set(['ar']);
const CATEGORIES = ['account', 'billing', 'security', 'integrations', 'troubleshooting'];

const UI = {
  en: { name: 'English', site: 'Kitebook Help Center', updated: 'Updated', languages: 'Languages', categories: 'Categories', also: 'Also available in', all: 'All articles', note: 'Kitebook is a fictional product. Demo content for crossfind.',
        cat: { account: 'Account', billing: 'Billing', security: 'Security', integrations: 'Integrations & API', troubleshooting: 'Troubleshooting' } },
  es: { name: 'Español', site: 'Centro de ayuda de Kitebook', updated: 'Actualizado', languages: 'Idiomas', categories: 'Categorías', also: 'También disponible en', all: 'Todos los artículos', note: 'Kitebook es un producto ficticio. Contenido de demostración para crossfind.',
        cat: { account: 'Cuenta', billing: 'Facturación', security: 'Seguridad', integrations: 'Integraciones y API', troubleshooting: 'Solución de problemas' } },
  fr: { name: 'Français', site: 'Centre d’aide Kitebook', updated: 'Mis à jour', languages: 'Langues', categories: 'Catégories', also: 'Également disponible en', all: 'Tous les articles', note: 'Kitebook est un produit fictif. Contenu de démonstration pour crossfind.',
        cat: { account: 'Compte', billing: 'Facturation', security: 'Sécurité', integrations: 'Intégrations et API', troubleshooting: 'Dépannage' } },
  de: { name: 'Deutsch', site: 'Kitebook Hilfe-Center', updated: 'Aktualisiert', languages: 'Sprachen', categories: 'Kategorien', also: 'Auch verfügbar auf', all: 'Alle Artikel', note: 'Kitebook ist ein fiktives Produkt. Demo-Inhalte für crossfind.',
        cat: { account: 'Konto', billing: 'Abrechnung', security: 'Sicherheit', integrations: 'Integrationen & API', troubleshooting: 'Fehlerbehebung' } },
  pt: { name: 'Português', site: 'Central de ajuda do Kitebook', updated: 'Atualizado', languages: 'Idiomas', categories: 'Categorias', also: 'Também disponível em', all: 'Todos os artigos', note: 'O Kitebook é um produto fictício. Conteúdo de demonstração para o crossfind.',
        cat: { account: 'Conta', billing: 'Faturamento', security: 'Segurança', integrations: 'Integrações e API', troubleshooting: 'Solução de problemas' } },
  ja: { name: '日本語', site: 'Kitebook ヘルプセンター', updated: '更新日', languages: '言語', categories: 'カテゴリ', also: '他の言語で読む', all: 'すべての記事', note: 'Kitebook は架空の製品です。crossfind のデモ用コンテンツです。',
        cat: { account: 'アカウント', billing: '請求とお支払い', security: 'セキュリティ', integrations: '連携と API', troubleshooting: 'トラブルシューティング' } },
  zh: { name: '中文', site: 'Kitebook 帮助中心', updated: '更新于', languages: '语言', categories: '分类', also: '其他语言版本', all: '所有文章', note: 'Kitebook 是虚构的产品。本站为 crossfind 演示内容。',
        cat: { account: '账户', billing: '账单与付款', security: '安全', integrations: '集成与 API', troubleshooting: '故障排除' } },
  ko: { name: '한국어', site: 'Kitebook 고객센터', updated: '업데이트', languages: '언어', categories: '카테고리', also: '다른 언어로 보기', all: '모든 문서', note: 'Kitebook은 가상의 제품입니다. crossfind 데모 콘텐츠입니다.',
        cat: { account: '계정', billing: '결제', security: '보안', integrations: '연동 및 API', troubleshooting: '문제 해결' } },
  ar: { name: 'العربية', site: 'مركز مساعدة Kitebook', updated: 'آخر تحديث', languages: 'اللغات', categories: 'الأقسام', also: 'متوفر أيضًا باللغات', all: 'جميع المقالات', note: 'Kitebook منتج خيالي. محتوى تجريبي لـ crossfind.',
        cat: { account: 'الحساب', billing: 'الفوترة والدفع', security: 'الأمان', integrations: 'التكاملات وواجهة API', troubleshooting: 'استكشاف الأخطاء وإصلاحها' } },
  hi: { name: 'हिन्दी', site: 'Kitebook सहायता केंद्र', updated: 'अपडेट किया गया', languages: 'भाषाएँ', categories: 'श्रेणियाँ', also: 'अन्य भाषाओं में भी उपलब्ध', all: 'सभी लेख', note: 'Kitebook एक काल्पनिक उत्पाद है। crossfind के लिए डेमो सामग्री।',
        cat: { account: 'खाता', billing: 'बिलिंग', security: 'सुरक्षा', integrations: 'इंटीग्रेशन और API', troubleshooting: 'समस्या निवारण' } },
  ru: { name: 'Русский', site: 'Справочный центр Kitebook', updated: 'Обновлено', languages: 'Языки', categories: 'Разделы', also: 'Также доступно на языках', all: 'Все статьи', note: 'Kitebook — вымышленный продукт. Демонстрационный контент для crossfind.',
        cat: { account: 'Аккаунт', billing: 'Оплата', security: 'Безопасность', integrations: 'Интеграции и API', troubleshooting: 'Устранение неполадок' } },
  sw: { name: 'Kiswahili', site: 'Kituo cha Msaada cha Kitebook', updated: 'Imesasishwa', languages: 'Lugha', categories: 'Kategoria', also: 'Inapatikana pia kwa', all: 'Makala zote', note: 'Kitebook ni bidhaa ya kubuni. Maudhui ya maonyesho kwa crossfind.',
        cat: { account: 'Akaunti', billing: 'Malipo', security: 'Usalama', integrations: 'Miunganisho na API', troubleshooting: 'Utatuzi wa matatizo' } },
};

// --------------------------------------------------------------- diagnostics

let errors = 0;
let warnings = 0;
function error(where, msg) { errors++; console.error(`error: ${where}: ${msg}`); }
function warn(where, msg) { warnings++; console.error(`warning: ${where}: ${msg}`); }
function missing(where, msg) { args.strict ? error(where, msg) : warn(where, msg); }

// ---------------------------------------------------------------- utilities

function esc(s) {
  return String(s)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function write(rel, text) {
  const file = join(OUT, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

// ---------------------------------------------------------------- front matter

function parseFrontMatter(src, where) {
  const text = src.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const m = /^---\n([\s\S]*?)\n---\n?/.exec(text);
  if (!m) { error(where, 'missing front matter (--- ... ---) at the top of the file'); return null; }
  const meta = {};
  for (const line of m[1].split('\n')) {
    if (!line.trim()) continue;
    const kv = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
    if (!kv) { error(where, `bad front matter line: ${JSON.stringify(line)}`); continue; }
    let v = kv[2].trim();
    if (/^(["']).*\1$/.test(v) && v.length >= 2) v = v.slice(1, -1);
    meta[kv[1]] = v;
  }
  return { meta, body: text.slice(m[0].length), bodyLine: m[0].split('\n').length - 1 };
}

// ------------------------------------------------------------------ markdown

const SAFE_URL = /^(https?:\/\/|mailto:|\/|#|\.{0,2}\/?[\w-]+\.html)/i;

// Inline: `code`, **bold**, [text](url). Everything else is escaped text.
function inline(text, ctx) {
  const codes = [];
  let s = text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code) => {
    codes.push(code.replace(/^ (.*) $/, '$1'));
    return `\u0000${codes.length - 1}\u0000`;
  });
  if (s.includes('`')) warn(ctx.where, `unmatched backtick in: ${text.slice(0, 60)}`);
  s = esc(s);
  s = s.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (all, label, href) => {
    const raw = href.replace(/&amp;/g, '&');
    if (!SAFE_URL.test(raw)) { warn(ctx.where, `unsupported link target ${raw}`); return label; }
    ctx.links.push(raw);
    return `<a href="${href}">${label}</a>`;
  });
  s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${esc(codes[+i])}</code>`);
}

function plainText(text) {
  return text.replace(/`([^`]*)`/g, '$1').replace(/\*\*/g, '').replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
}

const RE_FENCE = /^(\s*)(```+|~~~+)\s*([\w+-]*)\s*$/;
const RE_HEADING = /^(#{1,6})\s+(.*?)\s*$/;
const RE_UL = /^[-*]\s+(.*)$/;
const RE_OL = /^(\d+)[.)]\s+(.*)$/;

function renderMarkdown(body, ctx) {
  const lines = body.split('\n');
  const out = [];
  const headings = [];
  let para = [];
  let list = null; // { type: 'ul'|'ol', start, items: [string] }

  const flushPara = () => {
    if (para.length) out.push(`<p>${inline(para.join(' '), ctx)}</p>`);
    if (para.length && !ctx.description) ctx.description = plainText(para.join(' '));
    para = [];
  };
  const flushList = () => {
    if (!list) return;
    const start = list.type === 'ol' && list.start !== 1 ? ` start="${list.start}"` : '';
    out.push(`<${list.type}${start}>` + list.items.map((it) => `<li>${inline(it, ctx)}</li>`).join('') + `</${list.type}>`);
    list = null;
  };
  const flush = () => { flushPara(); flushList(); };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const at = `${ctx.where}:${ctx.lineOffset + i + 1}`;

    const fence = RE_FENCE.exec(line);
    if (fence) {
      flush();
      const marker = fence[2];
      const indent = fence[1].length;
      const code = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i].trim().startsWith(marker[0].repeat(marker.length)) && lines[i].trim().replace(/[`~]/g, '') === '') { closed = true; break; }
        code.push(indent ? lines[i].replace(new RegExp(`^ {0,${indent}}`), '') : lines[i]);
      }
      if (!closed) error(at, 'unclosed code fence');
      const cls = fence[3] ? ` class="language-${esc(fence[3])}"` : '';
      out.push(`<pre><code${cls}>${esc(code.join('\n'))}</code></pre>`);
      continue;
    }

    if (!line.trim()) { flush(); continue; }

    const h = RE_HEADING.exec(line);
    if (h) {
      flush();
      const level = h[1].length;
      let text = h[2];
      let id = null;
      const idm = /\s*\{#([^}\s]*)\}$/.exec(text);
      if (idm) { id = idm[1]; text = text.slice(0, idm.index); }
      if (level < 2 || level > 3) { error(at, `only ## and ### headings are allowed (the title is the h1)`); continue; }
      if (id !== null && !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(id)) error(at, `heading id "${id}" must be lowercase ascii words joined by hyphens`);
      if (level === 2 && id === null) error(at, `## heading without {#anchor}: ${text}`);
      if (id) {
        if (headings.some((x) => x.id === id)) error(at, `duplicate heading id "${id}"`);
        headings.push({ level, id, text });
      }
      out.push(`<h${level}${id ? ` id="${esc(id)}"` : ''}>${inline(text, ctx)}</h${level}>`);
      continue;
    }

    const ul = RE_UL.exec(line);
    const ol = ul ? null : RE_OL.exec(line);
    if (ul || ol) {
      flushPara();
      const type = ul ? 'ul' : 'ol';
      if (list && list.type !== type) flushList();
      if (!list) list = { type, start: ol ? parseInt(ol[1], 10) : 1, items: [] };
      list.items.push(ul ? ul[1] : ol[2]);
      continue;
    }

    // Indented continuation of a list item.
    if (list && /^\s{2,}\S/.test(line)) {
      if (/^\s+([-*]|\d+[.)])\s/.test(line)) warn(at, 'nested lists are not supported; rendered as text');
      list.items[list.items.length - 1] += ' ' + line.trim();
      continue;
    }

    if (/^\s*(<[a-zA-Z/!]|>|\|)/.test(line)) warn(at, 'raw HTML, blockquotes and tables are not supported; rendered as text');
    flushList();
    para.push(line.trim());
  }
  flush();
  return { html: out.join('\n'), headings };
}

// ------------------------------------------------------------------- content

const catalog = JSON.parse(readFileSync(join(ROOT, 'catalog.json'), 'utf8'));
const byId = new Map();
for (const entry of catalog) {
  if (byId.has(entry.id)) error('catalog.json', `duplicate id ${entry.id}`);
  if (!CATEGORIES.includes(entry.category)) error('catalog.json', `${entry.id}: unknown category ${entry.category}`);
  for (const l of entry.langs) if (!LANGS.includes(l)) error('catalog.json', `${entry.id}: unknown language ${l}`);
  byId.set(entry.id, entry);
}

const articles = []; // { id, lang, meta, html, description, links, where }
const versions = new Map(); // id -> Set(lang)

const langDirs = existsSync(CONTENT)
  ? readdirSync(CONTENT).filter((d) => statSync(join(CONTENT, d)).isDirectory()).sort()
  : [];

for (const lang of langDirs) {
  if (!LANGS.includes(lang)) { error(`content/${lang}`, `unknown language directory (expected one of ${LANGS.join(' ')})`); continue; }
  for (const file of readdirSync(join(CONTENT, lang)).sort()) {
    if (!file.endsWith('.md')) continue;
    const where = `content/${lang}/${file}`;
    const id = file.slice(0, -3);
    const parsed = parseFrontMatter(readFileSync(join(CONTENT, lang, file), 'utf8'), where);
    if (!parsed) continue;
    const { meta, body } = parsed;

    let ok = true;
    if (meta.id !== id) { error(where, `front matter id "${meta.id}" does not match file name "${id}"`); ok = false; }
    if (meta.lang !== lang) { error(where, `front matter lang "${meta.lang}" does not match directory "${lang}"`); ok = false; }
    for (const key of ['title', 'category', 'updated']) if (!meta[key]) error(where, `front matter is missing "${key}"`);
    if (meta.updated && !/^\d{4}-\d{2}-\d{2}$/.test(meta.updated)) error(where, `updated must be YYYY-MM-DD, got "${meta.updated}"`);
    const entry = byId.get(id);
    if (!entry) { error(where, `id "${id}" is not in catalog.json`); ok = false; }
    else {
      if (meta.category && meta.category !== entry.category) error(where, `category "${meta.category}" differs from catalog ("${entry.category}")`);
      if (!entry.langs.includes(lang)) warn(where, `catalog.json does not list "${lang}" for ${id}; rendering anyway`);
    }
    if (!ok) continue;

    const ctx = { where, links: [], description: '', lineOffset: parsed.bodyLine };
    const { html, headings } = renderMarkdown(body, ctx);

    const anchors = new Set(headings.filter((h) => h.level === 2).map((h) => h.id));
    const expected = entry.sections.map((s) => s.anchor);
    for (const a of expected) if (!anchors.has(a)) error(where, `missing section {#${a}} (${entry.sections.find((s) => s.anchor === a).heading_en})`);
    for (const a of anchors) if (!expected.includes(a)) warn(where, `section {#${a}} is not in catalog.json`);
    const order = [...anchors].filter((a) => expected.includes(a));
    if (order.join() !== expected.filter((a) => anchors.has(a)).join()) warn(where, 'sections are not in catalog order');

    articles.push({ id, lang, meta, html, description: ctx.description, links: ctx.links, where });
    if (!versions.has(id)) versions.set(id, new Set());
    versions.get(id).add(lang);
  }
}

// Catalog entries that have not been written yet.
for (const entry of catalog) {
  for (const lang of entry.langs) {
    if (!versions.get(entry.id)?.has(lang)) missing(`content/${lang}/${entry.id}.md`, 'listed in catalog.json but not written yet');
  }
}

// Internal links.
for (const a of articles) {
  for (const href of a.links) {
    const m = /^\/([a-z]{2})\/([a-z0-9-]+)\.html(#[a-z0-9-]*)?$/.exec(href);
    if (!m) {
      if (/^\/(?!crossfind\/)/.test(href) && !/^\/([a-z]{2}\/)?(index\.html)?$/.test(href)) warn(a.where, `internal link ${href} does not look like /<lang>/<id>.html`);
      continue;
    }
    const [, lang, id, frag] = m;
    const entry = byId.get(id);
    if (!entry) { error(a.where, `link to unknown article ${href}`); continue; }
    if (!versions.get(id)?.has(lang)) {
      if (entry.langs.includes(lang)) missing(a.where, `link to ${href}, which is not written yet`);
      else error(a.where, `link to ${href}, but catalog.json has no "${lang}" version of ${id}`);
    }
    if (frag && frag.length > 1 && !entry.sections.some((s) => s.anchor === frag.slice(1))) error(a.where, `link to ${href}: no such section in catalog.json`);
  }
}

// ------------------------------------------------------------------ templates

const langsPresent = LANGS.filter((l) => articles.some((a) => a.lang === l));
const catalogOrder = new Map(catalog.map((e, i) => [e.id, i]));

function htmlOpen(lang, title, { description = '', alternates = [] } = {}) {
  const dir = RTL.has(lang) ? 'rtl' : 'ltr';
  return [
    '<!doctype html>',
    `<html lang="${lang}" dir="${dir}">`,
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    description ? `<meta name="description" content="${esc(description)}">` : '',
    ...alternates.map(([hl, href]) => `<link rel="alternate" hreflang="${hl}" href="${href}">`),
    '<link rel="stylesheet" href="/assets/site.css">',
    '</head>',
    '<body>',
  ].filter(Boolean).join('\n');
}

function header(lang, { current = {}, langHref = (l) => `/${l}/index.html` } = {}) {
  const ui = UI[lang];
  const langLinks = langsPresent.map((l) => {
    const cur = l === lang ? ' aria-current="true"' : '';
    return `<li><a href="${langHref(l)}" hreflang="${l}" lang="${l}"${cur}>${esc(UI[l].name)}</a></li>`;
  }).join('');
  const catLinks = CATEGORIES.map((c) => {
    const cur = c === current.category ? ' aria-current="true"' : '';
    return `<li><a href="/${lang}/index.html#${c}"${cur}>${esc(ui.cat[c])}</a></li>`;
  }).join('');
  return [
    '<header class="site-header">',
    '<div class="bar">',
    `<a class="brand" href="/${lang}/index.html">${esc(ui.site)}</a>`,
    '<crossfind-search></crossfind-search>',
    '</div>',
    '<nav>',
    `<ul class="categories" aria-label="${esc(ui.categories)}">${catLinks}</ul>`,
    `<ul class="languages" aria-label="${esc(ui.languages)}">${langLinks}</ul>`,
    '</nav>',
    '</header>',
  ].join('\n');
}

function footer(lang) {
  const ui = UI[lang];
  return [
    '<footer class="site-footer">',
    `<p>© 2026 Kitebook · ${esc(ui.site)} · <a href="/index.html">${esc(ui.languages)}</a></p>`,
    `<p>${esc(ui.note)}</p>`,
    '</footer>',
    '<script type="module" src="/crossfind/crossfind.js"></script>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function formatDate(iso, lang) {
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return iso;
  try { return new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeZone: 'UTC' }).format(d); } catch { return iso; }
}

function articlePage(a) {
  const ui = UI[a.lang];
  const entry = byId.get(a.id);
  const others = LANGS.filter((l) => l !== a.lang && versions.get(a.id).has(l));
  const alternates = others.map((l) => [l, `/${l}/${a.id}.html`]);
  if (versions.get(a.id).has('en')) alternates.push(['x-default', `/en/${a.id}.html`]);
  const desc = a.description.length > 180 ? a.description.slice(0, 177).replace(/\s+\S*$/, '') + '…' : a.description;
  const also = others.length
    ? `<p class="also">${esc(ui.also)}: ${others.map((l) => `<a href="/${l}/${a.id}.html" hreflang="${l}" lang="${l}">${esc(UI[l].name)}</a>`).join(' · ')}</p>`
    : '';
  return [
    htmlOpen(a.lang, `${a.meta.title} · ${ui.site}`, { description: desc, alternates }),
    header(a.lang, {
      current: { category: entry.category },
      langHref: (l) => (versions.get(a.id).has(l) ? `/${l}/${a.id}.html` : `/${l}/index.html`),
    }),
    '<main>',
    // The article's section as a search filter (one English name in every
    // language, so a filter finds all language versions): the widget's filter bar.
    `<article data-id="${esc(a.id)}" data-category="${esc(entry.category)}" data-crossfind-filter="section:${esc(UI.en.cat[entry.category])}">`,
    `<h1>${esc(a.meta.title)}</h1>`,
    a.html,
    '</article>',
    '<aside class="article-meta">',
    `<p><a href="/${a.lang}/index.html#${entry.category}">${esc(ui.cat[entry.category])}</a> · ${esc(ui.updated)}: <time datetime="${esc(a.meta.updated)}">${esc(formatDate(a.meta.updated, a.lang))}</time></p>`,
    also,
    '</aside>',
    '</main>',
    footer(a.lang),
  ].filter(Boolean).join('\n');
}

function langIndexPage(lang) {
  const ui = UI[lang];
  const mine = articles.filter((a) => a.lang === lang)
    .sort((x, y) => catalogOrder.get(x.id) - catalogOrder.get(y.id));
  const sections = CATEGORIES.map((c) => {
    const list = mine.filter((a) => byId.get(a.id).category === c);
    if (!list.length) return '';
    return [
      `<section id="${c}">`,
      `<h2>${esc(ui.cat[c])}</h2>`,
      '<ul class="article-list">',
      ...list.map((a) => `<li><a href="/${lang}/${a.id}.html">${esc(a.meta.title)}</a></li>`),
      '</ul>',
      '</section>',
    ].join('\n');
  }).filter(Boolean);
  const alternates = langsPresent.filter((l) => l !== lang).map((l) => [l, `/${l}/index.html`]);
  if (langsPresent.includes('en')) alternates.push(['x-default', '/en/index.html']);
  return [
    htmlOpen(lang, ui.site, { alternates }),
    header(lang),
    '<main class="index">',
    `<h1>${esc(ui.all)}</h1>`,
    ...sections,
    '</main>',
    footer(lang),
  ].join('\n');
}

function rootIndexPage() {
  const items = langsPresent.map((l) => {
    const n = articles.filter((a) => a.lang === l).length;
    return `<li><a href="/${l}/index.html" hreflang="${l}" lang="${l}" dir="${RTL.has(l) ? 'rtl' : 'ltr'}"><span class="lang-name">${esc(UI[l].name)}</span> <span class="lang-site">${esc(UI[l].site)}</span></a> <span class="count">${n}</span></li>`;
  });
  return [
    htmlOpen('en', 'Kitebook Help Center', { alternates: langsPresent.map((l) => [l, `/${l}/index.html`]) }),
    '<header class="site-header">',
    '<div class="bar">',
    '<a class="brand" href="/index.html">Kitebook Help Center</a>',
    '<crossfind-search></crossfind-search>',
    '</div>',
    '</header>',
    '<main class="picker">',
    '<h1>Choose your language</h1>',
    `<ul class="language-picker">${items.join('\n')}</ul>`,
    '</main>',
    '<footer class="site-footer">',
    `<p>© 2026 Kitebook · ${esc(UI.en.note)}</p>`,
    '</footer>',
    '<script type="module" src="/crossfind/crossfind.js"></script>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const CSS = `/* Kitebook help center demo. Logical properties only, so RTL (ar) works. */
:root {
  --fg: #1d2330;
  --muted: #5b6475;
  --bg: #ffffff;
  --soft: #f4f6fa;
  --line: #dde2ea;
  --accent: #2457d6;
  --accent-soft: #e8eefc;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  color: var(--fg);
  background: var(--bg);
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans Arabic", "Noto Sans Devanagari", "Noto Sans JP", "Noto Sans SC", "Noto Sans KR", sans-serif;
}
a { color: var(--accent); text-underline-offset: 0.15em; }
a:hover { text-decoration-thickness: 2px; }
.site-header {
  background: var(--soft);
  border-block-end: 1px solid var(--line);
  padding-block: 0.75rem;
  padding-inline: max(1rem, calc((100% - 60rem) / 2));
}
.site-header .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.75rem 1.5rem; }
.brand { font-weight: 700; font-size: 1.15rem; color: var(--fg); text-decoration: none; }
crossfind-search { display: block; flex: 1 1 16rem; min-inline-size: 0; }
.site-header nav { margin-block-start: 0.5rem; display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0.25rem 1.5rem; }
.site-header nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 0.9rem; }
.site-header nav a { text-decoration: none; font-size: 0.92rem; }
.site-header nav .languages a { color: var(--muted); }
.site-header nav a[aria-current] { color: var(--fg); font-weight: 600; border-block-end: 2px solid var(--accent); }
main {
  max-inline-size: 46rem;
  margin-inline: auto;
  padding-block: 2rem 3rem;
  padding-inline: 1rem;
}
h1 { font-size: 2rem; line-height: 1.25; margin-block: 0 1rem; }
h2 { font-size: 1.35rem; line-height: 1.3; margin-block: 2rem 0.6rem; padding-block-start: 0.5rem; }
h3 { font-size: 1.1rem; margin-block: 1.5rem 0.5rem; }
h2[id], h3[id] { scroll-margin-block-start: 1rem; }
p, ul, ol, pre { margin-block: 0 1rem; }
ul, ol { padding-inline-start: 1.5rem; }
li + li { margin-block-start: 0.3rem; }
code {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.9em;
  background: var(--soft);
  border: 1px solid var(--line);
  border-radius: 4px;
  padding-inline: 0.3em;
  unicode-bidi: isolate;
}
pre {
  background: #151a24;
  color: #e8ecf3;
  border-radius: 8px;
  padding-block: 0.9rem;
  padding-inline: 1rem;
  overflow-x: auto;
  direction: ltr;
  text-align: start;
  line-height: 1.45;
}
pre code { background: none; border: 0; padding: 0; color: inherit; font-size: 0.88rem; }
strong { font-weight: 650; }
.article-meta {
  margin-block-start: 2.5rem;
  padding-block-start: 1rem;
  border-block-start: 1px solid var(--line);
  color: var(--muted);
  font-size: 0.92rem;
}
.article-meta p { margin-block: 0 0.4rem; }
.index section { margin-block-end: 1.5rem; }
.article-list { list-style: none; padding-inline-start: 0; }
.article-list li { padding-block: 0.35rem; border-block-end: 1px solid var(--line); }
.article-list a { text-decoration: none; }
.language-picker { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0.75rem; }
.language-picker li { position: relative; border: 1px solid var(--line); border-radius: 8px; padding-block: 0.75rem; padding-inline: 1rem; }
.language-picker li:hover { background: var(--accent-soft); }
.language-picker a { text-decoration: none; display: block; }
.language-picker .lang-name { display: block; font-weight: 650; font-size: 1.1rem; color: var(--fg); }
.language-picker .lang-site { display: block; font-size: 0.85rem; color: var(--muted); }
.language-picker .count { position: absolute; inset-block-start: 0.75rem; inset-inline-end: 1rem; font-size: 0.8rem; color: var(--muted); }
.site-footer {
  border-block-start: 1px solid var(--line);
  background: var(--soft);
  color: var(--muted);
  font-size: 0.85rem;
  padding-block: 1rem;
  padding-inline: max(1rem, calc((100% - 60rem) / 2));
}
.site-footer p { margin-block: 0.2rem; }
html[dir="rtl"] body { font-size: 17px; }
@media (max-width: 40rem) {
  h1 { font-size: 1.6rem; }
  .site-header nav { flex-direction: column; }
}
`;

// -------------------------------------------------------------------- output

mkdirSync(OUT, { recursive: true });
write('assets/site.css', CSS);
for (const a of articles) write(`${a.lang}/${a.id}.html`, articlePage(a));
for (const lang of langsPresent) write(`${lang}/index.html`, langIndexPage(lang));
write('index.html', rootIndexPage());

const perLang = langsPresent.map((l) => {
  const have = articles.filter((a) => a.lang === l).length;
  const want = catalog.filter((e) => e.langs.includes(l)).length;
  return `${l} ${have}/${want}`;
}).join(', ');
console.log(`built ${articles.length} article pages into ${OUT} (${perLang})`);
console.log(`${errors} error(s), ${warnings} warning(s)${args.strict ? ' [strict]' : ''}`);
process.exit(errors ? 1 : 0);
