// The `bundles` attribute of <crossfind-search> (www/src/bundles.mjs): what
// a site writes is the list of bundles the worker loads, and each bundle's
// result links point into its own site.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBundles, resolveResultUrl } from '../../www/src/bundles.mjs';

const PAGE = 'https://help.example/docs/en/index.html';

test('folders with weights, resolved against the page', () => {
  const { bundles, problems } = parseBundles('/docs/crossfind/ 1, /blog/crossfind 0.5,../../shop/crossfind/', PAGE);
  assert.deepEqual(problems, []);
  assert.deepEqual(bundles, [
    { base: 'https://help.example/docs/crossfind/', weight: 1 },
    { base: 'https://help.example/blog/crossfind/', weight: 0.5 },
    { base: 'https://help.example/shop/crossfind/', weight: 1 },
  ]);
});

test('another origin, a bad weight, a repeat or extra words are left out, and said', () => {
  const { bundles, problems } = parseBundles(
    'https://evil.example/crossfind/, javascript:alert(1), /a/crossfind/ 0, /b/crossfind/ heavy, /c/crossfind/ -1, /d/crossfind/ 1 2, /docs/crossfind/, /docs/crossfind/ 3',
    PAGE,
  );
  assert.deepEqual(bundles, [{ base: 'https://help.example/docs/crossfind/', weight: 1 }]);
  assert.equal(problems.length, 7, problems.join('\n'));
  assert.match(problems[0], /not on this site/);
  assert.match(problems[2], /weight .* above 0/);
  assert.match(problems[6], /listed twice/);
  assert.deepEqual(parseBundles('', PAGE), { bundles: [], problems: [] });
});

test("a result's path is resolved under the folder above its bundle", () => {
  const blog = 'https://help.example/blog/crossfind/';
  assert.equal(resolveResultUrl('/en/post.html#intro:~:text=Hello', blog), '/blog/en/post.html#intro:~:text=Hello');
  assert.equal(resolveResultUrl('/en/post.html', 'https://help.example/crossfind/'), '/en/post.html');
  // nothing here can move a link to another host: full and protocol-relative
  // URLs are left for the widget's own link check, backslashes stay on this origin
  assert.equal(resolveResultUrl('//evil.example/x', blog), '//evil.example/x');
  assert.equal(resolveResultUrl('https://evil.example/x', blog), 'https://evil.example/x');
  assert.equal(resolveResultUrl('/\\\\evil.example/x', blog), '/x');
  assert.equal(resolveResultUrl('javascript:alert(1)', blog), 'javascript:alert(1)');
});
