// The widget's UI strings without the DOM: which language they are shown in,
// how one is filled in (plural forms through Intl.PluralRules, numbers through
// Intl.NumberFormat) and what a table of strings must hold. crossfind.js uses
// it in the page; tests/widget/strings.test.mjs checks every file of i18n/ with it.
//
// A table is what i18n/<lang>.json holds: the keys of en.json, each a string
// with the same {placeholders}, or for a count ("results") an object with one
// form per CLDR plural category the language has (en: one, other; ru: one,
// few, many, other; ar: zero, one, two, few, many, other).

// The tables crossfind ships: www/src/i18n/<tag>.json (en.json is also
// inlined into crossfind.js; the others are fetched when a reader needs them).
export const UI_LANGS = [
  'en', 'es', 'fr', 'de', 'pt', 'ja', 'zh', 'zh-Hant', 'ko', 'ar', 'hi', 'ru', 'sw',
  'fa', 'he', 'ur', 'id', 'vi', 'th', 'tr', 'pl', 'uk', 'nl', 'it', 'bn', 'ta',
  'sv', 'da', 'nb', 'fi', 'cs', 'ro', 'hu', 'el', 'ms',
];

// Languages written right to left (primary subtags): the shipped ones, and
// those a site may add with its own strings.
const RTL = new Set(['ar', 'arc', 'ckb', 'dv', 'fa', 'he', 'ks', 'ps', 'sd', 'ug', 'ur', 'yi']);

// Codes readers' browsers send for a language whose table has another name.
// (Intl.Locale already turns iw into he, in into id, tl into fil.)
const ALIASES = { no: 'nb', nn: 'nb' };

// Strings added after sites could have written a whole table of their own
// language: such a table stays complete without them (the English string
// is shown for them). Every shipped table has them.
export const LATER_KEYS = ['respelled'];

export const PLURAL_CATEGORIES = ['zero', 'one', 'two', 'few', 'many', 'other'];

// The table names a language tag may use, best first: "pt-BR" -> ["pt"],
// "zh-TW" and "zh-Hant" -> ["zh-Hant", "zh"], "iw" -> ["he"]. [] for a tag
// that is not one.
export function tableNames(tag) {
  let loc;
  try {
    loc = new Intl.Locale(String(tag ?? '').trim().replace(/_/g, '-'));
  } catch {
    return [];
  }
  const lang = ALIASES[loc.language] || loc.language;
  if (lang === 'zh') {
    let script = loc.script;
    try {
      script = script || loc.maximize().script;
    } catch {
      /* no likely-subtags data: Simplified */
    }
    return script === 'Hant' ? ['zh-Hant', 'zh'] : ['zh'];
  }
  return [lang];
}

// The UI language for a reader: the first of `tags` (the page's language,
// then the browser's, best first) that has a table in `available`; else "en".
export function pickLanguage(tags, available = UI_LANGS) {
  for (const tag of tags) {
    for (const name of tableNames(tag)) if (available.includes(name)) return name;
  }
  return 'en';
}

export function direction(lang) {
  return RTL.has(tableNames(lang)[0]) ? 'rtl' : 'ltr';
}

const pluralRules = new Map();
function rules(lang) {
  if (!pluralRules.has(lang)) {
    let r = null;
    try {
      r = new Intl.PluralRules(lang);
    } catch {
      /* an engine without this language: "other" */
    }
    pluralRules.set(lang, r);
  }
  return pluralRules.get(lang);
}

// The plural categories `lang` distinguishes, in the order of PLURAL_CATEGORIES.
export function pluralCategories(lang) {
  const have = rules(lang)?.resolvedOptions().pluralCategories || ['other'];
  return PLURAL_CATEGORIES.filter((c) => have.includes(c));
}

export function pluralCategory(lang, n) {
  const r = rules(lang);
  return r && typeof n === 'number' ? r.select(n) : 'other';
}

const numberFormats = new Map();
function formatNumber(lang, n) {
  if (!numberFormats.has(lang)) {
    let f = null;
    try {
      f = new Intl.NumberFormat(lang);
    } catch {
      /* plain digits */
    }
    numberFormats.set(lang, f);
  }
  const f = numberFormats.get(lang);
  return f ? f.format(n) : String(n);
}

// String `key` in `lang`: from the first of `tables` that has it, its plural
// form chosen by vars.n, each {name} replaced by vars[name] (numbers written
// as `lang` writes them: ٣ in Egyptian Arabic, ۳ in Persian). An unknown
// {name} stays as it is; a key no table has comes back as the key.
export function format(lang, tables, key, vars = {}) {
  let s;
  for (const t of tables) {
    if (t && t[key] != null) {
      s = t[key];
      break;
    }
  }
  if (s == null) return key;
  if (typeof s === 'object') s = s[pluralCategory(lang, vars.n)] ?? s.other;
  return String(s).replace(/\{(\w+)\}/g, (m, k) => {
    if (!Object.hasOwn(vars, k)) return m;
    const v = vars[k];
    return typeof v === 'number' ? formatNumber(lang, v) : String(v);
  });
}

export function placeholders(s) {
  return [...new Set([...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
}

// The integers up to 1000 that category `cat` takes in `lang`: a form for a
// category that takes exactly one number ("one" in Arabic or Hebrew, "two",
// "zero") may leave the number out; any other form must show it.
function onlyNumber(lang, cat) {
  const r = rules(lang);
  if (!r) return null;
  let found = null;
  for (let i = 0; i <= 1000; i++) {
    if (r.select(i) !== cat) continue;
    if (found !== null) return null;
    found = i;
  }
  return found;
}

const sameSet = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const braces = (names) => (names.length ? names.map((p) => `{${p}}`).join(', ') : 'none');

// What is wrong with `table` as the strings of `lang`, measured against the
// English table `reference`: a list of {key, message}, [] when nothing is
// (key is null when the table is not an object at all).
//   shipped: true   a file of i18n/: every key, the same placeholders as
//                   English, exactly the plural categories of `lang`
//   shipped: false  a site's overrides: any subset of the keys, placeholders
//                   among English's (a string may leave one out), plural
//                   forms for every category of `lang` (others are ignored)
export function checkTable(lang, table, reference, { shipped = true } = {}) {
  const problems = [];
  if (!table || typeof table !== 'object' || Array.isArray(table)) return [{ key: null, message: 'not a JSON object of strings' }];
  const need = pluralCategories(lang);
  for (const [key, value] of Object.entries(table)) {
    const ref = reference[key];
    if (ref === undefined) {
      problems.push({ key, message: `${key}: not a string crossfind shows` });
      continue;
    }
    if (typeof ref === 'string') {
      if (typeof value !== 'string' || !value.trim()) {
        problems.push({ key, message: `${key}: must be a non-empty string` });
        continue;
      }
      const want = placeholders(ref);
      const got = placeholders(value);
      if (shipped ? !sameSet(got, want) : got.some((p) => !want.includes(p))) {
        problems.push({ key, message: `${key}: placeholders ${braces(got)}, English has ${braces(want)}` });
      }
      continue;
    }
    // a plural: {category: form}
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ key, message: `${key}: must be an object of plural forms (${need.join(', ')})` });
      continue;
    }
    const cats = Object.keys(value);
    const missing = need.filter((c) => !cats.includes(c));
    const extra = cats.filter((c) => (shipped ? !need.includes(c) : !PLURAL_CATEGORIES.includes(c)));
    if (missing.length) problems.push({ key, message: `${key}: no form for ${missing.join(', ')} (${lang} has ${need.join(', ')})` });
    if (extra.length) problems.push({ key, message: `${key}: ${extra.join(', ')} is not a plural category of ${lang} (${need.join(', ')})` });
    const want = [...new Set(Object.values(ref).flatMap(placeholders))].sort();
    for (const c of cats) {
      const form = value[c];
      if (typeof form !== 'string' || !form.trim()) {
        problems.push({ key, message: `${key}.${c}: must be a non-empty string` });
        continue;
      }
      const got = placeholders(form);
      if (got.some((p) => !want.includes(p))) problems.push({ key, message: `${key}.${c}: placeholders ${braces(got)}, English has ${braces(want)}` });
      else if (want.includes('n') && !got.includes('n') && need.includes(c) && onlyNumber(lang, c) === null) {
        problems.push({ key, message: `${key}.${c}: must show {n} (${c} covers more than one number in ${lang})` });
      }
    }
  }
  if (shipped) {
    for (const key of Object.keys(reference)) if (!(key in table)) problems.push({ key, message: `${key}: missing` });
  }
  return problems;
}
