// The page's side of the search worker (worker.js): starts it, keeps the
// engine's status, and turns its messages into promises and events. What the
// worker passes on from the engine (hits, languages, errors' code and file)
// is the engine's own shape (src/wasm/contract.rs), not reshaped here.

import { BASE } from './base.js';
import { broadcast } from './events.js';
import { READER, t, reason } from './i18n.js';
import { parseBundles } from '../bundles.mjs';

// ------------------------------------------------------------- engine client

// Results asked for when the caller does not say; the engine's own default
// is the same (src/wasm/mod.rs).
export const K = 10;

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

// The bundles one search box searches: the first element's `bundles`
// attribute (bundles.mjs), else the bundle beside the script (none listed: []).
export function bundlesWanted() {
  const el = document.querySelector('crossfind-search[bundles]');
  if (!el) return [];
  const { bundles, problems } = parseBundles(el.getAttribute('bundles'), document.baseURI);
  for (const p of problems) console.warn(`crossfind: bundles attribute: ${p}`);
  return bundles;
}

export const client = {
  worker: null,
  seq: 0,
  pending: new Map(), // id -> {onUpdate, resolve}
  status: {
    lexical: 'loading', // loading | ready | failed
    semantic: 'idle', // idle | loading | building | ready | failed | unavailable
    loaded: 0,
    total: 0,
    languages: {},
    filters: {}, // the filters the site's pages declare: {<key>: {<value>: pages}}
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
    this.bundles = bundlesWanted();
    this.worker.postMessage({ type: 'init', base: BASE.href, bundles: this.bundles, semantic: this.semanticAsked, wasm: wasmWanted() });
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
        s.filters = m.filters || {};
        s.wasm = m.wasm || null;
        if (m.semantic === 'unavailable') s.semantic = 'unavailable';
        this.ready.resolve(s.languages);
        broadcast('ready', { languages: s.languages, lang: searchLang(), filters: s.filters });
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
  // `filter`: {key: [values]} (filters.mjs), {} for none.
  query(query, { lang, k = K, mode, filter = {}, latest = false } = {}, onUpdate = null) {
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
      this.worker.postMessage({ type: 'search', id, query, lang, k, mode, filter, latest });
    });
  },
};

export function messageFor(p) {
  if (p.fatal) return t('errorUnavailable', { reason: reason(p) });
  if (p.stage === 'index') return t('errorLexicalOnly', { reason: reason(p) });
  if (p.stage === 'fragments') return t('errorSnippets', { reason: reason(p) });
  // one of several bundles (its folder is in p.bundle and the message)
  if (p.stage === 'bundle' && p.code !== 'model_mismatch') return t('errorLexicalOnly', { reason: reason(p) });
  // offline, a query in a script the site does not use needs rows the offline copy left out
  if (p.stage === 'rows' && !navigator.onLine) return t('errorOfflineRows');
  return t('errorSemantic', { reason: reason(p) });
}

// The language results should be shown in: the reader's, when the site has it.
export function searchLang() {
  const have = Object.keys(client.status.languages || {});
  return READER.find((l) => have.includes(l)) || (have.length ? undefined : READER[0]);
}
