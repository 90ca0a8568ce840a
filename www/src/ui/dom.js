// DOM helpers, and the links a result may become. Page content is only ever
// set as text (docs/security.md).

// ----------------------------------------------------------------------- DOM

export function h(tag, attrs = {}, ...children) {
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
export function searchIcon() {
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
export function highlighted(snippet, ranges) {
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

export function deepActiveElement() {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a;
}

export function isEditable(el) {
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
export function warnRefused(url) {
  if (refused.has(url)) return;
  refused.add(url);
  console.warn(`crossfind: a result's URL ${JSON.stringify(url)} is not a page of this site (${location.origin}); it is shown without a link`);
}

// A result's link opens the page at the matched passage: the section's
// anchor plus a URL text fragment (#anchor:~:text=...) quoting the start of
// the snippet, which the browser scrolls to and highlights. Browsers without
// text fragments go to the anchor (no highlight there yet).
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
