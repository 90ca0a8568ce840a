// The reader's languages and the widget's UI strings.

import fallbackStrings from '../i18n/en.json';
import { UI_LANGS, pickLanguage, tableNames, format, checkTable, LATER_KEYS } from '../strings.mjs';
import { BASE } from './base.js';
import { elements } from './events.js';

// ------------------------------------------------------------ reader language

export function primary(tag) {
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

export const READER = readerLangs();

// ------------------------------------------------------------------- strings
//
// The UI language is the first of the page's language and the browser's
// (full tags: zh-TW reads Traditional Chinese) that has a table of strings:
// one crossfind ships (i18n/<lang>.json, fetched; en is inlined), or
// a complete one the site gives. The site's strings are the JSON object in
// the `strings` attribute of the first <crossfind-search> that has one, in
// the language of that element (its lang, usually <html lang>); they replace
// the shipped strings of that language key by key. A key no table has is
// shown in English. Strings are checked as the shipped files are
// (strings.mjs): a key that fails is left out with a console warning.

const READER_TAGS = [document.documentElement.getAttribute('lang'), ...(navigator.languages || [navigator.language])].filter(Boolean);
// The language the strings are in: a live binding, the site's strings may
// add a language (the API's uiLanguage).
export let UI_LANG = pickLanguage(READER_TAGS);
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
  const missing = Object.keys(fallbackStrings).filter((k) => !(k in good) && !LATER_KEYS.includes(k));
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
    UI_LANG = lang;
    strings = table || fallbackStrings;
    siteStrings = own;
    for (const el of elements) el._applyStrings();
  });
  stringsConfigured = done;
  return done;
}

// Several changes in one task (elements upgraded, attributes set) read once.
let stringsQueued = false;
export function reconfigureStrings() {
  if (stringsQueued) return;
  stringsQueued = true;
  queueMicrotask(() => {
    stringsQueued = false;
    configureStrings();
  });
}

export function t(key, vars = {}) {
  return format(UI_LANG, [siteStrings, strings, fallbackStrings], key, vars);
}

let displayNames = null;
export function langName(code) {
  try {
    displayNames = displayNames || new Intl.DisplayNames([UI_LANG], { type: 'language' });
    return displayNames.of(code) || code;
  } catch {
    return code;
  }
}

export function listOf(items) {
  try {
    return new Intl.ListFormat(UI_LANG, { style: 'long', type: 'conjunction' }).format(items);
  } catch {
    return items.join(', ');
  }
}

export function fmtNumber(n, digits = 1) {
  try {
    return new Intl.NumberFormat(UI_LANG, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n);
  } catch {
    return n.toFixed(digits);
  }
}

// Why something failed, in words for the reader.
export function reason(p) {
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
