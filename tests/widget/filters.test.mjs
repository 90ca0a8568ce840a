// The `filter` attribute of <crossfind-search> and the `filter` option of
// the JS API, read into the engine's {key: [values]} (www/src/filters.mjs):
// what a site writes is what the engine is asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilter, normalizeFilter, isFiltering } from '../../www/src/filters.mjs';

test('the attribute: key:value pairs separated by commas or semicolons', () => {
  assert.deepEqual(parseFilter('version:2.0'), { filter: { version: ['2.0'] }, problems: [] });
  assert.deepEqual(parseFilter('section:Billing; version:2.0').filter, { section: ['Billing'], version: ['2.0'] });
  assert.deepEqual(parseFilter('section:Billing, version:2.0').filter, { section: ['Billing'], version: ['2.0'] });
  // a key given twice takes both values (alternatives), once each
  assert.deepEqual(parseFilter('section:Billing; section:Account, section:Billing').filter, { section: ['Billing', 'Account'] });
  assert.deepEqual(parseFilter('').filter, {});
  assert.deepEqual(parseFilter(null).filter, {});
  assert.deepEqual(parseFilter(' ; , ').filter, {});
});

test('the attribute: whitespace is collapsed as the indexer collapses it, the first colon splits', () => {
  assert.deepEqual(parseFilter('  section :  Integrations   &  API  ').filter, { section: ['Integrations & API'] });
  assert.deepEqual(parseFilter('time:10:30').filter, { time: ['10:30'] });
  assert.deepEqual(parseFilter('product:Kite\tbook').filter, { product: ['Kite book'] });
});

test('the attribute: a part that is not key:value is left out, and said', () => {
  const { filter, problems } = parseFilter('version, section:Billing; :x; y:');
  assert.deepEqual(filter, { section: ['Billing'] });
  assert.equal(problems.length, 3);
  assert.match(problems[0], /"version" is not key:value/);
});

test('keys that are also Object.prototype names are plain keys', () => {
  assert.deepEqual(parseFilter('constructor:a; __proto__:b; toString:c').filter, JSON.parse('{"constructor":["a"],"__proto__":["b"],"toString":["c"]}'));
  assert.equal(Object.getPrototypeOf(parseFilter('__proto__:b').filter), Object.prototype);
});

test('the JS API: an object of values or lists, a string, or nothing', () => {
  assert.deepEqual(normalizeFilter({ section: 'Billing', version: ['2.0', 2.1] }), { section: ['Billing'], version: ['2.0', '2.1'] });
  assert.deepEqual(normalizeFilter('section:Billing'), { section: ['Billing'] });
  assert.deepEqual(normalizeFilter(null), {});
  assert.deepEqual(normalizeFilter(undefined), {});
  assert.deepEqual(normalizeFilter({ section: [] , version: null, ' ': ['x'] }), {});
  assert.throws(() => normalizeFilter(['section:Billing']), TypeError);
  assert.throws(() => normalizeFilter({ section: [{}] }), TypeError);
  assert.throws(() => normalizeFilter(42), TypeError);
});

test('a filter with no values filters nothing', () => {
  assert.equal(isFiltering({}), false);
  assert.equal(isFiltering({ section: [] }), false);
  assert.equal(isFiltering({ section: ['Billing'] }), true);
});
