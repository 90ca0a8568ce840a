// The wasm search engine answers like the native CLI on the same bundle:
// same pages in the same order with the same scores, lexical before the
// model is attached, hybrid after; damaged shards are coded errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, mkdirSync, copyFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { BundleLoader, PackLoader } = require(path.join(root, 'pkg/node/crossfind.js'));
const cli = path.join(root, 'target/release/crossfind');
const modelDir = path.join(root, 'models/e5-small');

let bundleDir;
before(() => {
  bundleDir = path.join(mkdtempSync(path.join(tmpdir(), 'cf-bundle-')), 'crossfind');
  execFileSync(cli, ['index', '--input', path.join(root, 'tests/fixtures/sites/tiny'), '--out', bundleDir], { stdio: 'ignore' });
});

function loadEngine({ tamper = {} } = {}) {
  const loader = new BundleLoader(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  for (const name of loader.required()) {
    let bytes = readFileSync(path.join(bundleDir, name));
    if (tamper[name]) bytes = tamper[name](bytes);
    loader.add(name, bytes);
  }
  const frags = loader.fragments();
  const engine = loader.build();
  frags.forEach((name, i) => engine.addFragments(i, readFileSync(path.join(bundleDir, name))));
  return engine;
}

// The model with its whole embedding table, or (`lazy`) without it, as the
// widget loads it: rows then come per query through rowRanges/addRows.
function attachModel(engine, { lazy = false } = {}) {
  const pl = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  for (const n of [...pl.missing(), ...(lazy ? [] : pl.rowShards())]) pl.add(n, readFileSync(path.join(modelDir, n)));
  engine.setEncoder(pl.build());
}

// Reads the byte ranges the engine asks for, as the worker fetches them.
function fetchRows(engine, q) {
  let bytes = 0;
  for (const r of engine.rowRanges(q)) {
    const body = readFileSync(path.join(modelDir, r.file)).subarray(r.start, r.end);
    bytes += body.length;
    engine.addRows(r.firstBlock, body);
  }
  return bytes;
}

const nativeSearch = (q, args) =>
  execFileSync(cli, ['search', '--bundle', bundleDir, '--json', ...args, q], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));

const queries = [
  ['how do I reset my password', ['--lang', 'en']],
  ['contraseña olvidada', ['--lang', 'es']],
  ['パスワード', []],
];

test('lexical results are ready before the model and match the native lexical mode', () => {
  const engine = loadEngine();
  assert.equal(engine.hasEncoder(), false);
  for (const [q, args] of queries) {
    const lang = args[1];
    const wasm = engine.search(q, { lang, k: 5 });
    const native = nativeSearch(q, [...args, '--mode', 'lexical', '--k', '5']);
    assert.deepEqual(wasm.map((h) => h.url), native.map((h) => h.url), q);
  }
});

test('hybrid results in wasm equal the native ones, scores included', () => {
  const engine = loadEngine();
  attachModel(engine);
  for (const [q, args] of queries) {
    const wasm = engine.search(q, { lang: args[1], k: 5 });
    const native = nativeSearch(q, [...args, '--k', '5']);
    assert.ok(wasm.length > 0, q);
    assert.deepEqual(wasm.map((h) => [h.url, h.lang, h.alsoIn]), native.map((h) => [h.url, h.lang, h.also_in]), q);
    wasm.forEach((h, i) => {
      assert.ok(Math.abs(h.fused - native[i].fused) < 1e-6, `${q}: fused ${h.fused} vs ${native[i].fused}`);
      assert.ok(Math.abs(h.dense - native[i].dense) < 1e-4, `${q}: dense ${h.dense} vs ${native[i].dense}`);
    });
  }
});

test('with rows fetched per query, hybrid results are the same as with the whole table', () => {
  const engine = loadEngine();
  attachModel(engine, { lazy: true });
  for (const [q, args] of queries) {
    const code = (() => { try { engine.search(q, { lang: args[1], k: 5 }); } catch (e) { return e.code; } return 'no error'; })();
    assert.equal(code, 'missing_rows', q);
    const bytes = fetchRows(engine, q);
    assert.ok(bytes > 0 && bytes <= 50_000, `${q}: ${bytes} bytes`);
    const wasm = engine.search(q, { lang: args[1], k: 5 });
    const native = nativeSearch(q, [...args, '--k', '5']);
    assert.deepEqual(wasm.map((h) => h.url), native.map((h) => h.url), q);
    wasm.forEach((h, i) => assert.ok(Math.abs(h.fused - native[i].fused) < 1e-6, q));
    assert.equal(engine.rowRanges(q).length, 0, 'nothing more to fetch for a repeated query');
  }
});

// What the engine does with queries a search box receives besides words
// (src/wasm/mod.rs, Engine.search): blank ones answer nothing, a pasted page is
// cut to its first 2,000 characters, odd Unicode is normalised or dropped
// as the index's own text is (src/search/text.rs).
// The worker fetches snippet text per query: only the fragment shards
// holding the chunks of the hits shown (fragmentOf), then asks again.
test('with only the fragment shards its hits need, a search answers as with every shard', () => {
  const full = loadEngine();
  const docsName = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8')).shards.find((s) => s.kind === 'docs').name;
  const docs = JSON.parse(readFileSync(path.join(bundleDir, docsName), 'utf8'));
  docs.chunks.forEach((c, i) => assert.equal(full.fragmentOf(i), c.frag, `chunk ${i}`));
  assert.equal(full.fragmentOf(docs.chunks.length), undefined);
  const shown = (hits) => hits.map((h) => [h.url, h.chunk, h.snippet, h.highlights, h.sections.map((x) => [x.url, x.snippet, x.highlights])]);
  for (const [q, args] of queries) {
    const lang = args[1];
    const loader = new BundleLoader(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
    for (const name of loader.required()) loader.add(name, readFileSync(path.join(bundleDir, name)));
    const frags = loader.fragments();
    const engine = loader.build();
    const first = engine.search(q, { lang, k: 5, mode: 'lexical' });
    assert.ok(first.length > 0, q);
    assert.ok(first.every((h) => h.snippet === null), `no snippet without fragments: ${q}`);
    const need = new Set(first.flatMap((h) => [h.chunk, ...h.sections.map((x) => x.chunk)]).map((c) => engine.fragmentOf(c)));
    for (const i of need) engine.addFragments(i, readFileSync(path.join(bundleDir, frags[i])));
    assert.deepEqual(shown(engine.search(q, { lang, k: 5, mode: 'lexical' })), shown(full.search(q, { lang, k: 5, mode: 'lexical' })), q);
  }
});

// A site of more than 200 pages (bundle format 7, and 8 where the records
// alone name the pages): snippet text comes in
// records, one a page, in a `snippets` file; the engine names the byte
// ranges of the records its hits need (snippetRanges), the worker fetches
// them (www/src/worker.js, ensureSnippets), and the answers are those of
// the bundle with every record in. A damaged record is a coded error
// naming its file and costs only its page's snippet.
test('snippet records: the ranges a search names bring in its snippets, as the whole bundle has them', () => {
  const site = mkdtempSync(path.join(tmpdir(), 'cf-records-'));
  const tiny = path.join(root, 'tests/fixtures/sites/tiny');
  for (const page of ['en/reset-password', 'es/reset-password', 'es/facturas', 'ja/reset-password']) {
    const [lang, name] = page.split('/');
    mkdirSync(path.join(site, lang), { recursive: true });
    for (let i = 0; i < 51; i++) copyFileSync(path.join(tiny, `${page}.html`), path.join(site, lang, `${name}-${i}.html`));
  }
  const out = path.join(site, 'crossfind');
  execFileSync(cli, ['index', '--input', site, '--out', out], { stdio: 'ignore' });
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  assert.equal(manifest.version, 8);
  // format 8 lists the snippets files as [hash, bytes]
  assert.ok(!manifest.shards.some((s) => s.kind === 'snippets') && manifest.snippet_files.length >= 1);
  const files = manifest.snippet_files.map(([hash, bytes]) => ({ name: `snippets.${hash}.bin`, kind: 'snippets', bytes }));
  assert.ok(files.length >= 1 && !manifest.shards.some((s) => s.kind === 'fragments'), 'snippets files, no fragment shards');
  const open = () => {
    const loader = new BundleLoader(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    for (const f of files) assert.equal(loader.shardKind(f.name), 'snippets');
    assert.deepEqual(loader.fragments(), []);
    const required = loader.required();
    assert.ok(!required.some((n) => files.some((f) => f.name === n)), 'records come per query');
    for (const name of required) loader.add(name, readFileSync(path.join(out, name)));
    return loader.build();
  };
  const bytes = Object.fromEntries(files.map((f) => [f.name, readFileSync(path.join(out, f.name))]));
  const full = open();
  for (const f of files) full.addSnippetsFile(f.name, bytes[f.name]);
  const shown = (hits) => hits.map((h) => [h.pageId, h.url, h.title, h.chunk, h.snippet, h.highlights, h.sections.map((x) => [x.url, x.heading, x.snippet])]);
  const chunksOf = (hits) => hits.flatMap((h) => [h.chunk, ...h.sections.map((x) => x.chunk)]);
  const code = (fn) => { try { fn(); } catch (e) { return [e.code, e.file]; } return ['no error', null]; };
  for (const [q, args] of queries) {
    const opts = { lang: args[1], k: 5, mode: 'lexical' };
    const engine = open();
    const first = engine.search(q, opts);
    assert.ok(first.length > 0, q);
    assert.ok(first.every((h) => h.snippet === null && h.title === ''), `no snippet or title before the records: ${q}`);
    // the page ids are in the records too: until then one `#n` a page
    assert.ok(first.every((h) => /^#\d+$/.test(h.pageId)), JSON.stringify(first.map((h) => h.pageId)));
    assert.equal(new Set(first.map((h) => h.pageId)).size, first.length);
    const ranges = engine.snippetRanges(chunksOf(first));
    assert.ok(ranges.length >= 1 && ranges.length <= 5, `one record a page shown: ${ranges.length}`);
    assert.equal(new Set(ranges.map((r) => r.record)).size, ranges.length);
    // a damaged record: a coded error naming its file, and nothing changes
    const [r0] = ranges;
    const bad = Uint8Array.from(bytes[r0.file].subarray(r0.start, r0.end));
    bad[Math.floor(bad.length / 2)] ^= 0x55;
    assert.deepEqual(code(() => engine.addSnippetRecord(r0.record, bad)), ['corrupt_file', r0.file]);
    assert.equal(engine.snippetRanges(chunksOf(first)).length, ranges.length);
    for (const r of ranges) engine.addSnippetRecord(r.record, bytes[r.file].subarray(r.start, r.end));
    assert.deepEqual(engine.snippetRanges(chunksOf(first)), []);
    assert.deepEqual(shown(engine.search(q, opts)), shown(full.search(q, opts)), q);
  }
  // a whole file with one byte changed is refused whole
  const engine = open();
  const damaged = Uint8Array.from(bytes[files[0].name]);
  damaged[10] ^= 1;
  assert.deepEqual(code(() => engine.addSnippetsFile(files[0].name, damaged)), ['checksum_mismatch', files[0].name]);
});

test('odd queries: blank ones answer nothing, huge ones are cut, odd Unicode is normalised', () => {
  const lexical = loadEngine();
  const hybrid = loadEngine();
  attachModel(hybrid);
  const urls = (hits) => hits.map((h) => h.url);
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  const docs = JSON.parse(readFileSync(path.join(bundleDir, manifest.shards.find((s) => s.kind === 'docs').name), 'utf8'));
  const pages = new Set(docs.pages.map((p) => p.url));
  const sane = (hits, k, q) => {
    assert.ok(Array.isArray(hits) && hits.length <= k, `${q}: ${hits.length} hits for k = ${k}`);
    for (const h of hits) {
      assert.ok(pages.has(h.url.split('#')[0]), `${q}: ${h.url} is not a page of the bundle`);
      assert.ok(Number.isFinite(h.fused), `${q}: fused ${h.fused}`);
    }
  };

  // blank: no results, no error, whatever the mode and whether a model is attached
  for (const engine of [lexical, hybrid]) {
    for (const q of ['', '   ', '\n\t', '\u3000']) {
      for (const mode of [undefined, 'lexical', 'dense']) {
        assert.deepEqual(engine.search(q, { k: 3, mode }), [], JSON.stringify([q, mode]));
      }
    }
  }

  // huge: answered from its first 2,000 characters, the rest never read
  const word = 'password';
  assert.ok(lexical.search(word, { k: 3 }).length > 0);
  const padded = word + ' ' + 'a'.repeat(100_000);
  assert.deepEqual(urls(lexical.search(padded, { k: 3 })), urls(lexical.search(padded.slice(0, 2000), { k: 3 })));
  assert.ok(lexical.search(padded, { k: 3 }).length > 0, 'the words before the cut still match');
  assert.ok(lexical.search(' '.repeat(1990) + word, { k: 3 }).length > 0, 'a word that ends at character 1,998 is searched');
  assert.deepEqual(lexical.search(' '.repeat(2000) + word, { k: 3 }), [], 'words after 2,000 characters are not searched');
  const pasted = 'How do I reset my password? '.repeat(4000);
  const hits = hybrid.search(pasted, { k: 3 });
  sane(hits, 3, 'pasted page');
  assert.ok(hits.length > 0 && hits[0].dense !== null, 'a pasted page is searched semantically too');
  assert.deepEqual(hits, hybrid.search(pasted.slice(0, 2000), { k: 3 }));

  // odd Unicode: the same terms as the plain query after NFKC, case and
  // diacritic folding and dropping invisible characters
  const same = [
    ['ＰＡＳＳＷＯＲＤ', 'password'],
    ['pass\u200bword', 'password'],
    ['\u00adpassword\u2060', 'password'],
    ['contrasen\u0303a', 'contraseña'],
    ['CONTRASEÑA', 'contraseña'],
  ];
  for (const [odd, plain] of same) {
    const want = urls(lexical.search(plain, { k: 5, mode: 'lexical' }));
    assert.ok(want.length > 0, plain);
    assert.deepEqual(urls(lexical.search(odd, { k: 5, mode: 'lexical' })), want, JSON.stringify(odd));
  }
  // symbols, joiners, controls, markup and lone surrogates: no word, so no
  // keyword hit; the encoder still embeds them, so hybrid answers densely
  for (const q of ['\u200d', '👩‍👩‍👧', '\u202e\u202c', '\ufffd', '\ud800', '\u0000\u0001', '¿?!…', '<img src=x onerror=alert(1)>']) {
    const lex = lexical.search(q, { k: 3 });
    sane(lex, 3, JSON.stringify(q));
    if (!/[a-z]/i.test(q)) assert.deepEqual(lex, [], `${JSON.stringify(q)}: keyword hits without a word`);
    const hyb = hybrid.search(q, { k: 3 });
    sane(hyb, 3, JSON.stringify(q));
    assert.ok(hyb.length === 3 && hyb.every((h) => h.dense !== null), `${JSON.stringify(q)}: ${JSON.stringify(hyb)}`);
  }
  // a lone surrogate reaches Rust as U+FFFD, as if typed
  assert.deepEqual(hybrid.search('\ud800', { k: 3 }), hybrid.search('\ufffd', { k: 3 }));
  // markup in a query is text: it finds the page that shows it as text
  assert.match(hybrid.search('<img src=x onerror=alert(1)>', { k: 3 })[0].url, /^\/xss\.html/);
  // k is clamped to 1..100
  assert.equal(hybrid.search(word, { k: 0 }).length, 1);

  const code = (fn) => { try { fn(); } catch (e) { return e.code; } return 'no error'; };
  assert.equal(code(() => lexical.search('x', { mode: 'semantic' })), 'invalid_input');
  assert.equal(code(() => lexical.search('x', { k: 'many' })), 'invalid_input');
});

test('a flipped byte in a shard is refused with the shard named', () => {
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  const vectors = manifest.shards.find((s) => s.kind === 'vectors').name;
  const flip = (b) => { const c = Buffer.from(b); c[c.length - 3] ^= 0x40; return c; };
  try {
    loadEngine({ tamper: { [vectors]: flip } });
    assert.fail('loaded a damaged bundle');
  } catch (e) {
    assert.equal(e.code, 'checksum_mismatch');
    assert.match(e.message, new RegExp(vectors.replace(/\./g, '\\.')));
  }
  const other = manifest;
  other.version = 99;
  try { new BundleLoader(JSON.stringify(other)); assert.fail('loaded another version'); } catch (e) { assert.equal(e.code, 'version_mismatch'); }
});

test('without its vectors shard a bundle still searches by keywords (buildLexical)', () => {
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  const vectors = manifest.shards.find((s) => s.kind === 'vectors').name;
  const code = (fn) => { try { fn(); } catch (e) { return [e.code, e.message]; } return ['no error', '']; };
  const full = loadEngine();
  for (const damage of ['flipped', 'missing']) {
    const loader = new BundleLoader(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
    for (const name of loader.required()) {
      if (name === vectors && damage === 'missing') continue;
      const bytes = Buffer.from(readFileSync(path.join(bundleDir, name)));
      if (name === vectors) {
        bytes[bytes.length >> 1] ^= 0x20;
        assert.equal(code(() => loader.add(name, bytes))[0], 'checksum_mismatch');
      } else {
        loader.add(name, bytes);
      }
    }
    assert.deepEqual(loader.required(), [vectors]);
    const frags = loader.fragments();
    const engine = loader.buildLexical();
    frags.forEach((name, i) => engine.addFragments(i, readFileSync(path.join(bundleDir, name))));
    assert.equal(engine.hasVectors(), false);
    assert.equal(full.hasVectors(), true);
    for (const [q, args] of queries) {
      const lang = args[1];
      const want = full.search(q, { lang, k: 5, mode: 'lexical' });
      assert.ok(want.length > 0, q);
      for (const mode of [undefined, 'hybrid', 'lexical']) {
        const hits = engine.search(q, { lang, k: 5, mode });
        assert.deepEqual(hits.map((h) => [h.url, h.lexical, h.snippet]), want.map((h) => [h.url, h.lexical, h.snippet]), `${damage} ${q} ${mode}`);
        assert.ok(hits.every((h) => h.dense === null));
      }
      const [c, message] = code(() => engine.search(q, { lang, mode: 'dense' }));
      assert.equal(c, 'no_vectors', q);
      assert.ok(message.includes(vectors), message);
    }
    // The model cannot be attached: there is nothing to compare its vectors with.
    const pl = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
    for (const n of pl.missing()) pl.add(n, readFileSync(path.join(modelDir, n)));
    const [c, message] = code(() => engine.setEncoder(pl.build()));
    assert.equal(c, 'no_vectors');
    assert.ok(message.includes(vectors) && (damage === 'missing' ? /missing/ : /checksum mismatch/).test(message), message);
    assert.equal(engine.hasEncoder(), false);
    assert.equal(engine.search('password', { k: 3 }).length > 0, true);
  }
});

// The worker answers keyword queries from the docs and lexical shards alone
// and fetches the vectors with the model (www/src/worker.js, loadVectors).
test('keyword search answers without the vectors shard; added later, hybrid equals a bundle loaded whole', () => {
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  const shard = manifest.shards.find((s) => s.kind === 'vectors');
  const code = (fn) => { try { fn(); } catch (e) { return [e.code, e.message, e.file]; } return ['no error', '', null]; };
  const loader = new BundleLoader(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  assert.equal(loader.vectors(), shard.name);
  assert.equal(loader.shardBytes(shard.name), shard.bytes);
  assert.equal(loader.shardBytes('nope.bin'), undefined);
  const read = [];
  for (const name of loader.required()) {
    if (name === loader.vectors()) continue;
    read.push(name);
    loader.add(name, readFileSync(path.join(bundleDir, name)));
  }
  assert.deepEqual(read.map((n) => loader.shardKind(n)).sort(), ['docs', 'lexical']);
  const frags = loader.fragments();
  const engine = loader.buildKeywords();
  frags.forEach((name, i) => engine.addFragments(i, readFileSync(path.join(bundleDir, name))));
  const full = loadEngine();
  assert.equal(engine.hasVectors(), false);
  const shown = (hits) => hits.map((h) => [h.url, h.lang, h.lexical, h.dense, h.fused, h.snippet, h.highlights]);
  for (const [q, args] of queries) {
    const lang = args[1];
    const want = full.search(q, { lang, k: 5, mode: 'lexical' });
    assert.ok(want.length > 0, q);
    const native = nativeSearch(q, [...args, '--mode', 'lexical', '--k', '5']);
    assert.deepEqual(want.map((h) => h.url), native.map((h) => h.url), q);
    for (const mode of [undefined, 'hybrid', 'lexical']) assert.deepEqual(shown(engine.search(q, { lang, k: 5, mode })), shown(want), `${q} ${mode}`);
    const [c, message] = code(() => engine.search(q, { lang, mode: 'dense' }));
    assert.equal(c, 'no_vectors', q);
    assert.match(message, /not loaded yet/);
  }
  // the model waits for the vectors
  const pl = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  for (const n of pl.missing()) pl.add(n, readFileSync(path.join(modelDir, n)));
  assert.equal(code(() => engine.setEncoder(pl.build()))[0], 'no_vectors');
  // a damaged shard is refused with its code and file, and keyword search goes on
  const bad = Buffer.from(readFileSync(path.join(bundleDir, shard.name)));
  bad[bad.length >> 1] ^= 0x20;
  const [c, , file] = code(() => engine.addVectors(bad));
  assert.equal(c, 'checksum_mismatch');
  assert.equal(file, shard.name);
  assert.equal(code(() => engine.addVectors(bad.subarray(0, 100)))[0], 'corrupt_file');
  assert.equal(engine.hasVectors(), false);
  assert.ok(engine.search('password', { k: 3 }).length > 0);
  // the real one: from then on the same answers, scores bit for bit, as the bundle loaded whole
  engine.addVectors(readFileSync(path.join(bundleDir, shard.name)));
  assert.equal(engine.hasVectors(), true);
  attachModel(engine);
  attachModel(full);
  for (const [q, args] of queries) {
    const lang = args[1];
    for (const mode of [undefined, 'dense', 'lexical']) {
      const a = engine.answer(q, { lang, k: 5, mode });
      const b = full.answer(q, { lang, k: 5, mode });
      assert.ok(a.hits.length > 0, q);
      assert.deepEqual(shown(a.hits), shown(b.hits), `${q} ${mode}`);
      assert.deepEqual([a.lowConfidence, a.confidence], [b.lowConfidence, b.confidence], q);
    }
    const native = nativeSearch(q, [...args, '--k', '5']);
    assert.deepEqual(engine.search(q, { lang, k: 5 }).map((h) => h.url), native.map((h) => h.url), q);
  }
});

// A lexical index in term-range pieces (bundle format 6, each piece deflated; `crossfind index
// --lexical-pieces`): the engine names the byte ranges of the pieces a
// query's terms are in, the worker fetches them (www/src/worker.js,
// ensureLexical), and the answers are those of the index in one piece.
test('a lexical index in pieces: a query fetches only the pieces it needs and answers as the one-piece bundle', () => {
  const pieced = path.join(mkdtempSync(path.join(tmpdir(), 'cf-pieced-')), 'crossfind');
  execFileSync(cli, ['index', '--input', path.join(root, 'tests/fixtures/sites/tiny'), '--out', pieced, '--lexical-pieces', '200'], { stdio: 'ignore' });
  const manifest = JSON.parse(readFileSync(path.join(pieced, 'manifest.json'), 'utf8'));
  const terms = manifest.shards.filter((s) => s.kind === 'lexical_terms');
  assert.ok(terms.length >= 1 && terms.every((s) => !s.encoded), 'pieces files, fetched by range, no gzip form');
  assert.equal(manifest.version, 6, 'lexical pieces, stored deflated');
  const code = (fn) => { try { fn(); } catch (e) { return [e.code, e.file]; } return ['no error', null]; };
  const load = () => {
    const loader = new BundleLoader(readFileSync(path.join(pieced, 'manifest.json'), 'utf8'));
    for (const t of terms) assert.equal(loader.shardKind(t.name), 'lexical_terms');
    const required = loader.required();
    assert.ok(!required.some((n) => terms.some((t) => t.name === n)), 'the pieces are not loaded up front');
    for (const name of required) loader.add(name, readFileSync(path.join(pieced, name)));
    const frags = loader.fragments();
    const engine = loader.build();
    frags.forEach((name, i) => engine.addFragments(i, readFileSync(path.join(pieced, name))));
    return engine;
  };
  const whole = loadEngine(); // the tiny site's default bundle: one piece
  const shown = (hits) => hits.map((h) => [h.url, h.lang, h.lexical, h.dense, h.fused, h.snippet, h.highlights]);
  const engine = load();
  attachModel(engine);
  attachModel(whole);
  const pieces = new Set();
  let fetched = 0;
  for (const [q, args] of queries) {
    const lang = args[1];
    const ranges = engine.lexicalRanges(q);
    // (a later query may find its pieces in already)
    if (q === queries[0][0]) assert.ok(ranges.length > 0, q);
    if (ranges.length) assert.deepEqual(code(() => engine.search(q, { lang, k: 5, mode: 'lexical' }))[0], 'missing_pieces', q);
    for (const r of ranges) {
      const body = readFileSync(path.join(pieced, r.file)).subarray(r.start, r.end);
      fetched += body.length;
      pieces.add(r.piece);
      engine.addLexicalPiece(r.piece, body);
    }
    assert.deepEqual(engine.lexicalRanges(q), [], `${q}: nothing more to fetch`);
    for (const mode of ['lexical', 'hybrid']) {
      assert.deepEqual(shown(engine.search(q, { lang, k: 5, mode })), shown(whole.search(q, { lang, k: 5, mode })), `${q} ${mode}`);
    }
    fetchRows(engine, q);
    const native = nativeSearch(q, [...args, '--k', '5']);
    assert.deepEqual(engine.search(q, { lang, k: 5 }).map((h) => h.url), native.map((h) => h.url), q);
  }
  // a typo: once its own pieces show the site lacks the word, the pieces
  // its neighbours one edit away may be in follow, and the query is read
  // respelt, as natively and as by the one-piece bundle
  const typo = 'pasword resset';
  let rounds = 0;
  for (let ranges = engine.lexicalRanges(typo); ranges.length; ranges = engine.lexicalRanges(typo)) {
    assert.ok(++rounds <= 2, 'own pieces, then the neighbours\' pieces');
    for (const r of ranges) engine.addLexicalPiece(r.piece, readFileSync(path.join(pieced, r.file)).subarray(r.start, r.end));
  }
  fetchRows(engine, typo);
  const fixed = engine.answer(typo, { lang: 'en', k: 5 });
  assert.equal(fixed.respelled, 'password reset');
  assert.equal(whole.answer(typo, { lang: 'en', k: 5 }).respelled, 'password reset');
  assert.deepEqual(fixed.hits.map((h) => h.url), whole.search(typo, { lang: 'en', k: 5 }).map((h) => h.url));
  assert.match(fixed.hits[0].url, /reset-password/);
  const nat = spawnSync(cli, ['search', '--bundle', pieced, '--lang', 'en', '--k', '5', typo], { encoding: 'utf8' });
  assert.match(nat.stderr, /searched for: password reset/);
  const total = terms.reduce((n, t) => n + t.bytes, 0);
  assert.ok(fetched < total, `${fetched} of ${total} bytes of pieces`);
  // a damaged piece: refused with its code and file; the whole file (a host without Range) brings every piece
  const fresh = load();
  const [r] = fresh.lexicalRanges('password');
  const bad = Buffer.from(readFileSync(path.join(pieced, r.file)).subarray(r.start, r.end));
  bad[0] ^= 1;
  // a piece is a zlib stream (head version 4): its header and Adler-32 refuse it
  assert.deepEqual(code(() => fresh.addLexicalPiece(r.piece, bad)), ['corrupt_file', r.file]);
  bad[0] ^= 1;
  bad[bad.length - 1] ^= 1;
  assert.deepEqual(code(() => fresh.addLexicalPiece(r.piece, bad)), ['corrupt_file', r.file]);
  const file = Buffer.from(readFileSync(path.join(pieced, r.file)));
  file[r.start] ^= 1;
  assert.deepEqual(code(() => fresh.addLexicalFile(r.file, file)), ['checksum_mismatch', r.file]);
  fresh.addLexicalFile(r.file, readFileSync(path.join(pieced, r.file)));
  assert.ok(!fresh.lexicalRanges('password').some((x) => x.file === r.file));
});

// Vectors with sign codes (bundle format 5; `crossfind index --dense-codes
// on`, by default above 1.5 MB of rows): the codes come up front in place of
// the vectors shard, the engine runs the first stage and names the byte
// ranges of the rows of its candidate pages, the worker fetches them
// (www/src/worker.js, ensureDenseRows), and the answers are the native
// CLI's on the same bundle. The tiny site has fewer chunks than the first
// stage's 180 candidates, so they are also the one-piece bundle's.
test('vectors with sign codes: rows come by range per query and answers equal the native two-stage search', () => {
  const coded = path.join(mkdtempSync(path.join(tmpdir(), 'cf-coded-')), 'crossfind');
  execFileSync(cli, ['index', '--input', path.join(root, 'tests/fixtures/sites/tiny'), '--out', coded, '--dense-codes', 'on'], { stdio: 'ignore' });
  const manifest = JSON.parse(readFileSync(path.join(coded, 'manifest.json'), 'utf8'));
  assert.equal(manifest.version, 5);
  const codes = manifest.shards.find((s) => s.kind === 'vector_codes');
  const vectors = manifest.shards.find((s) => s.kind === 'vectors');
  assert.ok(codes && vectors && !vectors.encoded, 'a codes shard; the rows file has no gzip form');
  const code = (fn) => { try { fn(); } catch (e) { return [e.code, e.file]; } return ['no error', null]; };
  const loader = new BundleLoader(readFileSync(path.join(coded, 'manifest.json'), 'utf8'));
  assert.equal(loader.vectors(), codes.name, 'semantic search loads the codes up front');
  assert.equal(loader.shardKind(codes.name), 'vector_codes');
  assert.ok(!loader.required().includes(vectors.name), 'the rows are not loaded up front');
  for (const name of loader.required()) if (name !== codes.name) loader.add(name, readFileSync(path.join(coded, name)));
  const frags = loader.fragments();
  const engine = loader.buildKeywords();
  frags.forEach((name, i) => engine.addFragments(i, readFileSync(path.join(coded, name))));
  const badCodes = Buffer.from(readFileSync(path.join(coded, codes.name)));
  badCodes[badCodes.length >> 1] ^= 4;
  assert.deepEqual(code(() => engine.addVectors(badCodes)), ['checksum_mismatch', codes.name]);
  engine.addVectors(readFileSync(path.join(coded, codes.name)));
  assert.equal(engine.hasVectors(), true);
  attachModel(engine);
  const whole = loadEngine();
  attachModel(whole);
  const shown = (hits) => hits.map((h) => [h.url, h.lang, h.lexical, h.dense, h.fused, h.snippet, h.highlights]);
  const rowsFile = readFileSync(path.join(coded, vectors.name));
  let fetched = 0;
  for (const [q, args] of queries) {
    const lang = args[1];
    const ranges = engine.denseRanges(q, { lang, k: 5 });
    if (q === queries[0][0]) {
      assert.ok(ranges.length > 0, q);
      assert.deepEqual(code(() => engine.search(q, { lang, k: 5 }))[0], 'missing_vector_rows', q);
      // a damaged block: refused with its code and the rows file, nothing added
      const bad = Buffer.from(rowsFile.subarray(ranges[0].start, ranges[0].end));
      bad[5] ^= 1;
      assert.deepEqual(code(() => engine.addVectorRows(ranges[0].block, bad)), ['checksum_mismatch', vectors.name]);
      assert.deepEqual(engine.denseRanges(q, { lang, k: 5 }), ranges);
    }
    assert.deepEqual(engine.denseRanges(q, { lang, k: 5, mode: 'lexical' }), [], 'keyword search needs no rows');
    ranges.forEach((r, i) => {
      assert.equal(r.file, vectors.name);
      fetched += r.end - r.start;
      // one block a page: the range is cut at its blocks' ends
      assert.equal(r.blockEnds.at(-1), r.end, q);
      assert.ok(r.blockEnds.every((e, j) => e > (j ? r.blockEnds[j - 1] : r.start)), q);
      if (i % 2 === 0) {
        engine.addVectorRows(r.block, rowsFile.subarray(r.start, r.end));
      } else {
        // block by block, as a worker adds the blocks it kept from an earlier visit
        r.blockEnds.forEach((e, j) => engine.addVectorRows(r.block + j, rowsFile.subarray(j ? r.blockEnds[j - 1] : r.start, e)));
      }
    });
    assert.deepEqual(engine.denseRanges(q, { lang, k: 5 }), [], `${q}: nothing more to fetch`);
    for (const mode of ['hybrid', 'dense']) {
      const a = engine.answer(q, { lang, k: 5, mode });
      const b = whole.answer(q, { lang, k: 5, mode });
      assert.ok(a.hits.length > 0, q);
      assert.deepEqual(shown(a.hits), shown(b.hits), `${q} ${mode}`);
      assert.deepEqual([a.lowConfidence, a.confidence], [b.lowConfidence, b.confidence], q);
    }
    const native = execFileSync(cli, ['search', '--bundle', coded, '--json', ...args, '--k', '5', q], { encoding: 'utf8' })
      .split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const wasm = engine.search(q, { lang, k: 5 });
    assert.deepEqual(wasm.map((h) => h.url), native.map((h) => h.url), q);
    wasm.forEach((h, i) => assert.ok(Math.abs(h.fused - native[i].fused) < 1e-6, `${q}: fused ${h.fused} vs ${native[i].fused}`));
  }
  assert.ok(fetched > 0 && fetched <= rowsFile.length, `${fetched} bytes of rows`);
  // a host that ignores Range: the whole file, checked against the manifest, brings every row
  const fresh = new BundleLoader(readFileSync(path.join(coded, 'manifest.json'), 'utf8'));
  for (const name of fresh.required()) fresh.add(name, readFileSync(path.join(coded, name)));
  const e2 = fresh.build();
  attachModel(e2);
  assert.ok(e2.denseRanges('password', {}).length > 0);
  const cut = Buffer.from(rowsFile);
  cut[cut.length - 1] ^= 1;
  assert.deepEqual(code(() => e2.addVectorsFile(cut)), ['checksum_mismatch', vectors.name]);
  e2.addVectorsFile(rowsFile);
  assert.deepEqual(e2.denseRanges('password', {}), []);
});

test('buildLexical still needs the docs and lexical shards', () => {
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  for (const kind of ['docs', 'lexical']) {
    const skip = manifest.shards.find((s) => s.kind === kind).name;
    const loader = new BundleLoader(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
    for (const name of loader.required()) if (name !== skip) loader.add(name, readFileSync(path.join(bundleDir, name)));
    try {
      loader.buildLexical();
      assert.fail(`built without the ${kind} shard`);
    } catch (e) {
      assert.equal(e.code, 'missing_file', kind);
      assert.ok(e.message.includes(skip), e.message);
      assert.equal(e.file, skip, 'the error names its file as a property, not only in the message');
    }
  }
});

test('a damaged shard: the error carries its code and file, and the loader says what kind of shard it is', () => {
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  const loader = new BundleLoader(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  for (const s of manifest.shards) assert.equal(loader.shardKind(s.name), s.kind);
  assert.equal(loader.shardKind('nope.bin'), undefined);
  const vectors = manifest.shards.find((s) => s.kind === 'vectors').name;
  const bytes = Buffer.from(readFileSync(path.join(bundleDir, vectors)));
  bytes[bytes.length >> 1] ^= 0xff;
  try {
    loader.add(vectors, bytes);
    assert.fail('a flipped byte was accepted');
  } catch (e) {
    assert.equal(e.code, 'checksum_mismatch');
    assert.equal(e.file, vectors);
  }
  // errors about no file in particular carry none
  try {
    loader.add('nope.bin', new Uint8Array(1));
    assert.fail('an unlisted name was accepted');
  } catch (e) {
    assert.equal(e.code, 'invalid_input');
    assert.equal(e.file, undefined);
  }
});

// Every key of a value the engine hands to JS, at any depth.
function keysOf(v, out = new Set()) {
  if (Array.isArray(v)) v.forEach((x) => keysOf(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) keysOf(x, out.add(k));
  return out;
}
const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const camelKeys = (v) =>
  Array.isArray(v) ? v.map(camelKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelKeys(x)])) : v;

test('what the engine hands to JS is plain camelCase data: the CLI --json hits, the languages, the row ranges', () => {
  const engine = loadEngine();
  attachModel(engine, { lazy: true });
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  // the languages are an object, not JSON text to parse again
  const langs = engine.languages();
  assert.equal(typeof langs, 'object');
  assert.deepEqual(langs, manifest.languages);
  for (const [q, args] of queries) {
    const ranges = engine.rowRanges(q);
    assert.ok(ranges.length > 0, q);
    assert.deepEqual([...keysOf(ranges)].sort(), ['blockBytes', 'blocks', 'end', 'file', 'firstBlock', 'start']);
    fetchRows(engine, q);
    const wasm = engine.search(q, { lang: args[1], k: 5 });
    const native = nativeSearch(q, [...args, '--k', '5']);
    assert.ok(wasm.length > 0 && wasm.some((h) => h.sections.length || h.alsoIn.length), q);
    // the CLI's JSON keeps its snake_case; the page gets the same data in camelCase
    assert.ok([...keysOf(wasm)].every((k) => !k.includes('_')), [...keysOf(wasm)].join(' '));
    for (const h of wasm) assert.equal(Object.getPrototypeOf(h), Object.prototype, 'a plain object');
    // numbers: f32 as JS numbers, against the CLI's shortest decimal form
    const scores = [];
    const plain = (v) => JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'number' && !Number.isInteger(x) ? (scores.push(x), 'f32') : x)));
    const [got, wasmScores] = [plain(wasm), scores.splice(0)];
    assert.deepEqual(got, plain(camelKeys(native)), q);
    scores.forEach((x, i) => assert.ok(Math.abs(x - wasmScores[i]) < 1e-6, `${q}: wasm ${wasmScores[i]}, CLI ${x}`));
  }
});

test('a bundle given another model pack refuses it with code model_mismatch', () => {
  const engine = loadEngine();
  const pack = JSON.parse(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  // another query prefix: another pack id (every vector would differ)
  pack.profile.query_prefix = 'question: ';
  const pl = new PackLoader(JSON.stringify(pack));
  for (const n of pl.missing()) pl.add(n, readFileSync(path.join(modelDir, n)));
  const enc = pl.build();
  try {
    engine.setEncoder(enc);
    assert.fail('accepted another pack');
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'model_mismatch');
    assert.match(e.message, /rebuild the bundle/);
  }
  assert.equal(engine.hasEncoder(), false);
});

// `crossfind search` prints its verdict on stderr: "confidence: low (best dense 0.312 < the level 0.381 for en)".
function nativeConfidence(q, args) {
  const r = spawnSync(cli, ['search', '--bundle', bundleDir, ...args, q], { encoding: 'utf8' });
  const m = /confidence: (low|ok) \(best dense (-?[\d.]+) (?:<|>=) the level (-?[\d.]+) for (.+)\)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { low: m[1] === 'low', score: Number(m[2]), level: Number(m[3]), lang: m[4] };
}

test('answer() gives the hits and whether the best match is weak, as the CLI judges it; engines share one encoder; a weight shifts scores', () => {
  const engine = loadEngine();
  attachModel(engine, { lazy: true });
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  assert.ok(manifest.confidence && Object.keys(manifest.confidence.dense).length >= 40, 'the indexer set a level per sample language');
  // a second bundle's engine (here the same bundle) uses the first one's encoder
  const other = loadEngine();
  other.shareEncoder(engine);
  assert.equal(other.hasEncoder(), true);
  const verdicts = [];
  for (const [q, lang] of [['how do I reset my password', 'en'], ['what is the capital of Australia', 'en'], ['contraseña olvidada', 'es'], ['receta de tortilla de patatas', 'es']]) {
    fetchRows(engine, q);
    const a = engine.answer(q, { lang, k: 5 });
    assert.deepEqual(Object.keys(a).sort(), ['confidence', 'hits', 'lowConfidence', 'respelled']);
    assert.equal(a.respelled, null, `${q}: every word is known`);
    assert.deepEqual(Object.keys(a.confidence).sort(), ['level', 'levelLang', 'score']);
    assert.deepEqual(a.hits, engine.search(q, { lang, k: 5 }));
    const native = nativeConfidence(q, ['--lang', lang, '--k', '5']);
    assert.equal(a.lowConfidence, native.low, q);
    assert.ok(Math.abs(a.confidence.score - native.score) < 1e-3 && Math.abs(a.confidence.level - native.level) < 1e-3, `${q}: ${JSON.stringify(a.confidence)} vs ${JSON.stringify(native)}`);
    assert.equal(a.confidence.levelLang, native.lang === 'other languages' ? null : native.lang);
    verdicts.push(a.lowConfidence);
    // the shared encoder has the rows fetched through the first engine; the weight moves every score by 0.05·ln(w)
    const b = other.answer(q, { lang, k: 5, weight: 2 });
    assert.deepEqual(b.hits.map((h) => h.url), a.hits.map((h) => h.url));
    b.hits.forEach((h, i) => assert.ok(Math.abs(h.fused - a.hits[i].fused - 0.05 * Math.log(2)) < 1e-5, q));
    assert.deepEqual(b.confidence, a.confidence);
  }
  assert.deepEqual(verdicts, [false, true, false, true], 'off-topic questions are flagged, the site\'s own are not');
  // keyword answers are not judged
  assert.equal(engine.answer('password', { mode: 'lexical' }).lowConfidence, null);
  assert.equal(engine.answer('   ', {}).lowConfidence, null);
  const code = (f) => {
    try {
      f();
    } catch (e) {
      return e.code;
    }
    return 'no error';
  };
  assert.equal(code(() => engine.answer('password', { weight: 0 })), 'invalid_input');
  assert.equal(code(() => engine.answer('password', { weight: 'heavy' })), 'invalid_input');
  assert.equal(code(() => loadEngine().shareEncoder(loadEngine())), 'invalid_input', 'nothing to share yet');
});
