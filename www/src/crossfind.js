// crossfind widget: one script tag, answers in the reader's language.
//
//   <crossfind-search></crossfind-search>
//   <script type="module" src="/crossfind/crossfind.js"></script>
//
// The script finds its bundle next to itself (manifest.json, shards, model/),
// starts the search worker, and defines <crossfind-search>: a button that
// opens a modal search (also Ctrl/Cmd+K and "/"). Attributes:
//   offline[="<scope>"]  register the service worker (sw.js) so the site and
//                        its search work offline after one visit (scope: the
//                        site root, the folder above the bundle, by default)
//   offline-worker="/crossfind-sw.js"  a worker script at the site root that
//                        does importScripts('/crossfind/sw.js'), for hosts that
//                        cannot send Service-Worker-Allowed
//   offline-start="load" download the offline copy on the first page view;
//                        by default it starts after the reader's first search,
//                        and never under Save-Data or on a slow or cellular
//                        connection (enableOffline() overrides that)
//   offline-pages="100"  how many copies of the site's pages (and stylesheets)
//                        the service worker keeps at most (default 100)
//   semantic="eager"     fetch the multilingual model right away instead of on
//                        the first opening of the search (or "off": never)
//   wasm="baseline"      which wasm build the worker runs: "auto" (default: the
//                        relaxed-SIMD build where the browser has relaxed SIMD),
//                        "baseline" or "relaxed"; the page URL's
//                        ?crossfind-wasm=... overrides it (for testing)
//   strings='{"placeholder": "..."}'  the site's own UI strings, in the page's
//                        language (keys of i18n/en.json; www/README.md)
//
// JS API (module exports, also window.crossfind):
//   search(query, {lang, k, mode}) -> Promise<hits>
//   ready(), semanticReady() -> Promise (the latter starts the model download);
//   loadSemantic(); open(); close(); status; offline() -> Promise<{state, version}>;
//   enableOffline(); removeOffline() -> Promise
// Events (bubbling from the element, and on document for engine events):
//   ready, semantic-ready, model-progress, search-error, search, results,
//   zero-results, result-click (cancelable), offline-progress, offline-ready,
//   offline-paused.
//
// Page content (titles, headings, snippets) is only ever set as text, and a
// result's URL becomes a link only when it is an http(s) page of this origin
// (safeHref): see docs/security.md.

import fallbackStrings from './i18n/en.json';
import { UI_LANGS, pickLanguage, tableNames, direction, format, checkTable } from './strings.mjs';

const BASE = new URL('./', import.meta.url);
const DEBOUNCE_MS = 60;
const K = 10;

// ------------------------------------------------------------ reader language

function primary(tag) {
  return String(tag || '').trim().toLowerCase().split(/[-_]/)[0];
}

function readerLangs() {
  const out = [];
  const add = (t) => {
    const p = primary(t);
    if (/^[a-z]{2,3}$/.test(p) && !out.includes(p)) out.push(p);
  };
  add(document.documentElement.getAttribute('lang'));
  for (const l of navigator.languages || [navigator.language]) add(l);
  return out;
}

const READER = readerLangs();

// ------------------------------------------------------------------- strings
//
// The UI language is the first of the page's language and the browser's
// (full tags: zh-TW reads Traditional Chinese) that has a table of strings:
// one crossfind ships (i18n/<lang>.json, fetched; en is inlined above), or
// a complete one the site gives. The site's strings are the JSON object in
// the `strings` attribute of the first <crossfind-search> that has one, in
// the language of that element (its lang, usually <html lang>); they replace
// the shipped strings of that language key by key. A key no table has is
// shown in English. Strings are checked as the shipped files are
// (strings.mjs): a key that fails is left out with a console warning.

const READER_TAGS = [document.documentElement.getAttribute('lang'), ...(navigator.languages || [navigator.language])].filter(Boolean);
let UI_LANG = pickLanguage(READER_TAGS);
let strings = fallbackStrings; // the shipped table of UI_LANG
let siteStrings = null; // the site's strings for UI_LANG
const shippedTables = new Map([['en', Promise.resolve(fallbackStrings)]]);

function shippedTable(lang) {
  if (!shippedTables.has(lang)) {
    const got = fetch(new URL(`i18n/${lang}.json`, BASE))
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null);
    shippedTables.set(lang, got);
  }
  return shippedTables.get(lang);
}

const stringWarnings = new Set();
function warnStrings(message) {
  if (stringWarnings.has(message)) return;
  stringWarnings.add(message);
  console.warn(`crossfind: strings attribute: ${message}`);
}

// {lang, table, complete} from the first <crossfind-search strings>, or null.
function readSiteStrings() {
  const el = document.querySelector('crossfind-search[strings]');
  if (!el) return null;
  const lang = tableNames(el.closest('[lang]')?.getAttribute('lang') || 'en')[0] || 'en';
  let table;
  try {
    table = JSON.parse(el.getAttribute('strings'));
  } catch (e) {
    warnStrings(`not JSON (${e.message}); the shipped strings are shown`);
    return null;
  }
  const problems = checkTable(lang, table, fallbackStrings, { shipped: false });
  for (const p of problems) warnStrings(`${p.message}; ${p.key ? 'the shipped string is shown' : 'the shipped strings are shown'}`);
  if (problems.some((p) => p.key === null)) return null;
  const bad = new Set(problems.map((p) => p.key));
  const good = Object.fromEntries(Object.entries(table).filter(([k]) => !bad.has(k)));
  const missing = Object.keys(fallbackStrings).filter((k) => !(k in good));
  const complete = missing.length === 0;
  if (!complete && !UI_LANGS.includes(lang)) {
    warnStrings(`crossfind has no strings in ${lang}: the site's are used once they give every key (missing: ${missing.join(', ')})`);
  }
  return { lang, table: good, complete };
}

// Reads the site's strings, settles the UI language, loads its table and
// shows the strings in every widget. The latest call wins.
let stringsConfigured = null;
function configureStrings() {
  const site = readSiteStrings();
  const available = site && (site.complete || UI_LANGS.includes(site.lang)) ? UI_LANGS.concat(site.lang) : UI_LANGS;
  const lang = pickLanguage(READER_TAGS, available);
  const own = site && site.lang === lang ? site.table : null;
  const done = (UI_LANGS.includes(lang) ? shippedTable(lang) : Promise.resolve(null)).then((table) => {
    if (stringsConfigured !== done) return;
    if (lang !== UI_LANG) displayNames = null;
    UI_LANG = uiLanguage = lang;
    strings = table || fallbackStrings;
    siteStrings = own;
    for (const el of elements) el._applyStrings();
  });
  stringsConfigured = done;
  return done;
}

// Several changes in one task (elements upgraded, attributes set) read once.
let stringsQueued = false;
function reconfigureStrings() {
  if (stringsQueued) return;
  stringsQueued = true;
  queueMicrotask(() => {
    stringsQueued = false;
    configureStrings();
  });
}

function t(key, vars = {}) {
  return format(UI_LANG, [siteStrings, strings, fallbackStrings], key, vars);
}

let displayNames = null;
function langName(code) {
  try {
    displayNames = displayNames || new Intl.DisplayNames([UI_LANG], { type: 'language' });
    return displayNames.of(code) || code;
  } catch {
    return code;
  }
}

function listOf(items) {
  try {
    return new Intl.ListFormat(UI_LANG, { style: 'long', type: 'conjunction' }).format(items);
  } catch {
    return items.join(', ');
  }
}

function fmtNumber(n, digits = 1) {
  try {
    return new Intl.NumberFormat(UI_LANG, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n);
  } catch {
    return n.toFixed(digits);
  }
}

// Why something failed, in words for the reader.
function reason(p) {
  switch (p.code) {
    case 'checksum_mismatch':
    case 'corrupt_file':
    case 'tokenizer':
      return t('reasonDamaged', { file: p.file || '?' });
    case 'version_mismatch':
      return t('reasonVersion');
    case 'model_mismatch':
      return t('reasonModel');
    case 'missing_file':
    case 'network':
      return t('reasonNetwork');
    default:
      return t('reasonOther');
  }
}

// -------------------------------------------------------------------- events

const elements = new Set();

function emit(name, detail, target = null) {
  const init = { detail, bubbles: true, composed: true };
  if (target) return target.dispatchEvent(new CustomEvent(name, { ...init, cancelable: name === 'result-click' }));
  return document.dispatchEvent(new CustomEvent(name, init));
}

// Engine-wide news: to every widget (not bubbling) and once to the document.
function broadcast(name, detail) {
  for (const el of elements) el.dispatchEvent(new CustomEvent(name, { detail }));
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

// ------------------------------------------------------------- engine client

const settle = () => {
  let resolve, reject;
  const promise = new Promise((a, b) => {
    resolve = a;
    reject = b;
  });
  promise.catch(() => {}); // rejections are reported as events, never as uncaught errors
  return { promise, resolve, reject };
};

// The wasm build asked for: ?crossfind-wasm= on the page, else the first
// element's wasm attribute, else auto (the worker decides).
function wasmWanted() {
  const fromUrl = new URLSearchParams(location.search).get('crossfind-wasm');
  if (fromUrl) return fromUrl;
  return document.querySelector('crossfind-search[wasm]')?.getAttribute('wasm') || 'auto';
}

const client = {
  worker: null,
  seq: 0,
  pending: new Map(), // id -> {onUpdate, resolve}
  status: {
    lexical: 'loading', // loading | ready | failed
    semantic: 'idle', // idle | loading | building | ready | failed | unavailable
    loaded: 0,
    total: 0,
    languages: {},
    problems: [],
    offline: 'off', // off | waiting (no search yet) | paused (offlineHold: save-data, cellular, slow-connection) | syncing | ready | failed | removed
    wasm: null, // the wasm build the worker runs, once ready: baseline | relaxed
  },
  ready: settle(),
  semanticReady: settle(),
  semanticAsked: false,
  semanticOff: false,

  start() {
    if (this.worker) return;
    try {
      this.worker = new Worker(new URL('worker.js', BASE), { type: 'module', name: 'crossfind' });
    } catch (e) {
      this.onProblem({ stage: 'index', code: 'worker', message: String(e.message || e), fatal: true });
      return;
    }
    this.worker.onmessage = (ev) => this.onMessage(ev.data);
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      this.onProblem({ stage: 'index', code: 'worker', message: ev.message || 'the search worker failed to start', fatal: true });
    };
    this.worker.postMessage({ type: 'init', base: BASE.href, semantic: this.semanticAsked, wasm: wasmWanted() });
  },

  loadSemantic() {
    if (this.semanticAsked || this.semanticOff) return;
    this.semanticAsked = true;
    if (this.status.semantic === 'idle') this.status.semantic = 'loading';
    this.start();
    this.worker?.postMessage({ type: 'semantic' });
  },

  onMessage(m) {
    const s = this.status;
    switch (m.type) {
      case 'ready':
        s.lexical = 'ready';
        s.languages = m.languages || {};
        s.wasm = m.wasm || null;
        if (m.semantic === 'unavailable') s.semantic = 'unavailable';
        this.ready.resolve(s.languages);
        broadcast('ready', { languages: s.languages, lang: searchLang() });
        break;
      case 'fragments':
        broadcast('fragments-ready', {});
        break;
      case 'progress':
        s.semantic = m.building ? 'building' : 'loading';
        s.loaded = m.loaded;
        s.total = m.total;
        broadcast('model-progress', { loaded: m.loaded, total: m.total, building: !!m.building });
        break;
      case 'semantic-ready':
        s.semantic = 'ready';
        this.semanticReady.resolve();
        broadcast('semantic-ready', {});
        break;
      case 'problem':
        this.onProblem(m);
        break;
      case 'results': {
        const p = this.pending.get(m.id);
        if (!p) break;
        if (m.final) this.pending.delete(m.id);
        p.onUpdate?.(m);
        if (m.final) p.resolve(m);
        break;
      }
    }
  },

  onProblem(p) {
    const s = this.status;
    s.problems.push(p);
    if (p.fatal) {
      s.lexical = 'failed';
      if (s.semantic !== 'ready') s.semantic = 'unavailable';
      const err = Object.assign(new Error(p.message), { code: p.code, file: p.file });
      this.ready.reject(err);
      this.semanticReady.reject(err);
      for (const [id, q] of this.pending) {
        this.pending.delete(id);
        q.resolve({ id, hits: [], semantic: false, final: true, error: p.code });
      }
    } else if (p.stage === 'model' || p.stage === 'index') {
      s.semantic = 'unavailable';
      this.semanticReady.reject(Object.assign(new Error(p.message), { code: p.code, file: p.file }));
    }
    console.warn(`crossfind: ${p.stage}: ${p.message}`);
    broadcast('search-error', { ...p, text: messageFor(p) });
  },

  // Resolves with the final answer; `onUpdate` also sees the early lexical one.
  query(query, { lang, k = K, mode, latest = false } = {}, onUpdate = null) {
    this.start();
    const id = ++this.seq;
    return new Promise((resolve) => {
      if (this.status.lexical === 'failed') {
        resolve({ id, hits: [], semantic: false, final: true, error: 'unavailable' });
        return;
      }
      if (!this.worker) {
        resolve({ id, hits: [], semantic: false, final: true, error: 'unavailable' });
        return;
      }
      this.pending.set(id, { onUpdate, resolve });
      if (latest) {
        // The previous box query will not be answered any more.
        for (const [pid, p] of this.pending) {
          if (pid !== id && p.latest) {
            this.pending.delete(pid);
            p.resolve({ id: pid, hits: [], semantic: false, final: true, superseded: true });
          }
        }
        this.pending.get(id).latest = true;
      }
      this.worker.postMessage({ type: 'search', id, query, lang, k, mode, latest });
    });
  },
};

function messageFor(p) {
  if (p.fatal) return t('errorUnavailable', { reason: reason(p) });
  if (p.stage === 'index') return t('errorLexicalOnly', { reason: reason(p) });
  if (p.stage === 'fragments') return t('errorSnippets', { reason: reason(p) });
  // offline, a query in a script the site does not use needs rows the offline copy left out
  if (p.stage === 'rows' && !navigator.onLine) return t('errorOfflineRows');
  return t('errorSemantic', { reason: reason(p) });
}

// The language results should be shown in: the reader's, when the site has it.
function searchLang() {
  const have = Object.keys(client.status.languages || {});
  return READER.find((l) => have.includes(l)) || (have.length ? undefined : READER[0]);
}

// ------------------------------------------------------------ offline (sw.js)

let offlineStarted = false;
let offlineWanted = null; // the element's offline attributes, once one asks

// Why the offline copy waits for the reader's say-so on this connection:
// Save-Data, a cellular link, or a slow one (null: none of these).
function connectionHold() {
  const c = navigator.connection;
  if (!c) return null;
  if (c.saveData) return 'save-data';
  if (c.type === 'cellular') return 'cellular';
  if (/^(slow-2g|2g|3g)$/.test(c.effectiveType || '')) return 'slow-connection';
  return null;
}

// <crossfind-search offline>: the copy (about 30 MB: index, model, widget)
// is downloaded only after the reader has searched on this site, or at once
// with offline-start="load", or on a page a copy already controls (it is
// kept up to date); never under Save-Data or on a slow or cellular
// connection unless the site calls enableOffline() (a reader's click).
function wantOffline(scopeAttr, workerAttr, pagesAttr, startAttr) {
  if (offlineWanted || !('serviceWorker' in navigator)) return;
  offlineWanted = [scopeAttr, workerAttr, pagesAttr];
  client.status.offline = 'waiting';
  const controller = navigator.serviceWorker.controller;
  const ours = controller && new URL(controller.scriptURL).searchParams.get('base') === BASE.pathname;
  if (ours || (startAttr || '').toLowerCase() === 'load') maybeStartOffline(false);
}

function maybeStartOffline(force) {
  if (!offlineWanted || offlineStarted) return;
  const hold = force ? null : connectionHold();
  if (hold) {
    if (client.status.offline !== 'paused') {
      client.status.offline = 'paused';
      client.status.offlineHold = hold;
      broadcast('offline-paused', { reason: hold });
    }
    return;
  }
  client.status.offlineHold = null;
  startOffline(...offlineWanted);
}

function startOffline(scopeAttr, workerAttr, pagesAttr) {
  if (offlineStarted || !('serviceWorker' in navigator)) return;
  offlineStarted = true;
  const url = workerAttr ? new URL(workerAttr, location.href) : new URL('sw.js', BASE);
  url.searchParams.set('base', BASE.pathname);
  const pages = Number(pagesAttr);
  if (pagesAttr && Number.isInteger(pages) && pages > 0) url.searchParams.set('pages', String(pages));
  const scope = scopeAttr ? new URL(scopeAttr, location.href).pathname : new URL('../', BASE).pathname;
  client.status.offline = 'syncing';
  // Kept unless the browser runs short of space, where it lets the site ask.
  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persist().then((p) => (client.status.offlinePersisted = p)).catch(() => {});
  }
  navigator.serviceWorker.addEventListener('message', (ev) => {
    const m = ev.data || {};
    if (m.type !== 'crossfind-offline') return;
    if (m.state === 'syncing') {
      client.status.offlineLoaded = m.loaded;
      client.status.offlineTotal = m.total;
      broadcast('offline-progress', { loaded: m.loaded, total: m.total });
    } else if (m.state === 'ready') {
      client.status.offline = 'ready';
      broadcast('offline-ready', { version: m.version });
    } else if (m.state === 'failed') {
      client.status.offline = 'failed';
      console.warn(`crossfind: offline copy not updated: ${m.message}`);
    } else if (m.state === 'removed') {
      client.status.offline = 'removed';
    }
  });
  navigator.serviceWorker
    .register(url.href, { scope })
    .then(() => navigator.serviceWorker.ready)
    .then((reg) => reg.active && reg.active.postMessage({ type: 'sync', pages: pageFiles() }))
    .catch((e) => {
      client.status.offline = 'failed';
      console.warn(`crossfind: the service worker could not be registered: ${e.message || e}`);
    });
}

// Removes the offline copy (every cache of this bundle) and its service
// worker; nothing is downloaded again on this page. Resolves once done.
function removeOffline() {
  offlineWanted = null;
  offlineStarted = true;
  if (!('serviceWorker' in navigator)) return Promise.resolve();
  return navigator.serviceWorker.getRegistrations().then(async (regs) => {
    for (const reg of regs) {
      const w = reg.active || reg.waiting || reg.installing;
      if (!w || new URL(w.scriptURL).searchParams.get('base') !== BASE.pathname) continue;
      await new Promise((resolve) => {
        const ch = new MessageChannel();
        const done = setTimeout(resolve, 3000);
        navigator.serviceWorker.addEventListener('message', function onMsg(ev) {
          if (ev.data && ev.data.type === 'crossfind-offline' && ev.data.state === 'removed') {
            navigator.serviceWorker.removeEventListener('message', onMsg);
            clearTimeout(done);
            resolve();
          }
        });
        w.postMessage({ type: 'remove' }, [ch.port2]);
      });
      await reg.unregister().catch(() => {});
    }
    client.status.offline = 'removed';
  });
}

// This page and the same-origin stylesheets it loaded outside the bundle,
// for the service worker to keep (it checks each answer may be kept): the
// first visit happens before it controls the page.
function pageFiles() {
  const out = new Set([location.href.split('#')[0]]);
  for (const e of performance.getEntriesByType('resource')) {
    if (e.initiatorType !== 'link' && e.initiatorType !== 'css') continue;
    try {
      const u = new URL(e.name);
      if (u.origin === location.origin && !u.pathname.startsWith(BASE.pathname)) out.add(u.href);
    } catch {
      /* not a URL */
    }
  }
  return [...out];
}

// Asks the service worker what it holds: {state, version}.
function offlineStatus() {
  if (!('serviceWorker' in navigator) || !navigator.serviceWorker.controller) {
    const st = client.status.offline;
    const state = ['off', 'waiting', 'paused', 'removed'].includes(st) ? st : 'syncing';
    return Promise.resolve({ state, version: null, hold: client.status.offlineHold || null });
  }
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    const timer = setTimeout(() => resolve({ state: 'unknown', version: null }), 3000);
    ch.port1.onmessage = (ev) => {
      clearTimeout(timer);
      resolve(ev.data);
    };
    navigator.serviceWorker.controller.postMessage({ type: 'status' }, [ch.port2]);
  });
}

// ----------------------------------------------------------------------- DOM

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function searchIcon() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'cf-icon');
  const c = document.createElementNS(SVG_NS, 'circle');
  c.setAttribute('cx', '10.5');
  c.setAttribute('cy', '10.5');
  c.setAttribute('r', '6.5');
  const l = document.createElementNS(SVG_NS, 'path');
  l.setAttribute('d', 'M15.5 15.5 21 21');
  svg.append(c, l);
  return svg;
}

// Snippet text with <mark>s from UTF-8 byte ranges, as text nodes only.
function highlighted(snippet, ranges) {
  const frag = document.createDocumentFragment();
  const bytes = new TextEncoder().encode(snippet);
  const dec = new TextDecoder();
  const cont = (i) => i < bytes.length && (bytes[i] & 0xc0) === 0x80;
  const spans = (ranges || [])
    .map(([s, e]) => [Math.max(0, Math.min(s, bytes.length)), Math.max(0, Math.min(e, bytes.length))])
    .map(([s, e]) => {
      while (s > 0 && cont(s)) s--;
      while (cont(e)) e++;
      return [s, e];
    })
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [s, e] of spans) {
    if (e <= at) continue;
    const from = Math.max(s, at);
    if (from > at) frag.append(dec.decode(bytes.subarray(at, from)));
    frag.append(h('mark', { text: dec.decode(bytes.subarray(from, e)) }));
    at = e;
  }
  if (at < bytes.length) frag.append(dec.decode(bytes.subarray(at)));
  return frag;
}

function deepActiveElement() {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a;
}

function isEditable(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') return !/^(button|checkbox|radio|submit|reset|image|file|range|color)$/i.test(el.type);
  return false;
}

// The link a result may become: its URL resolved as the browser resolves it
// (spaces, tabs and newlines dropped as by navigation), when that is an
// http(s) URL on this page's own origin; null otherwise. A bundle is
// content, not code: a `javascript:` or `data:` URL, or one on another host
// (`//evil.example`), is never opened and never becomes an href.
export function safeHref(url) {
  if (typeof url !== 'string') return null;
  let u;
  try {
    u = new URL(url, location.href);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.origin !== location.origin) return null;
  return u.href;
}

const refused = new Set();
function warnRefused(url) {
  if (refused.has(url)) return;
  refused.add(url);
  console.warn(`crossfind: a result's URL ${JSON.stringify(url)} is not a page of this site (${location.origin}); it is shown without a link`);
}

// A result's link opens the page at the matched passage: the section's
// anchor plus a URL text fragment (#anchor:~:text=...) quoting the start of
// the snippet, which the browser scrolls to and highlights. Browsers without
// text fragments go to the anchor; highlight.js (opt-in) highlights there too.
export function passageLink(url, snippet) {
  const quote = passageStart(snippet);
  if (!quote || typeof url !== 'string' || url.includes(':~:')) return url;
  // the directive's own separators (- , &) are escaped inside the quote
  const enc = encodeURIComponent(quote).replace(/-/g, '%2D').replace(/,/g, '%2C').replace(/&/g, '%26');
  return `${url.includes('#') ? url : `${url}#`}:~:text=${enc}`;
}

// Whole words from the start of a snippet (the engine's best sentence):
// at most 8 words and 80 characters, or 24 characters of a script written
// without spaces. A quote that is too short to be specific is not used.
function passageStart(snippet) {
  const s = String(snippet || '').replace(/…$/, '').replace(/\s+/g, ' ').trim();
  if (!s) return '';
  let quote;
  if (s.includes(' ')) {
    quote = s.split(' ').slice(0, 8).join(' ');
    if (quote.length > 80) quote = quote.slice(0, 80).replace(/\s+\S*$/, '');
  } else {
    quote = [...s].slice(0, 24).join('');
  }
  return [...quote].length >= 4 ? quote : '';
}

// ---------------------------------------------------------------- the widget

let instances = 0;

class CrossfindSearch extends HTMLElement {
  constructor() {
    super();
    this._n = ++instances;
    this._hits = []; // shown, in order
    this._items = []; // the options: each hit's, then its sections'
    this._entries = []; // per option: {hit, hitIndex, url, section?}
    this._active = -1;
    this._query = '';
    this._shownQuery = '';
    this._shownSemantic = false;
    this._timer = 0;
    this._opener = null;
    this._unsub = [];
    this._optSeq = 0;
  }

  connectedCallback() {
    elements.add(this);
    if (!this.shadowRoot) this._build();
    client.start();
    const sem = (this.getAttribute('semantic') || '').toLowerCase();
    if (sem === 'eager') client.loadSemantic();
    else if (sem === 'off' && !client.semanticAsked) {
      client.semanticOff = true;
      client.status.semantic = 'off';
      client.semanticReady.reject(Object.assign(new Error('semantic search is turned off (semantic="off")'), { code: 'off' }));
    }
    if (this.hasAttribute('offline')) wantOffline(this.getAttribute('offline'), this.getAttribute('offline-worker'), this.getAttribute('offline-pages'), this.getAttribute('offline-start'));
    if (this.hasAttribute('strings')) reconfigureStrings();
    const on = (name, fn) => {
      this.addEventListener(name, fn);
      this._unsub.push(() => this.removeEventListener(name, fn));
    };
    on('ready', () => this._onEngine());
    on('fragments-ready', () => this._refresh(false));
    on('model-progress', () => this._showProgress());
    on('semantic-ready', () => {
      this._showProgress();
      if (this._dialog.open) {
        this._announce(t('semanticReady'));
        this._refresh(true);
      }
    });
    on('search-error', (ev) => {
      this._showNotice(ev.detail);
      this._showProgress();
    });
    this._replayStatus();
  }

  static get observedAttributes() {
    return ['strings'];
  }

  // Site strings set or changed later (a single-page app switching language).
  attributeChangedCallback(name, before, after) {
    if (name === 'strings' && before !== after && this.isConnected) reconfigureStrings();
  }

  disconnectedCallback() {
    elements.delete(this);
    if (this.hasAttribute('strings')) reconfigureStrings();
    for (const u of this._unsub) u();
    this._unsub = [];
  }

  _build() {
    const root = this.attachShadow({ mode: 'open' });
    const id = (s) => `cf${this._n}-${s}`;
    this._ids = { input: id('input'), list: id('list'), title: id('title'), hint: id('hint'), progress: id('progress') };

    this._trigger = h('button', { type: 'button', class: 'cf-trigger', 'aria-haspopup': 'dialog', 'aria-keyshortcuts': 'Control+K Meta+K /', part: 'button' });
    this._triggerLabel = h('span', { class: 'cf-trigger-label' });
    this._kbd = h('kbd', { class: 'cf-kbd', 'aria-hidden': 'true', text: /Mac|iPhone|iPad/.test(navigator.platform || '') ? '⌘K' : 'Ctrl K' });
    this._trigger.append(searchIcon(), this._triggerLabel, this._kbd);

    this._title = h('h2', { id: this._ids.title, class: 'cf-vh' });
    this._label = h('label', { for: this._ids.input, class: 'cf-vh' });
    this._input = h('input', {
      id: this._ids.input,
      type: 'text',
      role: 'combobox',
      'aria-autocomplete': 'list',
      'aria-expanded': 'false',
      'aria-controls': this._ids.list,
      'aria-describedby': this._ids.hint,
      autocomplete: 'off',
      autocapitalize: 'off',
      spellcheck: 'false',
      enterkeyhint: 'search',
      class: 'cf-input',
    });
    this._close = h('button', { type: 'button', class: 'cf-close' });
    this._notice = h('p', { class: 'cf-notice', role: 'alert', hidden: true });
    this._progressLabel = h('span', { id: this._ids.progress, class: 'cf-progress-label' });
    this._progressBar = h('progress', { class: 'cf-progress-bar', 'aria-labelledby': this._ids.progress });
    this._progress = h('div', { class: 'cf-progress', hidden: true }, this._progressLabel, this._progressBar);
    this._list = h('ul', { id: this._ids.list, role: 'listbox', class: 'cf-list', hidden: true });
    this._empty = h('p', { class: 'cf-empty', hidden: true });
    this._hint = h('p', { id: this._ids.hint, class: 'cf-hint' });
    this._live = h('div', { class: 'cf-vh', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });

    const bar = h('div', { class: 'cf-bar' }, searchIcon(), this._label, this._input, this._close);
    const panel = h('div', { class: 'cf-panel' }, this._title, bar, this._notice, this._progress, this._list, this._empty, this._hint, this._live);
    this._dialog = h('dialog', { class: 'cf-dialog', 'aria-labelledby': this._ids.title, part: 'dialog' }, panel);

    root.append(h('link', { rel: 'stylesheet', href: new URL('crossfind.css', BASE).href }), this._trigger, this._dialog);
    this._applyStrings();

    this._trigger.addEventListener('click', () => this.open(this._trigger));
    this._trigger.addEventListener('pointerenter', () => client.loadSemantic(), { once: true });
    this._close.addEventListener('click', () => this.close());
    this._dialog.addEventListener('close', () => this._afterClose());
    this._dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.close();
    });
    // A click on the backdrop (outside the panel) closes.
    this._dialog.addEventListener('click', (e) => {
      if (e.target === this._dialog) this.close();
    });
    this._input.addEventListener('input', () => this._onInput());
    this._input.addEventListener('keydown', (e) => this._onKey(e));
    // Results are links: a plain click opens the result as Enter does (with
    // result-click first); a modified click (Ctrl/Cmd: new tab, Shift: new
    // window) and a middle click are the browser's, after a cancelable
    // result-click with newTab: true.
    this._list.addEventListener('click', (e) => {
      const li = e.target.closest('[role="option"]');
      if (!li) return;
      const i = this._items.indexOf(li);
      if (e.ctrlKey || e.metaKey || e.shiftKey) {
        if (!this._linkClicked(i)) e.preventDefault();
        this._input.focus();
        return;
      }
      e.preventDefault();
      this._choose(i);
    });
    this._list.addEventListener('auxclick', (e) => {
      const li = e.button === 1 && e.target.closest('[role="option"]');
      if (!li) return;
      if (!this._linkClicked(this._items.indexOf(li))) e.preventDefault();
      this._input.focus();
    });
    this._list.addEventListener('mousemove', (e) => {
      const li = e.target.closest('[role="option"]');
      const i = li ? this._items.indexOf(li) : -1;
      if (i >= 0 && i !== this._active) this._setActive(i, false);
    });
  }

  _applyStrings() {
    const dir = direction(UI_LANG);
    this._dialog.setAttribute('lang', UI_LANG);
    this._dialog.setAttribute('dir', dir);
    this._trigger.setAttribute('lang', UI_LANG);
    this._trigger.setAttribute('dir', dir);
    this._triggerLabel.textContent = t('button');
    this._title.textContent = t('dialogTitle');
    this._label.textContent = t('inputLabel');
    this._input.setAttribute('placeholder', t('placeholder'));
    this._close.textContent = t('close');
    this._list.setAttribute('aria-label', t('resultsLabel'));
    this._hint.textContent = t('hint');
    this._showProgress();
    const last = client.status.problems[client.status.problems.length - 1];
    if (last) this._showNotice(last);
  }

  _replayStatus() {
    const last = client.status.problems[client.status.problems.length - 1];
    if (last) this._showNotice(last);
    this._showProgress();
  }

  // ------------------------------------------------------------ open / close

  open(opener) {
    if (this._dialog.open) return;
    this._opener = opener || deepActiveElement() || null;
    client.loadSemantic();
    this._showProgress();
    this._dialog.showModal();
    this._input.focus();
    this._input.select();
    if (this._input.value.trim()) this._refresh(false);
  }

  close() {
    if (this._dialog.open) this._dialog.close();
  }

  _afterClose() {
    this._setActive(-1);
    const back = this._opener && this._opener.isConnected ? this._opener : this._trigger;
    this._opener = null;
    back.focus();
  }

  // ----------------------------------------------------------------- search

  _onEngine() {
    if (this._dialog.open && this._input.value.trim()) this._refresh(false);
  }

  _onInput() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._run(this._input.value, false), DEBOUNCE_MS);
  }

  // Re-runs the shown query (new snippets, semantic matches) keeping the active option.
  _refresh(announce) {
    if (!this._dialog.open) return;
    const q = this._input.value;
    if (q.trim()) this._run(q, true, announce);
  }

  async _run(query, isUpdate, announceMerge = false) {
    const q = query.trim();
    this._query = q;
    if (!q) {
      this._render([], false, q);
      this._empty.hidden = true;
      this._live.textContent = '';
      return;
    }
    const lang = searchLang();
    emit('search', { query: q, lang }, this);
    maybeStartOffline(false); // the reader searched: the offline copy may start
    const onUpdate = (m) => {
      if (this._query !== q || m.superseded) return;
      this._render(m.hits || [], isUpdate || this._shownQuery === q, q, m.semantic);
      if (!m.final) return;
      const n = this._hits.length;
      if (m.error === 'unavailable' || m.error === 'not_ready') {
        this._announce(t('errorUnavailableShort'));
        return;
      }
      const wasSemantic = this._shownSemantic;
      this._shownSemantic = !!m.semantic;
      if (n === 0) {
        this._empty.textContent = t('noResults', { q });
        this._empty.hidden = false;
        this._announce(t('noResults', { q }));
        emit('zero-results', { query: q, lang, queryLang: m.queryLang ?? null, semantic: !!m.semantic }, this);
      } else {
        this._empty.hidden = true;
        const count = t('results', { n });
        const merged = (announceMerge || (isUpdate && !wasSemantic)) && m.semantic;
        this._announce(merged ? t('semanticMerged', { count }) : count);
      }
      emit('results', { query: q, lang, queryLang: m.queryLang ?? null, results: this._hits.slice(), semantic: !!m.semantic }, this);
    };
    if (client.status.lexical === 'loading') {
      this._announce(t('loading'));
      this._empty.textContent = t('loading');
      this._empty.hidden = false;
    }
    await client.query(q, { lang, k: K, latest: true }, onUpdate);
  }

  // Shows `hits`, each page followed by its other matching sections
  // (hit.sections) as options of their own. When they update the list
  // already shown for the same query and the reader has an active option,
  // every result up to and including the active one stays where it is; only
  // what is below changes. this._entries[i] describes this._items[i].
  _render(hits, sameQuery, q, semantic) {
    const active = sameQuery && this._active >= 0 ? this._entries[this._active] : null;
    const keepHits = active ? active.hitIndex + 1 : 0;
    const keep = keepHits ? this._entries.findLastIndex((e) => e.hitIndex < keepHits) + 1 : 0;
    const kept = this._hits.slice(0, keepHits);
    const keptIds = new Set(kept.map((x) => x.pageId));
    const rest = hits.filter((x) => !keptIds.has(x.pageId));
    for (const opt of this._items.slice(keep)) opt.parentElement.remove();
    this._items = this._items.slice(0, keep);
    this._entries = this._entries.slice(0, keep);
    this._hits = kept.concat(rest).slice(0, Math.max(K, keepHits));
    this._hits.slice(keepHits).forEach((hit, j) => {
      const hitIndex = keepHits + j;
      this._addEntry(this._option(hit, hit, this._items.length), 'cf-item', { hit, hitIndex, url: hit.url });
      for (const sec of Array.isArray(hit.sections) ? hit.sections : []) {
        this._addEntry(this._option(hit, sec, this._items.length), 'cf-item cf-sub', { hit, hitIndex, url: sec.url, section: sec });
      }
    });
    this._shownQuery = q;
    if (keep === 0) this._setActive(-1);
    const any = this._hits.length > 0;
    this._list.hidden = !any;
    this._input.setAttribute('aria-expanded', String(any));
    if (any) this._empty.hidden = true;
    this._list.classList.toggle('cf-semantic', !!semantic);
  }

  _addEntry(opt, cls, entry) {
    this._items.push(opt);
    this._entries.push(entry);
    this._list.append(h('li', { role: 'none', class: cls }, opt));
  }

  // One result: a real link (<a href>) that is the listbox's option, out of
  // the tab order (the combobox keeps focus, arrows move the active option),
  // in an <li role="none">. A result whose URL is not a page of this site
  // gets no href and is disabled.
  // `part` is the hit itself, or one of its sections (a sub-result: its
  // heading and snippet, beneath the page's title, which screen readers
  // hear first).
  _option(hit, part, i) {
    const sub = part !== hit;
    const href = safeHref(passageLink(part.url, part.snippet));
    if (!href) warnRefused(part.url);
    const link = h('a', {
      role: 'option',
      id: `cf${this._n}-opt-${++this._optSeq}`,
      'aria-selected': 'false',
      'aria-disabled': href ? null : 'true',
      href,
      tabindex: href ? '-1' : null,
      class: href ? 'cf-option' : 'cf-option cf-inert',
    });
    link.dataset.index = String(i);
    link.dataset.url = part.url;
    const lang = primary(hit.lang);
    if (sub) {
      link.classList.add('cf-sub-option');
      link.append(h('span', { class: 'cf-vh', lang, dir: 'auto', text: `${hit.title || hit.url}: ` }));
    } else {
      const title = h('span', { class: 'cf-title', lang, dir: 'auto', text: hit.title || hit.url });
      const badge = h('span', { class: 'cf-badge', lang: UI_LANG, title: langName(lang) }, h('span', { 'aria-hidden': 'true', text: lang.toUpperCase() }), h('span', { class: 'cf-vh', text: ` (${langName(lang)})` }));
      link.append(h('span', { class: 'cf-head' }, title, badge));
    }
    if (part.heading) link.append(h('span', { class: 'cf-section', lang, dir: 'auto', text: part.heading }));
    if (part.snippet) {
      const p = h('span', { class: 'cf-snippet', lang, dir: 'auto' });
      p.append(highlighted(part.snippet, part.highlights));
      link.append(p);
    }
    if (sub) return link;
    const also = (hit.alsoIn || []).filter((l) => l !== hit.lang);
    if (also.length) {
      link.append(h('span', { class: 'cf-also', lang: UI_LANG, text: `${t('alsoIn')} ${listOf(also.map(langName))}` }));
    }
    if (hit.matchedLang && hit.matchedLang !== hit.lang) {
      link.append(h('span', { class: 'cf-also', lang: UI_LANG, text: t('matchedIn', { lang: langName(hit.matchedLang) }) }));
    }
    return link;
  }

  _setActive(i, scroll = true) {
    const prev = this._items[this._active];
    if (prev) prev.setAttribute('aria-selected', 'false');
    this._active = i >= 0 && i < this._items.length ? i : -1;
    const li = this._items[this._active];
    if (li) {
      li.setAttribute('aria-selected', 'true');
      this._input.setAttribute('aria-activedescendant', li.id);
      if (scroll) li.scrollIntoView({ block: 'nearest' });
    } else {
      this._input.removeAttribute('aria-activedescendant');
    }
  }

  _onKey(e) {
    if (e.isComposing) return;
    const n = this._items.length;
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (n) this._setActive(this._active < 0 ? 0 : (this._active + 1) % n);
        break;
      case 'ArrowUp':
        e.preventDefault();
        if (n) this._setActive(this._active <= 0 ? n - 1 : this._active - 1);
        break;
      case 'Enter':
        if (n) {
          e.preventDefault();
          this._choose(this._active >= 0 ? this._active : 0);
        }
        break;
      case 'Escape':
        e.preventDefault();
        this.close();
        break;
    }
  }

  // Opens result i in this tab (Enter, a plain click): only a page of this
  // site (safeHref), and only when no result-click listener cancels.
  _choose(i) {
    const entry = this._entries[i];
    if (!entry) return;
    const href = safeHref(passageLink(entry.url, (entry.section || entry.hit).snippet));
    if (!href) {
      warnRefused(entry.url);
      return;
    }
    const ok = emit('result-click', this._clickDetail(entry, href, false), this);
    if (!ok) return;
    this._opener = null;
    this._dialog.close();
    location.assign(href);
  }

  // A modified or middle click on result i, which the browser opens from the
  // link itself; false when a result-click listener cancels it.
  _linkClicked(i) {
    const entry = this._entries[i];
    const href = entry && safeHref(passageLink(entry.url, (entry.section || entry.hit).snippet));
    if (!href) return false;
    return emit('result-click', this._clickDetail(entry, href, true), this);
  }

  // result-click's detail: `index` is the page's rank (0-based) and
  // `section` the sub-result chosen, if it was one.
  _clickDetail(entry, href, newTab) {
    return { query: this._query, result: entry.hit, index: entry.hitIndex, section: entry.section || null, href, newTab };
  }

  // ---------------------------------------------------------------- status

  _announce(text) {
    // Cleared first, so the same words are announced again.
    this._live.textContent = '';
    clearTimeout(this._liveTimer);
    this._liveTimer = setTimeout(() => {
      this._live.textContent = text;
    }, 50);
  }

  _showNotice(p) {
    if (!this._notice) return;
    this._notice.textContent = messageFor(p);
    this._notice.hidden = false;
    this._notice.dataset.code = p.code;
    this._notice.classList.toggle('cf-fatal', !!p.fatal);
  }

  _showProgress() {
    if (!this._progress) return;
    const s = client.status;
    const busy = s.semantic === 'loading' || s.semantic === 'building';
    this._progress.hidden = !busy;
    if (!busy) return;
    if (s.semantic === 'building' || !s.total) {
      this._progressBar.removeAttribute('value');
      this._progressLabel.textContent = s.semantic === 'building' ? t('modelBuilding') : t('modelStarting');
      return;
    }
    this._progressBar.max = s.total;
    this._progressBar.value = s.loaded;
    this._progressLabel.textContent = t('modelLoading', { loaded: fmtNumber(s.loaded / 1e6), total: fmtNumber(s.total / 1e6) });
  }
}

// --------------------------------------------------------- keyboard shortcuts

function firstWidget() {
  for (const el of elements) if (el.isConnected) return el;
  return null;
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.isComposing) return;
  const w = firstWidget();
  if (!w) return;
  const k = e.key;
  if ((k === 'k' || k === 'K') && (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey) {
    e.preventDefault();
    if (w._dialog.open) w.close();
    else w.open(deepActiveElement());
  } else if (k === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !isEditable(deepActiveElement())) {
    if (w._dialog && w._dialog.open) return;
    e.preventDefault();
    w.open(deepActiveElement());
  }
});

if (!customElements.get('crossfind-search')) customElements.define('crossfind-search', CrossfindSearch);
reconfigureStrings();

// ------------------------------------------------------------------- JS API

export function search(query, { lang, k = K, mode } = {}) {
  client.loadSemantic();
  const l = lang === undefined ? searchLang() : lang || undefined;
  const q = String(query ?? '');
  emit('search', { query: q, lang: l, source: 'api' });
  maybeStartOffline(false);
  client.start();
  return client.ready.promise.then(() =>
    client.query(q, { lang: l, k, mode }).then((m) => {
      if (m.error && !m.hits.length && m.error !== 'not_ready') {
        throw Object.assign(new Error(m.message || m.error), { code: m.error });
      }
      const detail = { query: q, lang: l, queryLang: m.queryLang ?? null, results: m.hits, semantic: !!m.semantic, source: 'api' };
      emit(m.hits.length ? 'results' : 'zero-results', detail);
      return m.hits;
    }),
  );
}

// Resolves once keyword search works (rejects when the index cannot load).
export const ready = () => {
  client.start();
  return client.ready.promise;
};
// Starts fetching the model if nothing did yet; resolves once it is in.
export const semanticReady = () => {
  client.loadSemantic();
  return client.semanticReady.promise;
};
export const status = client.status;
export const loadSemantic = () => client.loadSemantic();
export const offline = () => offlineStatus();
export const open = () => firstWidget()?.open();
export const close = () => firstWidget()?.close();
export const readerLanguages = READER.slice();
export let uiLanguage = UI_LANG; // a live binding: the site's strings may add a language

// Starts the offline copy now, whatever the connection (for a reader's own
// "keep for offline" click); removeOffline() deletes it.
export const enableOffline = () => maybeStartOffline(true);
export { removeOffline };
const api = { search, ready, semanticReady, status, loadSemantic, offline, enableOffline, removeOffline, open, close, readerLanguages, uiLanguage, safeHref, passageLink, base: BASE.href };
Object.defineProperty(api, 'uiLanguage', { get: () => uiLanguage, enumerable: true });
if (!window.crossfind) window.crossfind = api;
export default api;

// No widget on the page: the engine still starts for the JS API.
queueMicrotask(() => {
  if (!elements.size) client.start();
});
