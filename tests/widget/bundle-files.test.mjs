// The manifest-name rules of www/src/bundle-files.cjs, which the search
// worker and the service worker apply to every name a manifest gives
// (manifest.json, model/pack.json, widget.json) before fetching anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { nameProblem, checkName, fileUrl, dirUrl, cacheMode } = require('../../www/src/bundle-files.cjs');

const BASE = new URL('https://docs.example.com/help/crossfind/');

test('plain relative names inside the bundle folder pass', () => {
  for (const name of [
    'manifest.json',
    'docs.2ca7ed34fd8f.json',
    'frag-000.4be1c0de9a77.json',
    'encoder.bin',
    'emb-003.bin',
    'i18n/pt.json',
    'crossfind_relaxed_bg.0123456789ab.wasm',
    'model/sub_dir/file~1+x.bin',
    '.well-known',
    'a..b',
  ]) {
    assert.equal(nameProblem(name), null, name);
    assert.equal(fileUrl(name, BASE, 'manifest.json').href, BASE.href + name);
  }
  assert.equal(dirUrl('model', BASE, 'manifest.json').href, BASE.href + 'model/');
  assert.equal(dirUrl('model/', BASE, 'manifest.json').href, BASE.href + 'model/');
  assert.equal(dirUrl('packs/e5-small', BASE, 'manifest.json').href, BASE.href + 'packs/e5-small/');
});

test('names that leave the folder, or could, are refused with the manifest named', () => {
  const bad = {
    'https://evil.example/frag.json': 'scheme',
    'HTTP://evil.example/x': 'scheme',
    'javascript:alert(1)': 'scheme',
    'data:application/json,{}': 'scheme',
    'C:x.json': 'scheme',
    '//evil.example/x.json': 'absolute',
    '/etc/passwd': 'absolute',
    '../../../../etc/passwd': '`..`',
    'model/../../x': '`..`',
    './x': '`.`',
    '...': '`...`',
    '%2e%2e/%2e%2e/x': 'percent',
    '%2E%2E/x': 'percent',
    'a%2fb': 'percent',
    '%252e%252e/x': 'percent',
    'a\\b': 'backslash',
    '..\\x': 'backslash',
    'a//b': 'empty',
    'a/': 'empty',
    '': 'empty',
    'a b.json': 'characters',
    'a?b=1': 'characters',
    'a#b': 'characters',
    'x\u0000.bin': 'characters',
    'x\t.bin': 'characters',
    'ｘ.bin': 'characters',
    ['a'.repeat(256)]: 'longer than 255',
  };
  for (const [name, why] of Object.entries(bad)) {
    const problem = nameProblem(name);
    assert.ok(problem && problem.includes(why), `${JSON.stringify(name)}: ${problem}`);
    assert.throws(
      () => fileUrl(name, BASE, 'pack.json'),
      (e) =>
        e.code === 'corrupt_file' &&
        e.file === 'pack.json' &&
        e.message.startsWith(`pack.json names the file ${JSON.stringify(name).slice(0, 100)}`) &&
        e.message.includes(', which is not a plain name inside the bundle folder: it '),
      name,
    );
  }
  for (const v of [null, undefined, 3, {}, ['a']]) assert.throws(() => checkName(v, 'widget.json'), /widget\.json names the file/);
  for (const dir of ['../model', '/model', 'https://evil.example/model/', '%2e%2e', 'model//']) {
    assert.throws(() => dirUrl(dir, BASE, 'manifest.json'), (e) => e.file === 'manifest.json', dir);
  }
});

test('content-hashed names may come from the HTTP cache; others are revalidated', () => {
  assert.equal(cacheMode(new URL('docs.2ca7ed34fd8f.json', BASE)), 'default');
  assert.equal(cacheMode(new URL('crossfind_bg.0123456789ab.wasm', BASE)), 'default');
  // gzip forms of content-hashed files are named by the same content
  assert.equal(cacheMode(new URL('docs.2ca7ed34fd8f.json.gz', BASE)), 'default');
  assert.equal(cacheMode(new URL('crossfind_bg.0123456789ab.wasm.gz', BASE)), 'default');
  for (const n of ['model/encoder.bin', 'model/vocab.bin', 'model/vocab.bin.gz', 'model/emb-blocks.bin', 'model/emb-000.bin', 'model/pack.json', 'manifest.json']) {
    assert.equal(cacheMode(new URL(n, BASE)), 'no-cache', n);
  }
  assert.equal(cacheMode('https://x/model/encoder.bin?v=docs.2ca7ed34fd8f.json'), 'no-cache');
});
