// Download sizes: raw bytes and brotli (Node zlib, quality 11, as a static
// host would pre-compress) of what a browser fetches for each engine.
//   node benches/sizes.mjs [--json]
// Brotli results are cached in .cache/bench/brotli-cache.json by the file's
// sha256 (quality 11 on the 118 MB peer model takes ~15-30 min on 2 cores).
import { brotliCompress, constants } from 'node:zlib';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.cache/bench/brotli-cache.json');
const br = promisify(brotliCompress);

async function brotliSize(rel, cache) {
  const abs = path.join(ROOT, rel);
  const st = statSync(abs);
  const bytes = readFileSync(abs);
  const key = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  if (cache[key] === undefined) {
    const out = await br(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: st.size,
      },
    });
    cache[key] = out.length;
  }
  return { raw: st.size, brotli: cache[key] };
}

async function group(label, files, cache, log) {
  let raw = 0, brotli = 0;
  for (const f of files) {
    const s = await brotliSize(f, cache);
    raw += s.raw; brotli += s.brotli;
  }
  log?.(`  ${label}: ${(raw / 1e6).toFixed(2)} MB raw, ${(brotli / 1e6).toFixed(2)} MB brotli`);
  return { label, files, raw_bytes: raw, brotli_bytes: brotli };
}

export async function measureSizes({ log = console.error } = {}) {
  const cache = existsSync(CACHE) ? JSON.parse(readFileSync(CACHE, 'utf8')) : {};
  const save = () => { mkdirSync(path.dirname(CACHE), { recursive: true }); writeFileSync(CACHE, JSON.stringify(cache, null, 1)); };
  const pack = JSON.parse(readFileSync(path.join(ROOT, 'models/e5-small/pack.json'), 'utf8'));
  const m = (n) => `models/e5-small/${n}`;
  const shards = pack.embeddings.shards.map(m);
  const ortDist = 'node_modules/onnxruntime-web/dist';
  const res = { brotli: 'node:zlib quality 11, lgwin 24, each file compressed on its own', crossfind: {}, peer: {} };
  try {
    log?.('sizes (crossfind):');
    res.crossfind.wasm = await group('pkg/web/crossfind_bg.wasm', ['pkg/web/crossfind_bg.wasm'], cache, log);
    res.crossfind.js_glue = await group('pkg/web/crossfind.js', ['pkg/web/crossfind.js'], cache, log);
    // what a browser with relaxed SIMD downloads instead of crossfind_bg.wasm (not in the totals)
    res.crossfind.wasm_relaxed = await group('pkg/web/crossfind_relaxed_bg.wasm', ['pkg/web/crossfind_relaxed_bg.wasm'], cache, log);
    res.crossfind.encoder = await group('encoder.bin', [m('encoder.bin')], cache, log);
    res.crossfind.embeddings = await group(`emb shards (${shards.length})`, shards, cache, log);
    if (pack.embeddings.blocks) res.crossfind.block_index = await group('emb-blocks.bin', [m('emb-blocks.bin')], cache, log);
    // the browser loads the flat vocabulary when the pack has one, never tokenizer.json
    const tokFile = pack.files.some((f) => f.name === 'vocab.bin') ? 'vocab.bin' : 'tokenizer.json';
    res.crossfind.tokenizer = await group(tokFile, [m(tokFile)], cache, log);
    res.crossfind.pack_json = await group('pack.json', [m('pack.json')], cache, log);
    save();
    log?.('sizes (peer: onnxruntime-web + transformers.js-style files):');
    res.peer.wasm = await group('ort-wasm-simd-threaded.wasm', [`${ortDist}/ort-wasm-simd-threaded.wasm`], cache, log);
    res.peer.js = await group('ort.wasm.min.mjs + ort-wasm-simd-threaded.mjs + tokenizers.min.mjs',
      [`${ortDist}/ort.wasm.min.mjs`, `${ortDist}/ort-wasm-simd-threaded.mjs`, 'node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs'], cache, log);
    res.peer.model_quantized = await group('model_quantized.onnx', ['.cache/bench/onnx/model_quantized.onnx'], cache, log);
    save();
    res.peer.tokenizer = await group('tokenizer.json', ['.cache/bench/onnx/tokenizer.json'], cache, log);
    const fp32 = statSync(path.join(ROOT, '.cache/bench/onnx/model.onnx')).size;
    res.peer.model_fp32_raw_bytes = fp32;
  } finally {
    save();
  }
  const sum = (o, keys) => keys.reduce((a, k) => ({ raw: a.raw + o[k].raw_bytes, brotli: a.brotli + o[k].brotli_bytes }), { raw: 0, brotli: 0 });
  // Up front, before the first semantic query: with a block index the
  // embedding rows come per query (see rowsPerQuery), else all of them.
  const upFront = ['wasm', 'js_glue', 'encoder', 'tokenizer', 'pack_json'];
  if (res.crossfind.block_index) {
    res.crossfind.total = sum(res.crossfind, [...upFront, 'block_index']);
    res.crossfind.total_with_all_rows = sum(res.crossfind, [...upFront, 'block_index', 'embeddings']);
    res.crossfind.rows_per_query = await rowsPerQuery(pack);
  } else {
    res.crossfind.total = sum(res.crossfind, [...upFront, 'embeddings']);
  }
  res.peer.total_int8 = sum(res.peer, ['wasm', 'js', 'model_quantized', 'tokenizer']);
  if (pack.embeddings.order) {
    res.crossfind.offline_rows = await offlineRows(res.crossfind.embeddings, cache, log);
    save();
  }
  return res;
}

// What the offline copy keeps of the row table for sites in a few language
// sets: `crossfind index` on a one-page-per-language corpus writes the
// byte ranges (model.offline_rows) the service worker keeps.
async function offlineRows(table, cache, log) {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const sites = [['en'], ['en', 'es', 'fr', 'de', 'pt'], ['ru', 'en'], ['ja'], ['en', 'ja'], ['zh'], ['ko'], ['ar', 'en'],
    ['ar', 'de', 'en', 'es', 'fr', 'hi', 'ja', 'ko', 'pt', 'ru', 'sw', 'zh']];
  const out = [];
  log?.('offline rows by site languages:');
  for (const langs of sites) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cf-offline-'));
    try {
      const corpus = langs.map((l, i) => JSON.stringify({ id: `p${i}`, lang: l, title: `page ${i}`, url: `/${l}/p.html`, text: 'crossfind 2026' })).join('\n');
      writeFileSync(path.join(dir, 'site.jsonl'), corpus + '\n');
      execFileSync(path.join(ROOT, 'target/release/crossfind'), ['index', '--input', path.join(dir, 'site.jsonl'), '--out', path.join(dir, 'b'), '--model', path.join(ROOT, 'models/e5-small')], { stdio: 'ignore' });
      const rows = JSON.parse(readFileSync(path.join(dir, 'b/manifest.json'), 'utf8')).model.offline_rows;
      let raw = 0, brotli = 0;
      for (const r of rows.ranges) {
        const key = 'sha256:' + r.sha256;
        if (cache[key] === undefined) {
          const bytes = readFileSync(path.join(dir, 'b/model', r.file)).subarray(r.start, r.end);
          cache[key] = (await br(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } })).length;
        }
        raw += r.end - r.start;
        brotli += cache[key];
      }
      log?.(`  ${langs.join('+')}: ${rows.groups.join(', ')}: ${(raw / 1e6).toFixed(1)} MB raw, ${(brotli / 1e6).toFixed(1)} MB brotli (${((100 * raw) / table.raw_bytes).toFixed(0)} % of the table)`);
      out.push({ languages: langs, groups: rows.groups, ranges: rows.ranges.length, raw_bytes: raw, brotli_bytes: brotli, share_of_table: raw / table.raw_bytes });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { table_raw_bytes: table.raw_bytes, table_brotli_bytes: table.brotli_bytes, sites: out };
}

// Bytes of embedding rows the demo's 396 queries fetch (HTTP Range bodies,
// uncompressed; headers not counted): each query alone on a cold cache, and
// all of them in a row with the cache filling up.
async function rowsPerQuery(pack) {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const { PackLoader } = require(path.join(ROOT, 'pkg/node/crossfind.js'));
  const dir = path.join(ROOT, 'models/e5-small');
  const load = () => {
    const l = new PackLoader(readFileSync(path.join(dir, 'pack.json'), 'utf8'));
    for (const n of l.missing()) l.add(n, readFileSync(path.join(dir, n)));
    return l.build();
  };
  const queries = readFileSync(path.join(ROOT, 'examples/helpdesk/queries.jsonl'), 'utf8')
    .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l).text);
  const fresh = load();
  const cold = queries.map((q) => fresh.rowRanges(q, 'query').reduce((n, r) => n + r.end - r.start, 0)).sort((a, b) => a - b);
  const warm = load();
  const files = new Map();
  let total = 0;
  for (const q of queries) {
    for (const r of warm.rowRanges(q, 'query')) {
      if (!files.has(r.file)) files.set(r.file, readFileSync(path.join(dir, r.file)));
      warm.addRows(r.firstBlock, files.get(r.file).subarray(r.start, r.end));
      total += r.end - r.start;
    }
  }
  const q = (p) => cold[Math.min(cold.length - 1, Math.floor(p * cold.length))];
  return {
    queries: queries.length,
    block_rows: pack.embeddings.blocks.rows,
    cold_bytes: { p50: q(0.5), p95: q(0.95), max: cold[cold.length - 1] },
    all_queries_in_a_row_bytes: total,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await measureSizes();
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 1));
  else console.log(`total: crossfind ${(r.crossfind.total.raw / 1e6).toFixed(1)} MB raw / ${(r.crossfind.total.brotli / 1e6).toFixed(1)} MB brotli` +
    (r.crossfind.rows_per_query ? ` + rows per query (p50 ${r.crossfind.rows_per_query.cold_bytes.p50} B, max ${r.crossfind.rows_per_query.cold_bytes.max} B)` : '') + '; ' +
    `peer (int8) ${(r.peer.total_int8.raw / 1e6).toFixed(1)} MB raw / ${(r.peer.total_int8.brotli / 1e6).toFixed(1)} MB brotli`);
}
