// Encoder benchmark, wasm side: crossfind (pkg/, both builds: baseline SIMD128
// and relaxed SIMD) vs onnxruntime-web on the int8 and fp32 ONNX exports of
// the same weights, single thread, in Node and in headless Chromium, all in
// one run.
//
//   node benches/encoder.mjs [--rounds 2] [--runs 30] [--warmup 5] [--sweep-runs 3]
//                            [--only node|chromium] [--engines a,b] [--out FILE.json]
//                            [--interleaved-pairs 40]
//
// --engines: a comma-separated subset of ENGINE_NAMES (default: all).
// Node runs the relaxed build only where its relaxed SIMD passes the probe of
// www/src/wasm-flavour.cjs (Node 22+; not Node 20, whose experimental relaxed
// SIMD validates but computes the dot product wrongly), possibly with
// --experimental-wasm-relaxed-simd (on by
// default from Node 22); the flags a child got are in its JSON (node_flags).
//
// --sweep-runs N: in Node's first round, also time N embeddings at 16..384
// tokens (lib/texts.mjs SWEEP) to show how latency grows with length; 0: off.
//
// Every engine load happens in a fresh process (Node: a child `node`; Chromium:
// a fresh browser), so load time and memory are cold-start numbers and the
// engines don't share a heap. Rounds alternate the engine order (forward,
// then reversed) to spread drift from other load on the machine; latency
// percentiles pool the samples of all rounds, load time is the median; each
// crossfind build's p50 is also divided by onnxruntime-web int8's of the same
// round (p50_ratio_to_ort_int8_each_round, and their median), since the
// machine's speed drifts between rounds.
//
// --interleaved-pairs N: after the Chromium rounds, one more fresh browser
// loads crossfind-relaxed and onnxruntime-web int8 side by side and times
// them call by call, alternating (N calls each per text; 0: off), for the
// ratio of two calls made back to back (chromium_interleaved in the JSON).
//
// Needs: pkg/node + pkg/web (scripts/build-wasm.sh), the ONNX files
// (benches/make_onnx.py), npm packages (npm install), /usr/bin/chromium.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
export const ENGINE_NAMES = ['crossfind', 'crossfind-relaxed', 'crossfind-lazy', 'ort-int8', 'ort-fp32'];
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export function pkgVersion(name) {
  return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

// ---- child: one engine in this process --------------------------------------
async function child(engine, opts) {
  await import('./lib/probe.mjs'); // before any wasm is compiled
  const { measure } = await import('./lib/engines.mjs');
  const host = {
    now: () => performance.now(),
    readBytes: async (p) => readFile(path.join(ROOT, p)),
    async readRange(p, start, end) {
      const f = await open(path.join(ROOT, p));
      try {
        const buf = Buffer.alloc(end - start);
        await f.read(buf, 0, end - start, start);
        return buf;
      } finally {
        await f.close();
      }
    },
    readText: async (p) => readFile(path.join(ROOT, p), 'utf8'),
    importOurs: async (flavour) => require(path.join(ROOT, `pkg/node/${flavour}/crossfind.js`)),
    importOrt: () => import('onnxruntime-web'),
    importTokenizers: () => import('@huggingface/tokenizers'),
    // onnxruntime-web's Node build loads ort-wasm-simd-threaded.{mjs,wasm}
    // from its own dist/ folder (node_modules) by default.
    ortWasmPaths: undefined,
    cpu: () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; },
    memory: () => {
      const m = process.memoryUsage();
      return { rss: m.rss, heap_used: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers };
    },
  };
  const r = await measure(engine, host, opts);
  r.node = process.version;
  r.node_flags = process.execArgv;
  process.stdout.write('\n@@RESULT ' + JSON.stringify(r) + '\n');
}

// The V8 flags a child Node needs to run the relaxed build ([] when relaxed
// SIMD is on by default), or null when no flag gives it relaxed SIMD that
// computes right (wasm-flavour.cjs's probe; Node 20's experimental one
// validates but computes the dot product wrongly).
let relaxedFlags;
function nodeRelaxedFlags() {
  if (relaxedFlags !== undefined) return relaxedFlags;
  const probe = "process.stdout.write(String(require('./pkg/node/wasm-flavour.cjs').relaxedSimd()))";
  relaxedFlags = null;
  for (const flags of [[], ['--experimental-wasm-relaxed-simd']]) {
    const r = spawnSync(process.execPath, [...flags, '-e', probe], { cwd: ROOT, encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'true') {
      relaxedFlags = flags;
      break;
    }
  }
  return relaxedFlags;
}

async function childFlags(engine) {
  return engine === 'crossfind-relaxed' ? nodeRelaxedFlags() ?? [] : [];
}

async function runChild(engine, opts) {
  const flags = await childFlags(engine);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...flags, fileURLToPath(import.meta.url), '--child', engine,
      '--runs', String(opts.runs), '--warmup', String(opts.warmup), '--sweep-runs', String(opts.sweepRuns ?? 0)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (code !== 0 || !line) return reject(new Error(`node child ${engine} exited ${code}: ${out.slice(-2000)}`));
      resolve(JSON.parse(line.slice(9)));
    });
  });
}

// ---- Chromium: one fresh browser per engine load -----------------------------
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-precise-memory-info'];

// A fresh browser on the bench page; `fn(page)` returns the result, to
// which the browser version and any page errors are added.
async function inFreshBrowser(baseUrl, fn) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${baseUrl}/benches/web/index.html`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
    const r = await fn(page);
    r.chromium = browser.version();
    if (errors.length) r.page_errors = errors;
    return r;
  } finally {
    await browser.close();
  }
}

const runChromium = (engine, opts, baseUrl) =>
  inFreshBrowser(baseUrl, (page) => page.evaluate(([e, o]) => window.runBench(e, o), [engine, opts]));

// Both engines in one fresh browser, calls alternating (lib/engines.mjs
// `interleaved`): the latency ratio with the machine's drift paired out.
const runChromiumInterleaved = (engines, opts, baseUrl) =>
  inFreshBrowser(baseUrl, (page) => page.evaluate(([e, o]) => window.runInterleaved(e, o), [engines, opts]));

// ---- summary -----------------------------------------------------------------
const cos = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
};
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const r3 = (x) => Math.round(x * 1000) / 1000;

export async function summarise(rounds) {
  const { stats } = await import('./lib/engines.mjs');
  const out = {};
  for (const name of ENGINE_NAMES) {
    const rs = rounds.map((r) => r[name]).filter(Boolean);
    if (!rs.length) continue;
    const ref = rounds[0].crossfind;
    const s = {
      describe: rs[0].describe,
      load_ms: r3(median(rs.map((r) => r.load_ms))),
      load_ms_each_round: rs.map((r) => r.load_ms),
      load_phases_ms_round1: rs[0].load_phases_ms,
      wasm_heap_after_load_bytes: rs[0].memory_after_load.wasm_bytes,
      wasm_heap_end_bytes: rs[0].memory_end.wasm_bytes,
      memory_after_load_round1: rs[0].memory_after_load,
      memory_end_round1: rs[0].memory_end,
      latency_ms: {},
    };
    for (const t of Object.keys(rs[0].latency_ms)) {
      const all = rs.flatMap((r) => r.latency_ms[t].samples);
      const st = stats(all);
      s.latency_ms[t] = {
        tokens: rs[0].latency_ms[t].tokens,
        ...Object.fromEntries(Object.entries(st).map(([k, v]) => [k, k === 'n' ? v : r3(v)])),
        p50_each_round: rs.map((r) => r.latency_ms[t].p50),
      };
      if (rs[0].latency_ms[t].cpu_p50 !== undefined) s.latency_ms[t].cpu_p50 = r3(median(rs.map((r) => r.latency_ms[t].cpu_p50)));
      // paired with the peer: the two ran in the same round, minutes apart at most
      const peer = rounds.map((r) => r['ort-int8']);
      if (name.startsWith('crossfind') && peer.every((p, i) => p && rounds[i][name])) {
        const each = rs.map((r, i) => r3(r.latency_ms[t].p50 / peer[i].latency_ms[t].p50));
        s.latency_ms[t].p50_ratio_to_ort_int8_each_round = each;
        s.latency_ms[t].p50_ratio_to_ort_int8_median = r3(median(each));
      }
      if (ref) {
        s.latency_ms[t].same_token_ids_as_crossfind = JSON.stringify(rs[0].vectors[t].ids) === JSON.stringify(ref.vectors[t].ids);
        s.latency_ms[t].cosine_vs_crossfind = Math.round(cos(rs[0].vectors[t].vector, ref.vectors[t].vector) * 1e6) / 1e6;
      }
    }
    const sw = rs.find((r) => r.sweep_ms);
    if (sw) s.sweep_ms = sw.sweep_ms.map(({ tokens, p50 }) => ({ tokens, p50 }));
    if (rs[0].page_errors) s.page_errors = rs[0].page_errors;
    if (rs[0].chromium) s.chromium = rs[0].chromium;
    out[name] = s;
  }
  return out;
}

export const INTERLEAVED_ENGINES = ['crossfind-relaxed', 'ort-int8'];

export async function runEncoderBench({ rounds = 2, runs = 30, warmup = 5, sweepRuns = 3, envs = ['node', 'chromium'], engines = ENGINE_NAMES, interleavedPairs = 40, log = console.error } = {}) {
  const unknown = engines.filter((e) => !ENGINE_NAMES.includes(e));
  if (unknown.length) throw new Error(`unknown engine(s) ${unknown.join(', ')}: ${ENGINE_NAMES.join(', ')}`);
  for (const f of ['pkg/node/baseline/crossfind.js', 'pkg/node/relaxed/crossfind.js', 'pkg/web/crossfind.js', 'pkg/web/crossfind_relaxed_bg.wasm', '.cache/bench/onnx/model_quantized.onnx', '.cache/bench/onnx/model.onnx', 'node_modules/onnxruntime-web/package.json']) {
    if (!existsSync(path.join(ROOT, f))) throw new Error(`missing ${f}: see benches/run.mjs / docs/benchmarks.md for setup`);
  }
  const opts = { runs, warmup };
  const result = { settings: { rounds, runs, warmup, sweep_runs_node_round1: sweepRuns, interleaved_pairs_chromium: interleavedPairs, threads: 1 }, onnxruntime_web: pkgVersion('onnxruntime-web'), tokenizers_js: pkgVersion('@huggingface/tokenizers') };
  let server;
  try {
    for (const env of envs) {
      const raw = [];
      if (env === 'chromium') {
        if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
        const { startServer } = await import('./serve.mjs');
        server ??= await startServer();
      }
      let envEngines = engines;
      if (env === 'node' && engines.includes('crossfind-relaxed') && nodeRelaxedFlags() === null) {
        envEngines = engines.filter((e) => e !== 'crossfind-relaxed');
        result.node_skipped = { 'crossfind-relaxed': `Node ${process.version} has no working relaxed SIMD (wasm-flavour.cjs probe), not even behind --experimental-wasm-relaxed-simd` };
        log(`[node] skipping crossfind-relaxed: ${result.node_skipped['crossfind-relaxed']}`);
      }
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? envEngines : [...envEngines].reverse();
        const round = {};
        for (const e of order) {
          const la = os.loadavg()[0];
          const res = env === 'node'
            ? await runChild(e, { ...opts, sweepRuns: r === 0 ? sweepRuns : 0 })
            : await runChromium(e, opts, server.url);
          res.loadavg_1m_before = la;
          round[e] = res;
          log(`[${env} round ${r + 1}] ${e}: load ${res.load_ms.toFixed(0)} ms, p50 ` +
            Object.entries(res.latency_ms).map(([k, v]) => `${k}(${v.tokens} tok) ${v.p50.toFixed(1)} ms`).join(', ') +
            `, wasm heap ${(res.memory_after_load.wasm_bytes / 2 ** 20).toFixed(0)} MiB (load avg ${la.toFixed(2)})`);
        }
        raw.push(round);
      }
      result[env] = { summary: await summarise(raw), raw: raw.map((round) => Object.fromEntries(Object.entries(round).map(([k, v]) => {
        const { vectors, ...rest } = v; // vectors only feed the cosine check
        return [k, { ...rest, token_ids: Object.fromEntries(Object.entries(vectors).map(([t, x]) => [t, x.ids])) }];
      }))) };
      if (env === 'chromium' && interleavedPairs > 0 && INTERLEAVED_ENGINES.every((e) => engines.includes(e))) {
        const la = os.loadavg()[0];
        const r = await runChromiumInterleaved(INTERLEAVED_ENGINES, { warmup, pairs: interleavedPairs }, server.url);
        r.loadavg_1m_before = la;
        result.chromium_interleaved = r;
        for (const [t, row] of Object.entries(r.texts)) {
          log(`[chromium interleaved] ${t}(${row.tokens} tok): ` + r.engines.map((e) => {
            const x = row.engines[e];
            const ratio = x[`ratio_to_${r.ref}_median_of_pairs`];
            return `${e} min ${x.min.toFixed(1)} p50 ${x.p50.toFixed(1)} ms` + (ratio === undefined ? '' : ` (÷ ${r.ref}: ${ratio.toFixed(2)}× by pairs)`);
          }).join(', '));
        }
      }
    }
  } finally {
    if (server) await server.close();
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (arg('child')) {
    await child(arg('child'), { runs: Number(arg('runs', 30)), warmup: Number(arg('warmup', 5)), sweepRuns: Number(arg('sweep-runs', 0)) });
  } else {
    const only = arg('only');
    const res = await runEncoderBench({
      rounds: Number(arg('rounds', 2)), runs: Number(arg('runs', 30)), warmup: Number(arg('warmup', 5)), sweepRuns: Number(arg('sweep-runs', 3)),
      interleavedPairs: Number(arg('interleaved-pairs', 40)),
      envs: only ? [only] : ['node', 'chromium'],
      ...(arg('engines') ? { engines: arg('engines').split(',') } : {}),
    });
    const out = arg('out');
    if (out) { mkdirSync(path.dirname(path.resolve(out)), { recursive: true }); writeFileSync(out, JSON.stringify(res, null, 1)); }
    for (const env of ['node', 'chromium']) {
      if (!res[env]) continue;
      console.log(`\n${env}:`);
      for (const [e, s] of Object.entries(res[env].summary)) {
        console.log(`  ${e.padEnd(17)} load ${String(Math.round(s.load_ms)).padStart(6)} ms  ` +
          Object.entries(s.latency_ms).map(([k, v]) => `${v.tokens} tok p50 ${v.p50.toFixed(1)} p95 ${v.p95.toFixed(1)}`).join(' | ') +
          `  wasm heap ${(s.wasm_heap_after_load_bytes / 2 ** 20).toFixed(0)} MiB`);
      }
    }
  }
}
