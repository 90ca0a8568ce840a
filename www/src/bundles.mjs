// Several bundles in one search box, without the DOM: the `bundles`
// attribute of <crossfind-search> read into the list the search worker
// loads. Shared by the widget and the Node tests (tests/widget/bundles.test.mjs).
//
// The attribute: bundle folders separated by commas, each optionally
// followed by its weight (default 1):
//   bundles="/docs/crossfind/ 1, /blog/crossfind/ 0.5"
// A folder is resolved against the page (as a link would be) and must be
// on the page's own origin (the strict CSP's connect-src 'self' allows no
// other, and a bundle is the site's own content). A weight is a number
// above 0; it shifts the bundle's scores as a page weight does (0.5 takes
// 0.035 from each of its results, 2 adds 0.035; src/search/mod.rs,
// WEIGHT_SCALE), so it reorders close results across bundles.
//
// Each bundle's result links are resolved against its own site: the folder
// above the bundle folder (where `crossfind index --out <site>/crossfind`
// puts it), so a page the blog's indexer calls /en/post.html links to
// /blog/en/post.html.

// {bundles: [{base, weight}], problems}: `base` is the folder's absolute
// URL (ending in '/'); a part that cannot be read is left out, and said.
export function parseBundles(text, pageUrl) {
  const bundles = [];
  const problems = [];
  const origin = new URL(pageUrl).origin;
  for (const part of String(text ?? '').split(',')) {
    const words = part.trim().split(/\s+/).filter(Boolean);
    if (!words.length) continue;
    if (words.length > 2) {
      problems.push(`${JSON.stringify(part.trim())} is not "<folder> [weight]"; left out`);
      continue;
    }
    let base;
    try {
      base = new URL(words[0].endsWith('/') ? words[0] : `${words[0]}/`, pageUrl);
    } catch {
      problems.push(`${JSON.stringify(words[0])} is not a URL; left out`);
      continue;
    }
    if (base.origin !== origin || (base.protocol !== 'http:' && base.protocol !== 'https:')) {
      problems.push(`${JSON.stringify(words[0])} is not on this site (${origin}); left out`);
      continue;
    }
    base.search = '';
    base.hash = '';
    const weight = words.length === 2 ? Number(words[1]) : 1;
    if (!(Number.isFinite(weight) && weight > 0)) {
      problems.push(`the weight of ${JSON.stringify(words[0])} must be a number above 0, not ${JSON.stringify(words[1])}; left out`);
      continue;
    }
    if (bundles.some((b) => b.base === base.href)) {
      problems.push(`${JSON.stringify(words[0])} is listed twice; the first is used`);
      continue;
    }
    bundles.push({ base: base.href, weight });
  }
  return { bundles, problems };
}

// A result's URL as the indexer of the bundle at `base` wrote it (a path
// from that site's root, /en/post.html), as a path of this origin: the same
// path under the folder above the bundle. Anything else (a full URL, a
// relative one, `//host/…`) is left as it is, for the widget's own link
// check (dom.js, safeHref).
export function resolveResultUrl(url, base) {
  if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//')) return url;
  let u;
  try {
    u = new URL(url.slice(1), new URL('../', base));
  } catch {
    return url;
  }
  return u.pathname + u.search + u.hash;
}
