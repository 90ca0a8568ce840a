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
//   filter="version:2.0" the default filter: key:value pairs separated by
//                        commas or semicolons (filters.mjs); the reader
//                        changes it in the filter bar
//   bundles="/docs/crossfind/ 1, /blog/crossfind/ 0.5"  one search box over
//                        several bundles of this site, each with a weight
//                        (default 1); results merged by score, each linking
//                        into its own site (bundles.mjs). Without it: the
//                        bundle beside this script. Read once, from the
//                        first element that has it.
//
// JS API (module exports, also window.crossfind):
//   search(query, {lang, k, mode, filter}) -> Promise<hits>; filters() -> Promise<{key: {value: pages}}>
//   (with several bundles, each hit has `bundle`: the folder it came from)
//   ready(), semanticReady() -> Promise (the latter starts the model download);
//   loadSemantic(); open(); close(); status; offline() -> Promise<{state, version}>;
//   enableOffline(); removeOffline() -> Promise
// Events (bubbling from the element, and on document for engine events):
//   ready, semantic-ready, model-progress, search-error, search, results,
//   zero-results, filter-change, result-click (cancelable), offline-progress, offline-ready,
//   offline-paused.
//
// Page content (titles, headings, snippets) is only ever set as text, and a
// result's URL becomes a link only when it is an http(s) page of this origin
// (safeHref): see docs/security.md.
//
// The code, by section: ui/i18n.js (reader languages, strings), ui/events.js,
// ui/client.js (the search worker), ui/offline.js (sw.js), ui/dom.js (DOM
// helpers, safe links), ui/widget.js (the element); this file: keyboard
// shortcuts and the JS API. webpack bundles them into one crossfind.js.

import { BASE } from './ui/base.js';
import { elements, emit } from './ui/events.js';
import { READER, UI_LANG, reconfigureStrings } from './ui/i18n.js';
import { client, searchLang, K } from './ui/client.js';
import { maybeStartOffline, removeOffline, offlineStatus } from './ui/offline.js';
import { deepActiveElement, isEditable, safeHref, passageLink } from './ui/dom.js';
import { parseFilter, normalizeFilter, isFiltering } from './filters.mjs';
import { CrossfindSearch } from './ui/widget.js';

export { safeHref, passageLink };

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

// The site's default filter: the filter attribute of the first
// <crossfind-search> that has one ({} when none does).
function defaultFilter() {
  const el = document.querySelector('crossfind-search[filter]');
  return el ? parseFilter(el.getAttribute('filter')).filter : {};
}

// `filter`: {key: value | [values]} or "key:value, …"; left out, the site's
// default (the filter attribute); null or {} for none.
export function search(query, { lang, k = K, mode, filter } = {}) {
  let f;
  try {
    f = filter === undefined ? defaultFilter() : normalizeFilter(filter);
  } catch (e) {
    return Promise.reject(Object.assign(e, { code: 'invalid_input' }));
  }
  client.loadSemantic();
  const l = lang === undefined ? searchLang() : lang || undefined;
  const q = String(query ?? '');
  emit('search', { query: q, lang: l, filter: f, source: 'api' });
  maybeStartOffline(false);
  client.start();
  return client.ready.promise.then(() =>
    client.query(q, { lang: l, k, mode, filter: isFiltering(f) ? f : {} }).then((m) => {
      if (m.error && !m.hits.length && m.error !== 'not_ready') {
        throw Object.assign(new Error(m.message || m.error), { code: m.error });
      }
      const detail = { query: q, lang: l, queryLang: m.queryLang ?? null, lowConfidence: m.lowConfidence ?? null, confidence: m.confidence ?? null, respelled: m.respelled ?? null, results: m.hits, semantic: !!m.semantic, filter: f, source: 'api' };
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
// The filters the site's pages declare, once the index is in:
// {<key>: {<value>: pages}} ({} when they declare none).
export const filters = () => ready().then(() => structuredClone(client.status.filters));
export const status = client.status;
export const loadSemantic = () => client.loadSemantic();
export const offline = () => offlineStatus();
export const open = () => firstWidget()?.open();
export const close = () => firstWidget()?.close();
export const readerLanguages = READER.slice();
export { UI_LANG as uiLanguage }; // a live binding: the site's strings may add a language

// Starts the offline copy now, whatever the connection (for a reader's own
// "keep for offline" click); removeOffline() deletes it.
export const enableOffline = () => maybeStartOffline(true);
export { removeOffline };
const api = { search, filters, ready, semanticReady, status, loadSemantic, offline, enableOffline, removeOffline, open, close, readerLanguages, uiLanguage: UI_LANG, safeHref, passageLink, base: BASE.href };
Object.defineProperty(api, 'uiLanguage', { get: () => UI_LANG, enumerable: true });
if (!window.crossfind) window.crossfind = api;
export default api;

// No widget on the page: the engine still starts for the JS API.
queueMicrotask(() => {
  if (!elements.size) client.start();
});
