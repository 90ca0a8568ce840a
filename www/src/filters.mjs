// Search filters without the DOM: the `filter` attribute of
// <crossfind-search> and the `filter` option of the JS API, read into the
// shape the engine takes ({key: [values]}: every key must match, the values
// of one key are alternatives). Shared by the widget and the Node tests
// (tests/widget/filters.test.mjs).
//
// The attribute's text: `key:value` pairs separated by commas or
// semicolons, as in Markdown front matter (`crossfind_filters:`); the first
// colon of a pair splits key from value, whitespace is collapsed as the
// indexer collapses it, and a key given twice takes both values:
//   filter="version:2.0"
//   filter="section:Billing; section:Account, version:2.0"
// A value that itself holds a comma or semicolon can only be given through
// the JS API (an object).

const collapse = (s) => String(s).split(/\s+/).filter(Boolean).join(' ');

// {filter, problems}: the filter read from `text`, and a message for each
// part that is not `key:value` (left out).
export function parseFilter(text) {
  const filter = {};
  const problems = [];
  for (const part of String(text ?? '').split(/[,;]/)) {
    if (!part.trim()) continue;
    const at = part.indexOf(':');
    const key = at < 0 ? '' : collapse(part.slice(0, at));
    const value = at < 0 ? '' : collapse(part.slice(at + 1));
    if (!key || !value) {
      problems.push(`${JSON.stringify(part.trim())} is not key:value (e.g. version:2.0); left out`);
      continue;
    }
    add(filter, key, value);
  }
  return { filter, problems };
}

// Keys are page content: "__proto__" or "constructor" are keys like any
// other, so they are read with hasOwn and written as own properties.
export const valuesOf = (filter, key) => (filter && Object.hasOwn(filter, key) ? filter[key] : []);

export function setValues(filter, key, values) {
  if (values.length) Object.defineProperty(filter, key, { value: values, enumerable: true, writable: true, configurable: true });
  else delete filter[key];
}

function add(filter, key, value) {
  const values = valuesOf(filter, key);
  if (!values.includes(value)) setValues(filter, key, values.concat(value));
}

// A filter as the JS API may give it: a string in the attribute's syntax,
// or an object {key: value | [values]} (values as strings; numbers are
// written out). null, undefined and {} mean no filter. Keys without values
// are dropped. Throws a TypeError for anything else.
export function normalizeFilter(input) {
  if (input == null) return {};
  if (typeof input === 'string') return parseFilter(input).filter;
  if (typeof input !== 'object' || Array.isArray(input)) throw new TypeError('filter: expected {key: [values]} or "key:value, …"');
  const filter = {};
  for (const [k, v] of Object.entries(input)) {
    const key = collapse(k);
    const list = Array.isArray(v) ? v : v == null ? [] : [v];
    for (const item of list) {
      if (typeof item !== 'string' && typeof item !== 'number') throw new TypeError(`filter: the values of ${JSON.stringify(k)} must be strings`);
      const value = collapse(item);
      if (key && value) add(filter, key, value);
    }
  }
  return filter;
}

// Whether a filter selects anything (a filter with no keys lets every page through).
export const isFiltering = (filter) => !!filter && Object.values(filter).some((v) => v.length > 0);

// A copy that callers may keep or change.
export const copyFilter = (filter) => Object.fromEntries(Object.entries(filter || {}).map(([k, v]) => [k, v.slice()]));
