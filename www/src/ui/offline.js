// The offline copy: registers sw.js when the element asks for it, and
// reports what the service worker holds.

import { BASE } from './base.js';
import { broadcast } from './events.js';
import { client } from './client.js';
import { partsCacheName, rowsCachePrefix } from '../cache-names.mjs';

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
export function wantOffline(scopeAttr, workerAttr, pagesAttr, startAttr) {
  if (offlineWanted || !('serviceWorker' in navigator)) return;
  offlineWanted = [scopeAttr, workerAttr, pagesAttr];
  client.status.offline = 'waiting';
  const controller = navigator.serviceWorker.controller;
  const ours = controller && new URL(controller.scriptURL).searchParams.get('base') === BASE.pathname;
  if (ours || (startAttr || '').toLowerCase() === 'load') maybeStartOffline(false);
}

export function maybeStartOffline(force) {
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
// The caches the worker keeps without an offline copy go too: the bundle's
// parts fetched per query (`crossfind-parts:<bundle URL>`) and the model's
// word-embedding rows (`crossfind-rows:<model folder>:<pack id>`, the model
// folder being inside the bundle's), so that a reader who takes the copy
// back frees everything this bundle stored.
export function removeOffline() {
  offlineWanted = null;
  offlineStarted = true;
  return Promise.all([removeWorker(), removeKeptParts()]).then(() => {
    client.status.offline = 'removed';
  });
}

async function removeKeptParts() {
  if (typeof caches === 'undefined') return;
  try {
    for (const key of await caches.keys()) {
      if (key === partsCacheName(BASE) || key.startsWith(rowsCachePrefix(BASE.pathname))) await caches.delete(key);
    }
  } catch {
    /* no Cache Storage here: nothing was kept */
  }
}

function removeWorker() {
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
export function offlineStatus() {
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
