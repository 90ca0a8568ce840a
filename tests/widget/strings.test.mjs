// The widget's UI strings: every table in www/src/i18n/ against English
// (same keys, same placeholders, the plural categories its language has),
// plural forms chosen by Intl.PluralRules, the UI language picked from a
// reader's tags, direction, and the checks a site's own strings go through
// (www/src/strings.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UI_LANGS, pickLanguage, tableNames, direction, format, checkTable, pluralCategories } from '../../www/src/strings.mjs';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../www/src/i18n');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const table = (lang) => JSON.parse(readFileSync(path.join(DIR, `${lang}.json`), 'utf8'));
const EN = table('en');

// Written out here rather than taken from strings.mjs, so a mistake there
// cannot hide one in the files.
const placeholdersOf = (s) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();

test('the shipped languages are exactly the files of www/src/i18n, at least 30 of them', () => {
  assert.deepEqual(FILES.map((f) => f.slice(0, -5)).sort(), [...UI_LANGS].sort());
  assert.ok(UI_LANGS.length >= 30, `${UI_LANGS.length} languages`);
  // every language the demo help center indexes, and those issue 20 names
  for (const l of 'en es fr de pt ja zh ko ar hi ru sw fa he ur id vi th tr pl uk nl it bn ta'.split(' ')) {
    assert.ok(UI_LANGS.includes(l), l);
  }
});

for (const file of FILES) {
  const lang = file.slice(0, -5);
  test(`i18n/${file}: the English keys, the same placeholders, the plural forms ${lang} has`, () => {
    assert.deepEqual(Intl.getCanonicalLocales(lang), [lang], 'a canonical BCP 47 tag');
    assert.deepEqual(Intl.PluralRules.supportedLocalesOf(lang), [lang], 'known to Intl.PluralRules');
    const t = table(lang);
    assert.deepEqual(Object.keys(t).sort(), Object.keys(EN).sort(), 'keys');
    const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const [key, en] of Object.entries(EN)) {
      const v = t[key];
      if (typeof en === 'string') {
        assert.equal(typeof v, 'string', key);
        assert.ok(v.trim().length > 0, `${key} is empty`);
        assert.deepEqual(placeholdersOf(v), placeholdersOf(en), `${key}: ${JSON.stringify(v)}`);
        continue;
      }
      assert.equal(typeof v, 'object', key);
      assert.deepEqual(Object.keys(v).sort(), [...categories].sort(), `${key}: the plural categories of ${lang}`);
      const enPlaceholders = [...new Set(Object.values(en).flatMap(placeholdersOf))].sort();
      for (const [cat, form] of Object.entries(v)) {
        assert.ok(typeof form === 'string' && form.trim().length > 0, `${key}.${cat}`);
        const got = placeholdersOf(form);
        assert.ok(
          got.every((p) => enPlaceholders.includes(p)),
          `${key}.${cat}: ${JSON.stringify(form)}`,
        );
        // The number may only be left out ("نتيجتان", "תוצאה אחת") by a
        // form that stands for a single number.
        if (!got.includes('n')) {
          const takes = [];
          for (let i = 0; i <= 1000; i++) if (new Intl.PluralRules(lang).select(i) === cat) takes.push(i);
          assert.ok(takes.length === 1, `${key}.${cat}: ${JSON.stringify(form)} has no {n} but stands for ${takes.slice(0, 5).join(', ')}…`);
        }
      }
    }
    // strings.mjs, which checks a site's strings, agrees.
    assert.deepEqual(checkTable(lang, t, EN).map((p) => p.message), []);
  });
}

test('plural forms: Intl.PluralRules picks the right one', () => {
  const say = (lang, n) => format(lang, [table(lang)], 'results', { n });
  const cases = {
    en: { 0: '0 results', 1: '1 result', 2: '2 results', 21: '21 results' },
    ru: { 1: '1 результат', 3: '3 результата', 5: '5 результатов', 11: '11 результатов', 21: '21 результат', 22: '22 результата', 25: '25 результатов', 111: '111 результатов', 1.5: '1,5 результата' },
    uk: { 1: '1 результат', 4: '4 результати', 5: '5 результатів', 12: '12 результатів', 21: '21 результат', 1.5: '1,5 результату' },
    pl: { 1: '1 wynik', 2: '2 wyniki', 5: '5 wyników', 12: '12 wyników', 21: '21 wyników', 22: '22 wyniki', 1.5: '1,5 wyniku' },
    cs: { 1: '1 výsledek', 3: '3 výsledky', 5: '5 výsledků', 1.5: '1,5 výsledku' },
    ro: { 1: '1 rezultat', 2: '2 rezultate', 19: '19 rezultate', 20: '20 de rezultate', 101: '101 rezultate', 120: '120 de rezultate' },
    he: { 1: 'תוצאה אחת', 2: 'שתי תוצאות', 3: '3 תוצאות', 10: '10 תוצאות', 20: '20 תוצאות' },
    fr: { 0: '0 résultat', 1: '1 résultat', 2: '2 résultats', 1000000: '1 000 000 de résultats' },
    es: { 1: '1 resultado', 2: '2 resultados', 1000000: '1.000.000 de resultados' },
    ja: { 1: '1 件の結果', 7: '7 件の結果' },
    // ar-EG writes Arabic-Indic digits; ar, as Chromium and Node resolve it, Latin ones
    ar: { 0: 'لا توجد نتائج', 1: 'نتيجة واحدة', 2: 'نتيجتان', 3: '3 نتائج', 10: '10 نتائج', 11: '11 نتيجة', 99: '99 نتيجة', 100: '100 نتيجة', 102: '102 نتيجة', 103: '103 نتائج' },
  };
  for (const [lang, want] of Object.entries(cases)) {
    for (const [n, text] of Object.entries(want)) {
      // fr groups thousands with a narrow no-break space
      assert.equal(say(lang, Number(n)).replace(/[\u202f\u00a0]/g, ' '), text, `${lang} ${n}`);
    }
  }
  // Numbers are written as the language writes them.
  assert.equal(format('fa', [table('fa')], 'results', { n: 3 }), '۳ نتیجه');
  assert.equal(format('bn', [table('bn')], 'results', { n: 5 }), '৫টি ফলাফল');
  assert.equal(format('ar-EG', [table('ar')], 'results', { n: 3 }), '٣ نتائج');
});

test('strings fall back key by key, placeholders are filled, unknown ones kept', () => {
  const site = { placeholder: 'Search Acme docs…' };
  assert.equal(format('de', [site, table('de'), EN], 'placeholder'), 'Search Acme docs…');
  assert.equal(format('de', [site, table('de'), EN], 'button'), 'Suchen');
  assert.equal(format('de', [site, {}, EN], 'button'), 'Search');
  assert.equal(format('de', [site, EN], 'no such key'), 'no such key');
  assert.equal(format('en', [EN], 'noResults', { q: '{n} <b>' }), 'No results for “{n} <b>”');
  assert.equal(format('en', [EN], 'matchedIn', {}), 'Matched in {lang}');
  // an English plural table under a language with more categories: "other"
  assert.equal(format('ru', [EN], 'results', { n: 3 }), '3 results');
});

test('the UI language: the first of the reader\'s tags with a table', () => {
  assert.equal(pickLanguage(['fr-CA', 'en']), 'fr');
  assert.equal(pickLanguage(['pt-BR']), 'pt');
  assert.equal(pickLanguage(['zh-TW']), 'zh-Hant');
  assert.equal(pickLanguage(['zh-HK']), 'zh-Hant');
  assert.equal(pickLanguage(['zh-Hant-CN']), 'zh-Hant');
  assert.equal(pickLanguage(['zh-CN']), 'zh');
  assert.equal(pickLanguage(['zh-SG']), 'zh');
  assert.equal(pickLanguage(['zh']), 'zh');
  assert.equal(pickLanguage(['zh-TW'], ['en', 'zh']), 'zh');
  assert.equal(pickLanguage(['iw-IL']), 'he');
  assert.equal(pickLanguage(['in']), 'id');
  assert.equal(pickLanguage(['no']), 'nb');
  assert.equal(pickLanguage(['nn-NO']), 'nb');
  assert.equal(pickLanguage(['fa_IR']), 'fa');
  assert.equal(pickLanguage(['ca', 'es']), 'es');
  assert.equal(pickLanguage(['ca', 'es'], [...UI_LANGS, 'ca']), 'ca');
  assert.equal(pickLanguage(['xx', '', 'not a tag!', 'ur-PK']), 'ur');
  assert.equal(pickLanguage(['tlh']), 'en');
  assert.equal(pickLanguage([]), 'en');
  assert.deepEqual(tableNames('zh-Hant-TW'), ['zh-Hant', 'zh']);
  assert.deepEqual(tableNames('???'), []);
});

test('right to left: every shipped language as Intl.Locale says, and other languages written so', () => {
  for (const lang of UI_LANGS) {
    const loc = new Intl.Locale(lang);
    const info = loc.getTextInfo ? loc.getTextInfo() : loc.textInfo;
    assert.equal(direction(lang), info.direction, lang);
  }
  for (const lang of ['ar', 'fa', 'he', 'ur', 'ar-EG', 'fa-AF', 'he-IL', 'ur-IN', 'iw', 'ps', 'yi']) assert.equal(direction(lang), 'rtl', lang);
  for (const lang of ['en', 'hi', 'bn', 'zh-Hant', 'tr', 'ca']) assert.equal(direction(lang), 'ltr', lang);
});

test('a site\'s strings: each bad key is named, the good ones pass', () => {
  const msgs = (lang, t) => checkTable(lang, t, EN, { shipped: false }).map((p) => p.message);
  assert.deepEqual(msgs('en', { placeholder: 'Search Acme docs…', results: { one: '{n} article', other: '{n} articles' } }), []);
  // a string may leave out a placeholder, not bring its own
  assert.deepEqual(msgs('en', { noResults: 'Nothing found' }), []);
  assert.deepEqual(msgs('en', { noResults: 'Nothing for {query}' }), ['noResults: placeholders {query}, English has {q}']);
  assert.deepEqual(msgs('en', { placholder: 'typo' }), ['placholder: not a string crossfind shows']);
  assert.deepEqual(msgs('en', { button: '' }), ['button: must be a non-empty string']);
  assert.deepEqual(msgs('en', { button: 3 }), ['button: must be a non-empty string']);
  assert.deepEqual(msgs('en', { results: '{n} articles' }), ['results: must be an object of plural forms (one, other)']);
  // Russian needs four forms; "few" is not English
  assert.deepEqual(msgs('ru', { results: { one: '{n} статья', other: '{n} статьи' } }), ['results: no form for few, many (ru has one, few, many, other)']);
  assert.deepEqual(msgs('en', { results: { one: '{n} article', other: '{n} articles', lots: 'many' } }), ['results: lots is not a plural category of en (one, other)']);
  // a form that stands for many numbers must show the number
  assert.deepEqual(msgs('ru', { results: { one: 'одна статья', few: '{n} статьи', many: '{n} статей', other: '{n} статьи' } }), ['results.one: must show {n} (one covers more than one number in ru)']);
  assert.deepEqual(msgs('en', []), ['not a JSON object of strings']);
  assert.deepEqual(msgs('en', 'x'), ['not a JSON object of strings']);
  // a shipped file must have every key and exactly its categories
  const partial = { ...table('de') };
  delete partial.hint;
  assert.deepEqual(checkTable('de', partial, EN).map((p) => p.message), ['hint: missing']);
  assert.deepEqual(
    checkTable('de', { ...table('de'), results: { one: '{n} Ergebnis', few: '{n} Ergebnisse', other: '{n} Ergebnisse' } }, EN).map((p) => p.message),
    ['results: few is not a plural category of de (one, other)'],
  );
  assert.deepEqual(pluralCategories('ar'), ['zero', 'one', 'two', 'few', 'many', 'other']);
});
