// The wasm encoder in Node: same token ids as Python tokenizers, same
// embeddings and neighbours as the native build, typed errors for bad input.
// Runs on the flavour pkg/node picks (relaxed SIMD where this Node has it);
// CROSSFIND_WASM_FLAVOUR=baseline|relaxed forces one, and flavours.test.mjs
// runs this file again on the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { PackLoader, Tokenizer, wasmFlavour } = require(path.join(root, 'pkg/node/crossfind.js'));
const modelDir = path.join(root, 'models/e5-small');
const cli = path.join(root, 'target/release/crossfind');

const jsonl = (p) => readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

function readNpy(p) {
  const b = readFileSync(p);
  const hlen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hlen).toString('latin1');
  const [n, d] = header.match(/'shape': \((\d+), (\d+)\)/).slice(1).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
}

const cos = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
};

function loadEncoder(dir = modelDir, tamper = {}) {
  const loader = new PackLoader(readFileSync(path.join(dir, 'pack.json'), 'utf8'));
  for (const name of [...loader.missing(), ...loader.rowShards()]) {
    if (tamper[name] === 'skip') continue;
    let bytes = readFileSync(path.join(dir, name));
    if (tamper[name]) bytes = tamper[name](bytes);
    loader.add(name, bytes);
  }
  return loader.build();
}

let encoder;
const enc = () => (encoder ??= loadEncoder());

// Embeds texts with the native CLI (one per line) for comparison.
function nativeEmbed(texts, kind) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cf-'));
  writeFileSync(path.join(dir, 'in.txt'), texts.join('\n') + '\n');
  execFileSync(cli, ['embed', '--model', modelDir, '--kind', kind, '--input', path.join(dir, 'in.txt'), '--out', path.join(dir, 'out.npy')], { stdio: ['ignore', 'ignore', 'pipe'] });
  return readNpy(path.join(dir, 'out.npy'));
}

test('wasm token ids equal Python tokenizers on every fixture string', () => {
  const refs = new Map(jsonl(path.join(root, '.cache/reference/tokenizer_ids.jsonl')).map((r) => [r.id, r.ids]));
  for (const tok of [
    new Tokenizer(readFileSync(path.join(modelDir, 'tokenizer.json'))),
    Tokenizer.fromVocab(readFileSync(path.join(modelDir, 'vocab.bin'))),
  ]) {
    const bad = [];
    for (const s of jsonl(path.join(root, 'tests/fixtures/tokenizer_strings.jsonl'))) {
      const ours = Array.from(tok.encode(s.text));
      if (JSON.stringify(ours) !== JSON.stringify(refs.get(s.id))) bad.push(s.id);
    }
    assert.deepEqual(bad, []);
  }
});

// The integer linear layers and our own float ops (src/model/qlinear/,
// src/model/detops.rs) make the arithmetic the same on every target.
test(`wasm embeddings (${wasmFlavour} build) are bitwise equal to native ones for queries and passages`, () => {
  const rows = jsonl(path.join(root, 'tests/fixtures/sentences.jsonl')).filter((s) => !/[\n\r]/.test(s.text));
  for (const kind of ['query', 'passage']) {
    const part = rows.filter((s) => s.kind === kind);
    const native = nativeEmbed(part.map((s) => s.text), kind);
    const differ = [];
    part.forEach((s, i) => {
      const w = enc().embed(s.text, kind);
      if (w.length !== native[i].length || w.some((x, j) => !Object.is(x, native[i][j]))) {
        differ.push(`${s.id} (${s.lang}): cosine ${cos(w, native[i])}`);
      }
    });
    assert.deepEqual(differ, [], `${kind}: not bitwise equal`);
  }
});

test('wasm and native find the same nearest neighbours across languages', () => {
  const rows = jsonl(path.join(root, 'tests/fixtures/translation_pairs.jsonl'))
    .filter((r) => ['en', 'es', 'ja', 'hi', 'ar'].includes(r.lang) && Number(r.group.slice(1)) <= 20);
  const native = nativeEmbed(rows.map((r) => r.text), 'query');
  const wasm = rows.map((r) => enc().embed(r.text, 'query'));
  const nn = (vs) => vs.map((v, i) => {
    let best = -1, bs = -2;
    vs.forEach((w, j) => { if (j !== i) { const c = cos(v, w); if (c > bs) { bs = c; best = j; } } });
    return best;
  });
  assert.deepEqual(nn(wasm), nn(native));
});

test('bad input crosses the wasm boundary as coded errors, never a panic', () => {
  const code = (fn) => { try { fn(); } catch (e) { assert.ok(e instanceof Error); return e.code; } return 'no error'; };
  assert.equal(code(() => enc().embed('', 'query')), 'invalid_input');
  assert.equal(code(() => enc().embed('   ', 'passage')), 'invalid_input');
  assert.equal(code(() => enc().embed('hola', 'document')), 'invalid_input');
  const huge = 'Las facturas se sincronizan cada hora. '.repeat(2700);
  const info = enc().tokenInfo(huge, 'passage');
  assert.equal(info.tokens, 512);
  assert.ok(info.truncatedFrom > 10000);
  assert.equal(enc().embed(huge, 'passage').length, 384);
  const manifest = readFileSync(path.join(modelDir, 'pack.json'), 'utf8');
  assert.equal(code(() => new PackLoader(manifest.replace('"version": 2', '"version": 7'))), 'version_mismatch');
  assert.equal(code(() => new PackLoader('{not json')), 'corrupt_file');
  const loader = new PackLoader(manifest);
  assert.equal(code(() => loader.add('encoder.bin', readFileSync(path.join(modelDir, 'encoder.bin')).subarray(0, 1000))), 'corrupt_file');
  const flipped = Buffer.from(readFileSync(path.join(modelDir, 'emb-003.bin')));
  flipped[flipped.length >> 1] ^= 1;
  assert.equal(code(() => loader.add('emb-003.bin', flipped)), 'checksum_mismatch');
  assert.equal(code(() => loadEncoder(modelDir, { 'emb-blocks.bin': 'skip' })), 'missing_file');
  assert.equal(code(() => loadEncoder(modelDir, { 'vocab.bin': 'skip' })), 'missing_file');
  // a digest computed outside wasm (WebCrypto) is checked against pack.json too
  const vocab = readFileSync(path.join(modelDir, 'vocab.bin'));
  const digest = (b) => createHash('sha256').update(b).digest('hex');
  const damaged = Buffer.from(vocab);
  damaged[damaged.length >> 1] ^= 1;
  assert.equal(code(() => new PackLoader(manifest).addDigested('vocab.bin', damaged, digest(damaged))), 'checksum_mismatch');
  assert.equal(code(() => new PackLoader(manifest).addDigested('vocab.bin', vocab, digest(vocab))), 'no error');
  const cut = (b) => b.subarray(0, b.length - 7);
  assert.equal(code(() => new PackLoader(manifest).add('vocab.bin', cut(readFileSync(path.join(modelDir, 'vocab.bin'))))), 'corrupt_file');
  assert.equal(code(() => Tokenizer.fromVocab(cut(readFileSync(path.join(modelDir, 'vocab.bin'))))), 'corrupt_file');
  // after all of that the module still works
  assert.equal(enc().embed('¿sigue funcionando?', 'query').length, 384);
});

test('rows fetched on demand: a few kilobytes per query, checked, same embeddings', () => {
  const code = (fn) => { try { fn(); } catch (e) { assert.ok(e instanceof Error); return e.code; } return 'no error'; };
  const loader = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  assert.ok(!loader.missing().some((n) => /^emb-\d+\.bin$/.test(n)), 'row shards are not needed to build');
  for (const name of loader.missing()) loader.add(name, readFileSync(path.join(modelDir, name)));
  const lazy = loader.build();
  const q = 'I need help con mi cuenta, パスワード';
  assert.equal(code(() => lazy.embed(q, 'query')), 'missing_rows');
  const ranges = lazy.rowRanges(q, 'query');
  const total = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  assert.ok(total > 0 && total <= 50_000, `${total} bytes of rows for one query`);
  for (const r of ranges) {
    const bytes = readFileSync(path.join(modelDir, r.file)).subarray(r.start, r.end);
    const bad = Buffer.from(bytes);
    bad[0] ^= 1;
    assert.equal(code(() => lazy.addRows(r.firstBlock, bad)), 'checksum_mismatch');
    assert.equal(lazy.addRows(r.firstBlock, bytes), r.blocks);
  }
  assert.equal(lazy.rowRanges(q, 'query').length, 0);
  const a = lazy.embed(q, 'query');
  const b = enc().embed(q, 'query');
  assert.deepEqual(Array.from(a), Array.from(b));
});

// What the search worker does when a host ignores Range and sends a row
// shard whole (Engine.addShard, the same code): the shard is checked against
// pack.json and all its rows come in.
test('whole row shards added to an encoder: checked against pack.json, same embeddings', () => {
  const code = (fn) => { try { fn(); } catch (e) { assert.ok(e instanceof Error); return e.code; } return 'no error'; };
  const loader = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  for (const name of loader.missing()) loader.add(name, readFileSync(path.join(modelDir, name)));
  const lazy = loader.build();
  const q = 'reembolso de un pago duplicado, 返金';
  const files = [...new Set(lazy.rowRanges(q, 'query').map((r) => r.file))];
  assert.ok(files.length > 0);
  const flipped = Buffer.from(readFileSync(path.join(modelDir, files[0])));
  flipped[flipped.length >> 1] ^= 1;
  assert.equal(code(() => lazy.addShard(files[0], flipped)), 'checksum_mismatch');
  assert.equal(code(() => lazy.addShard('encoder.bin', readFileSync(path.join(modelDir, 'encoder.bin')))), 'invalid_input');
  // another shard's bytes under this shard's name
  const other = files[0] === 'emb-000.bin' ? 'emb-001.bin' : 'emb-000.bin';
  assert.equal(code(() => lazy.addShard(files[0], readFileSync(path.join(modelDir, other)))), 'checksum_mismatch');
  assert.equal(code(() => lazy.embed(q, 'query')), 'missing_rows');
  for (const f of files) lazy.addShard(f, readFileSync(path.join(modelDir, f)));
  assert.equal(lazy.rowRanges(q, 'query').length, 0);
  assert.deepEqual(Array.from(lazy.embed(q, 'query')), Array.from(enc().embed(q, 'query')));
});

test('an encoder built from WebCrypto-digested files embeds as one built with add()', async () => {
  const loader = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  for (const name of [...loader.missing(), ...loader.rowShards()]) {
    const bytes = readFileSync(path.join(modelDir, name));
    const digest = Buffer.from(await globalThis.crypto.subtle.digest('SHA-256', bytes)).toString('hex');
    loader.addDigested(name, bytes, digest);
  }
  const digested = loader.build();
  const q = 'Wie ändere ich meine Rechnungsadresse?';
  assert.deepEqual(Array.from(digested.embed(q, 'query')), Array.from(enc().embed(q, 'query')));
});

// A pack copy that lists gzip forms (what `crossfind index` writes beside a
// bundle, src/format/encoding.rs): the loader says which file to fetch and
// how to decode it, and checks the decoded content as for a plain file.
test('gzip forms in pack.json: encodedAs names them, add() takes the decoded content', () => {
  const code = (fn) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof Error);
      return e.code;
    }
    return 'no error';
  };
  const vocab = readFileSync(path.join(modelDir, 'vocab.bin'));
  const gz = gzipSync(vocab, { level: 9 });
  const pack = JSON.parse(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  pack.version = 3;
  const entry = pack.files.find((f) => f.name === 'vocab.bin');
  entry.encoded = { encoding: 'gzip', name: 'vocab.bin.gz', bytes: gz.length, sha256: createHash('sha256').update(gz).digest('hex') };
  const loader = new PackLoader(JSON.stringify(pack));
  assert.deepEqual(loader.encodedAs('vocab.bin'), { encoding: 'gzip', name: 'vocab.bin.gz', bytes: gz.length, decodedBytes: vocab.length });
  assert.equal(loader.encodedAs('encoder.bin'), undefined);
  assert.equal(loader.encodedAs('no-such-file'), undefined);
  // the checksums are the content's: the decoded bytes are added, not the stored ones
  assert.equal(code(() => loader.add('vocab.bin', gz)), 'corrupt_file');
  assert.equal(code(() => loader.add('vocab.bin', gunzipSync(gz))), 'no error');
  // a row shard (read by byte range) may not have one, and names stay plain
  const rows = structuredClone(pack);
  rows.files.find((f) => f.name === 'emb-000.bin').encoded = { ...entry.encoded, name: 'emb-000.bin.gz' };
  assert.equal(code(() => new PackLoader(JSON.stringify(rows))), 'corrupt_file');
  const away = structuredClone(pack);
  away.files.find((f) => f.name === 'vocab.bin').encoded.name = '../vocab.bin.gz';
  assert.equal(code(() => new PackLoader(JSON.stringify(away))), 'corrupt_file');
});
