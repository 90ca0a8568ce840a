// The widget on the demo help center in headless Chromium: what a reader's
// browser downloads and how long it waits, cold (fresh profile) and warm (a
// second visit in the same profile: HTTP cache, the service worker's Cache
// Storage copy, V8's wasm code cache).
//
//   node benches/widget.mjs [--rounds 1] [--skip-peer] [--out bench-results/widget.json]
//   node benches/widget.mjs --report-only      (print the table of the last run again)
//
// Needs target/demo-site (scripts/demo.sh --no-serve; built here if missing),
// playwright-core (npm install) and /usr/bin/chromium. Writes
// bench-results/widget.json (every number, per round) and bench-results/widget.md
// (the tables, also printed on stdout). Progress goes to stderr.
//
// One visit = open /en/index.html of the demo (as shipped: <crossfind-search
// offline>, so the service worker copies the bundle on the first visit) and,
// through the widget's public API only:
//   `ready` event            -> crossfind.search(Q_LEXICAL, {mode: 'lexical'})
//                               (the first API search also starts the model download)
//   hits                     => "first lexical result"
//   `semantic-ready` event   => "semantic ready" -> crossfind.search(Q_SEMANTIC)
//   `results` (semantic)     => "first semantic result"
//   `offline-ready` event    => the service worker's copy is complete (cold: waited for, so
//                               that the warm visit can use it)
// Times are from navigation start (performance.timeOrigin). Long tasks are the
// page's main-thread 'longtask' PerformanceObserver entries; "during model
// load" = those starting between the model request and `semantic-ready`.
//
// Bytes are counted twice, from both ends of the socket:
//   cdp    - Chromium's own count: per finished response, headers + encoded body
//            (Network.loadingFinished encodedDataLength, through playwright's
//            request.sizes()), for the page, its search worker and the service
//            worker; responses the service worker answers from Cache Storage
//            count 0, HTTP-cache hits only their headers (~300 bytes). A response
//            counts toward a milestone when it finished before it.
//   server - bytes the local server wrote to its sockets (headers + bodies, every
//            requester) up to the milestone, including responses still in flight.
// The server (www/serve.mjs's handler) sends no Content-Encoding, so encoded
// bytes = raw file bytes here; the "brotli" columns say what the same files
// would weigh pre-compressed with brotli (node:zlib, quality 11, lgwin 24).
//
// Peer (unless --skip-peer): benches/web/index.html with onnxruntime-web 1.30.0
// + tokenizers.js on the int8 ONNX export of the same model (see
// docs/benchmarks.md; what a transformers.js page downloads), cold in a fresh
// profile: bytes and time before its first embedding, beside the widget's
// bytes before its first semantic result. Needs .cache/bench/onnx
// (benches/make_onnx.py, run by benches/run.mjs).
import http from 'node:http';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { chromium } from 'playwright-core';
import { createHandler } from '../www/serve.mjs';
import { CHROMIUM_ARGS } from './encoder.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SITE = path.join(ROOT, 'target/demo-site');
const BUNDLE = path.join(SITE, 'crossfind');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const BROTLI_CACHE = path.join(ROOT, '.cache/bench/brotli-cache.json');
const PAGE = 'en/index.html';
const Q_LEXICAL = 'cancel subscription';
const Q_SEMANTIC = 'I was charged twice and want my money back';
const TIMEOUT_MS = 300_000;
// The demo as shipped (<crossfind-search offline>: the service worker copies the
// whole bundle on the first visit), and the same pages with service workers
// blocked: a site without the offline opt-in, plain HTTP caching.
const VARIANTS = {
  offline: { serviceWorkers: 'allow', describe: 'demo as shipped: <crossfind-search offline> (service worker copies the bundle on the first visit)' },
  'no-sw': { serviceWorkers: 'block', describe: 'service workers blocked: the widget without the offline opt-in, HTTP cache only' },
};

const T0 = Date.now();
const log = (...a) => console.error(`[${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...a);
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const opt = (n, d) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : d;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ------------------------------------------------------------------ server

// www/serve.mjs's handler behind a server that counts the bytes written to
// every socket; `total()` is the count at this instant.
function countingServer(root) {
  const handler = createHandler({ root });
  const sockets = new Set();
  let closed = 0;
  const server = http.createServer((req, res) => handler(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => {
      closed += s.bytesWritten;
      sockets.delete(s);
    });
  });
  const total = () => {
    let n = closed;
    for (const s of sockets) n += s.bytesWritten;
    return n;
  };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}/`,
        total,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

// ------------------------------------------------------------------ brotli

let brotliCache = null;
function brotliSize(file) {
  brotliCache ??= existsSync(BROTLI_CACHE) ? JSON.parse(readFileSync(BROTLI_CACHE, 'utf8')) : {};
  const bytes = readFileSync(file);
  const key = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  if (brotliCache[key] === undefined) {
    if (bytes.length > 4e6) log(`  brotli q11 of ${path.relative(ROOT, file)} (${(bytes.length / 1e6).toFixed(1)} MB; cached afterwards)…`);
    brotliCache[key] = brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length;
    mkdirSync(path.dirname(BROTLI_CACHE), { recursive: true });
    writeFileSync(BROTLI_CACHE, JSON.stringify(brotliCache, null, 1));
  }
  return { raw: bytes.length, brotli: brotliCache[key] };
}

function sizeGroup(label, files) {
  let raw = 0;
  let brotli = 0;
  for (const f of files) {
    const s = brotliSize(f);
    raw += s.raw;
    brotli += s.brotli;
  }
  return { label, files: files.map((f) => path.relative(ROOT, f)), raw_bytes: raw, brotli_bytes: brotli };
}

// The widget and bundle files as the demo serves them.
function fileSizes() {
  const widget = JSON.parse(readFileSync(path.join(BUNDLE, 'widget.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8'));
  const pack = JSON.parse(readFileSync(path.join(BUNDLE, manifest.model.dir, 'pack.json'), 'utf8'));
  const w = (re) => widget.files.map((f) => f.name).filter((n) => re.test(n)).map((n) => path.join(BUNDLE, n));
  const shard = (kind) => manifest.shards.filter((s) => s.kind === kind).map((s) => path.join(BUNDLE, s.name));
  return {
    // a browser downloads one of the two builds: Chromium the relaxed one
    wasm: sizeGroup('crossfind_bg.*.wasm (baseline: browsers without relaxed SIMD)', w(/^crossfind_bg\..*\.wasm$/)),
    wasm_relaxed: sizeGroup('crossfind_relaxed_bg.*.wasm (relaxed SIMD: what Chromium loads)', w(/^crossfind_relaxed_bg\..*\.wasm$/)),
    widget_js: sizeGroup('crossfind.js + worker.js', w(/^(crossfind|worker)\.js$/)),
    sw_js: sizeGroup('sw.js (offline opt-in)', [path.join(BUNDLE, 'sw.js')]),
    css: sizeGroup('crossfind.css', w(/\.css$/)),
    i18n_en: sizeGroup('i18n/en.json (one language)', w(/^i18n\/en\.json$/)),
    i18n_all: sizeGroup(`i18n/*.json (${w(/^i18n\//).length} languages)`, w(/^i18n\//)),
    index_lexical: sizeGroup('manifest + docs + lexical shards', [path.join(BUNDLE, 'manifest.json'), ...shard('docs'), ...shard('lexical')]),
    vectors: sizeGroup('vectors shard', shard('vectors')),
    fragments: sizeGroup(`fragment shards (${shard('fragments').length})`, shard('fragments')),
    model: sizeGroup(`model pack (${pack.files.length + 1} files)`, [path.join(BUNDLE, manifest.model.dir, 'pack.json'), ...pack.files.map((f) => path.join(BUNDLE, manifest.model.dir, f.name))]),
  };
}

// URL path of the demo -> the file it serves (for brotli-equivalent sizes).
function siteFile(urlPath) {
  const f = path.join(SITE, decodeURIComponent(urlPath));
  if (existsSync(f) && statSync(f).isFile()) return f;
  const idx = path.join(f, 'index.html');
  return existsSync(idx) ? idx : null;
}

function category(urlPath) {
  if (urlPath.startsWith('/crossfind/model/')) return 'model';
  if (/^\/crossfind\/(manifest\.json|(docs|lexical|vectors|frag(?:-\d+)?)\.[0-9a-f]+\.(json|bin))$/.test(urlPath)) {
    return /^\/crossfind\/frag-/.test(urlPath) ? 'fragments' : 'index';
  }
  if (urlPath.startsWith('/crossfind/')) return 'widget';
  return 'page';
}

// -------------------------------------------------------------- one visit

// Records every finished request of the context with the time it finished.
function recordRequests(context) {
  const done = [];
  context.on('requestfinished', (req) => done.push({ req, t: Date.now() }));
  return done;
}

async function describeRequests(done) {
  const out = [];
  // playwright's sizes() can wait forever on a response the service worker
  // made up from Cache Storage: those are skipped, and every call is bounded.
  const within = (p, ms) => Promise.race([p.catch(() => null), sleep(ms).then(() => undefined)]);
  let unknown = 0;
  for (const { req, t } of done) {
    const res = await within(req.response(), 3000);
    let sizes = null;
    if (res && !res.fromServiceWorker()) {
      sizes = await within(req.sizes(), 3000);
      if (sizes === undefined) {
        unknown++;
        sizes = null;
      }
    }
    const url = new URL(req.url());
    const fromSw = !!res?.fromServiceWorker();
    let sw = false;
    try {
      sw = !!req.serviceWorker();
    } catch {
      sw = false;
    }
    const net = !sizes || fromSw ? 0 : sizes.responseHeadersSize + Math.max(0, sizes.responseBodySize);
    out.push({
      t,
      path: url.pathname,
      status: res?.status() ?? null,
      by: sw ? 'service worker' : 'page + search worker',
      from_service_worker: fromSw,
      bytes: net,
      body_bytes: !sizes || fromSw ? 0 : Math.max(0, sizes.responseBodySize),
    });
  }
  if (unknown) log(`  (${unknown} responses reported no sizes: counted as 0; the server column has them)`);
  return out;
}

// Sums the requests finished by time `t` (all when null), by category and requester.
function bytesUntil(reqs, t) {
  const sel = reqs.filter((r) => t === null || r.t <= t);
  const by = {};
  const cat = {};
  let total = 0;
  let brotli = 0;
  for (const r of sel) {
    total += r.bytes;
    by[r.by] = (by[r.by] ?? 0) + r.bytes;
    const c = category(r.path);
    cat[c] = (cat[c] ?? 0) + r.bytes;
    if (r.body_bytes > 0) {
      // what the body would have weighed brotli-compressed (headers as they were)
      const f = siteFile(r.path);
      const s = f && statSync(f).size === r.body_bytes ? brotliSize(f) : null;
      brotli += r.bytes - r.body_bytes + (s ? s.brotli : r.body_bytes);
    } else {
      brotli += r.bytes;
    }
  }
  return { cdp_bytes: total, cdp_brotli_equivalent_bytes: brotli, by_requester: by, by_category: cat, responses: sel.filter((r) => r.bytes > 0).length };
}

const INIT = ({ qLex, qSem }) => {
  if (window.top !== window) return;
  const B = (window.__cfBench = { t: {}, longtasks: [], problems: [], semanticHits: null, lexicalHits: null });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {
    B.problems.push(`longtask observer: ${e.message}`);
  }
  const mark = (name) => {
    if (B.t[name] !== undefined) return;
    B.t[name] = performance.now();
    if (window.__cfMark) window.__cfMark(name);
  };
  document.addEventListener('ready', () => {
    mark('ready');
    const api = window.crossfind;
    mark('model_requested'); // search() starts the model download
    api.search(qLex, { lang: 'en', mode: 'lexical' }).then(
      (hits) => {
        B.lexicalHits = hits.length;
        if (hits.length) mark('first_lexical_result');
        else B.problems.push(`no lexical hits for ${qLex}`);
      },
      (e) => B.problems.push(`lexical search: ${e.code} ${e.message}`),
    );
  });
  document.addEventListener('model-progress', () => mark('model_progress_first'));
  document.addEventListener('semantic-ready', () => {
    mark('semantic_ready');
    window.crossfind.search(qSem, { lang: 'en' }).catch((e) => B.problems.push(`semantic search: ${e.code} ${e.message}`));
  });
  document.addEventListener('results', (e) => {
    if (e.detail?.source === 'api' && e.detail.semantic && e.detail.query === qSem) {
      B.semanticHits = e.detail.results.length;
      mark('first_semantic_result');
    }
  });
  document.addEventListener('offline-ready', () => mark('offline_ready'));
  document.addEventListener('search-error', (e) => B.problems.push(`search-error: ${e.detail.stage} ${e.detail.code} ${e.detail.message}`));
};

async function visit(userDataDir, server, { waitOffline, serviceWorkers }) {
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, serviceWorkers });
  const marks = {};
  try {
    await context.exposeBinding('__cfMark', (_src, name) => {
      marks[name] = { server_bytes: server.total(), t: Date.now() };
    });
    await context.addInitScript(INIT, { qLex: Q_LEXICAL, qSem: Q_SEMANTIC });
    const done = recordRequests(context);
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const startBytes = server.total();
    await page.goto(server.url + PAGE, { waitUntil: 'domcontentloaded' });
    const want = ['first_lexical_result', 'semantic_ready', 'first_semantic_result', ...(waitOffline ? ['offline_ready'] : [])];
    const t0 = Date.now();
    let said = t0;
    for (;;) {
      const b = await page.evaluate(() => window.__cfBench);
      if (b.problems.length) throw new Error(`the widget reported: ${b.problems.join('; ')}`);
      if (want.every((k) => b.t[k] !== undefined)) break;
      if (Date.now() - said > 15000) {
        said = Date.now();
        log(`  … ${Math.round((said - t0) / 1000)} s: ${Object.keys(b.t).join(', ') || 'nothing yet'}; ${((server.total() - startBytes) / 1e6).toFixed(1)} MB served`);
      }
      if (Date.now() - t0 > TIMEOUT_MS) throw new Error(`timed out waiting for ${want.filter((k) => b.t[k] === undefined).join(', ')}`);
      await sleep(200);
    }
    await sleep(500); // let the last responses report
    const b = await page.evaluate(() => window.__cfBench);
    const sw = await page.evaluate(() => window.crossfind.offline());
    log(`  done; reading ${done.length} responses`);
    const reqs = await describeRequests(done);
    const at = (name) => ({
      ms_from_navigation: Math.round(b.t[name] * 10) / 10,
      server_bytes: marks[name] ? marks[name].server_bytes - startBytes : null,
      ...bytesUntil(reqs, marks[name]?.t ?? null),
    });
    const lt = (from, to) => {
      const sel = b.longtasks.filter((x) => x.start >= from && x.start <= to);
      return { count: sel.length, total_ms: Math.round(sel.reduce((a, x) => a + x.duration, 0)), longest_ms: Math.round(Math.max(0, ...sel.map((x) => x.duration))) };
    };
    const out = {
      milestones: {
        ready: at('ready'),
        first_lexical_result: at('first_lexical_result'),
        semantic_ready: at('semantic_ready'),
        first_semantic_result: at('first_semantic_result'),
        ...(b.t.offline_ready !== undefined ? { offline_ready: at('offline_ready') } : {}),
      },
      model_load_ms: Math.round(b.t.semantic_ready - b.t.model_requested),
      long_tasks_during_model_load: lt(b.t.model_requested, b.t.semantic_ready),
      long_tasks_during_model_download_and_build: lt(b.t.model_progress_first, b.t.semantic_ready),
      long_tasks_until_semantic_result: lt(0, b.t.first_semantic_result),
      marks_ms_from_navigation: b.t,
      long_tasks: b.longtasks,
      lexical_hits: b.lexicalHits,
      semantic_hits: b.semanticHits,
      service_worker: sw,
      page_errors: errors,
      total_at_end: { server_bytes: server.total() - startBytes, ...bytesUntil(reqs, null) },
      requests: reqs.map(({ t, ...r }) => r),
    };
    return out;
  } finally {
    log('  closing the browser');
    await context.close();
  }
}

// ------------------------------------------------------------------- peer

async function peerRun(engine, server) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cf-widget-bench-peer-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const done = recordRequests(context);
    const page = context.pages()[0] ?? (await context.newPage());
    const start = server.total();
    const t0 = Date.now();
    await page.goto(server.url + 'benches/web/index.html');
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60000 });
    const r = await page.evaluate((e) => window.runBench(e, { warmup: 0, runs: 1 }), engine);
    const wall = Date.now() - t0;
    const serverBytes = server.total() - start;
    await sleep(300);
    const reqs = await describeRequests(done);
    const bodies = reqs.reduce((a, x) => a + x.body_bytes, 0);
    let brotli = 0;
    for (const x of reqs) {
      const f = path.join(ROOT, decodeURIComponent(x.path));
      brotli += existsSync(f) && statSync(f).isFile() && statSync(f).size === x.body_bytes && x.body_bytes > 1e5 ? brotliSize(f).brotli : x.body_bytes;
    }
    return {
      engine,
      describe: r.describe,
      load_ms_to_first_embedding: r.load_ms,
      load_phases_ms: r.load_phases_ms,
      wall_ms_navigation_to_first_embedding_and_3_embeds: wall,
      cdp_bytes: reqs.reduce((a, x) => a + x.bytes, 0),
      cdp_body_bytes: bodies,
      brotli_equivalent_body_bytes: brotli,
      server_bytes: serverBytes,
      responses: reqs.length,
    };
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ report

const mb = (b) => {
  if (b === null || b === undefined) return '–';
  if (b < 1e5) return `${(b / 1e3).toFixed(1)} kB`;
  return (b / 1e6).toFixed(2);
};
const ms = (x) => (x === null || x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));

export function markdown(r) {
  const L = [];
  const m = r.machine;
  L.push(`Run ${m.date} · ${m.cpu_model} · ${m.logical_cpus} logical CPUs · ${m.chromium} · Node ${m.node} · wasm: ${m.wasm_build} · ${r.rounds} round(s)${r.rounds > 1 ? ', medians' : ''} · load avg ${r.loadavg_start.map((x) => x.toFixed(1)).join('/')} at start, ${r.loadavg_end.map((x) => x.toFixed(1)).join('/')} at end.`);
  L.push('');
  L.push(`**The widget on the demo help center** (headless Chromium, /${r.page}, served from 127.0.0.1 without compression; MB = 10^6 bytes. Bytes = CDP encoded bytes (headers + body) of the responses finished before the milestone, every requester; [in brackets: bytes the server had written at that instant, responses in flight included]; "if brotli" = the same responses with bodies brotli q11. ms from navigation start.)`);
  L.push('');
  const names = { ready: '`ready` (keyword index in)', first_lexical_result: 'first lexical result', semantic_ready: '`semantic-ready`', first_semantic_result: 'first semantic result', offline_ready: 'service worker copy complete (`offline-ready`)' };
  const vs = Object.keys(r.summary);
  L.push(`| milestone | ${vs.map((v) => `${v}: cold ms | cold MB | cold MB if brotli | warm ms | warm MB`).join(' | ')} |`);
  L.push(`|---|${vs.map(() => '--:|--:|--:|--:|--:').join('|')}|`);
  for (const k of Object.keys(names)) {
    const cells = vs.map((v) => {
      const c = r.summary[v].cold[k];
      const w = r.summary[v].warm[k];
      if (!c && !w) return '– | – | – | – | –';
      return `${ms(c?.ms)} | ${c ? `${mb(c.cdp_bytes)} [${mb(c.server_bytes)}]` : '–'} | ${mb(c?.cdp_brotli_equivalent_bytes)} | ${ms(w?.ms)} | ${w ? `${mb(w.cdp_bytes)} [${mb(w.server_bytes)}]` : '–'}`;
    });
    L.push(`| ${names[k]} | ${cells.join(' | ')} |`);
  }
  L.push('');
  const by = (x) => Object.entries(x).map(([k, v]) => `${k} ${mb(v)}`).join(', ');
  for (const v of vs) {
    const c1 = r.rounds_data[0][v].cold;
    const w1 = r.rounds_data[0][v].warm;
    L.push(`- *${v}* (${r.variants[v].describe}), round 1. Cold, before the first lexical result, by kind: ${by(c1.milestones.first_lexical_result.by_category)}; by requester: ${by(c1.milestones.first_lexical_result.by_requester)}. Cold, whole visit: ${mb(c1.total_at_end.cdp_bytes)} MB [server ${mb(c1.total_at_end.server_bytes)}]. Warm, whole visit: ${mb(w1.total_at_end.cdp_bytes)} in ${w1.total_at_end.responses} network responses [server ${mb(w1.total_at_end.server_bytes)}].`);
  }
  L.push('');
  L.push(`| main thread | ${vs.map((v) => `${v}: cold | warm`).join(' | ')} |`);
  L.push(`|---|${vs.map(() => '--:|--:').join('|')}|`);
  // long tasks per round, from the raw entries: "count (total ms)" joined by " / "
  const lt = (v, kind, from, to) =>
    r.rounds_data
      .map((rd) => {
        const x = rd[v][kind];
        const t = x.marks_ms_from_navigation;
        const sel = x.long_tasks.filter((e) => e.start >= (from ? t[from] : 0) && e.start <= t[to]);
        return sel.length ? `${sel.length} (${ms(sel.reduce((a, e) => a + e.duration, 0))} ms)` : '0';
      })
      .join(' / ');
  const row = (label, from, to) => L.push(`| ${label} | ${vs.map((v) => `${lt(v, 'cold', from, to)} | ${lt(v, 'warm', from, to)}`).join(' | ')} |`);
  L.push(`| model load (model requested → \`semantic-ready\`), ms, median | ${vs.map((v) => `${ms(r.summary[v].cold.model_load_ms)} | ${ms(r.summary[v].warm.model_load_ms)}`).join(' | ')} |`);
  row('long tasks while the model downloads and builds (first `model-progress` → `semantic-ready`), per round', 'model_progress_first', 'semantic_ready');
  row('long tasks from the model request (first API search, at `ready`) → `semantic-ready`, per round', 'model_requested', 'semantic_ready');
  row('long tasks from navigation → first semantic result, per round', null, 'first_semantic_result');
  L.push('');
  L.push('**Widget and bundle files** (as the demo serves them; brotli = node:zlib quality 11, lgwin 24, each file on its own)');
  L.push('');
  L.push('| file | raw MB | brotli MB |');
  L.push('|---|--:|--:|');
  for (const g of Object.values(r.sizes)) L.push(`| ${g.label} | ${mb(g.raw_bytes)} | ${mb(g.brotli_bytes)} |`);
  L.push('');
  if (r.peer?.length) {
    L.push('**Peer, cold, before its first embedding** (benches/web page, fresh profile, same kind of server, no compression; compare with the widget\'s "first semantic result")');
    L.push('');
    L.push('| engine | MB (CDP) [server] | MB if brotli | ms to first embedding (from module load) |');
    L.push('|---|--:|--:|--:|');
    for (const p of r.peer) L.push(`| ${p.engine}: ${p.describe} | ${mb(p.cdp_bytes)} [${mb(p.server_bytes)}] | ${mb(p.brotli_equivalent_body_bytes)} | ${ms(p.load_ms_to_first_embedding)} |`);
    L.push('');
  } else if (r.peer_skipped) {
    L.push(`Peer: skipped (${r.peer_skipped}).`, '');
  }
  return L.join('\n');
}

function summarize(rounds) {
  const s = {};
  for (const kind of ['cold', 'warm']) {
    s[kind] = {};
    for (const k of ['ready', 'first_lexical_result', 'semantic_ready', 'first_semantic_result', 'offline_ready']) {
      const xs = rounds.map((r) => r[kind].milestones[k]).filter(Boolean);
      if (!xs.length) continue;
      s[kind][k] = {
        ms: median(xs.map((x) => x.ms_from_navigation)),
        cdp_bytes: median(xs.map((x) => x.cdp_bytes)),
        cdp_brotli_equivalent_bytes: median(xs.map((x) => x.cdp_brotli_equivalent_bytes)),
        server_bytes: median(xs.map((x) => x.server_bytes)),
      };
    }
    s[kind].model_load_ms = median(rounds.map((r) => r[kind].model_load_ms));
    s[kind].long_tasks_during_model_load_count = median(rounds.map((r) => r[kind].long_tasks_during_model_load.count));
    s[kind].long_tasks_during_model_load_ms = median(rounds.map((r) => r[kind].long_tasks_during_model_load.total_ms));
  }
  return s;
}

const out = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
};

function wasmBuild() {
  // the demo's wasm files are pkg/web's, made from target/wasm32-unknown-unknown/{release,dist}
  // (baseline) and target/wasm-relaxed/… (relaxed); Chromium runs the relaxed one
  const one = (stem) => {
    const served = readdirSync(BUNDLE).find((n) => n.startsWith(`${stem}.`) && n.endsWith('.wasm'));
    if (!served) return `no ${stem}.*.wasm`;
    const h = createHash('sha256').update(readFileSync(path.join(BUNDLE, served))).digest('hex');
    const pkg = path.join(ROOT, `pkg/web/${stem}.wasm`);
    const same = existsSync(pkg) && createHash('sha256').update(readFileSync(pkg)).digest('hex') === h;
    return `${served}${same ? ' (= pkg/web)' : ' (not the current pkg/web)'}`;
  };
  return `${one('crossfind_relaxed_bg')}, ${one('crossfind_bg')}; DEMO_DIST=1 for the LTO builds`;
}

async function main() {
  const outFile = path.resolve(ROOT, opt('out', 'bench-results/widget.json'));
  const mdFile = outFile.replace(/\.json$/, '.md');
  if (flag('report-only')) {
    console.log(markdown(JSON.parse(readFileSync(outFile, 'utf8'))));
    return;
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
  if (!existsSync(path.join(BUNDLE, 'widget.json'))) {
    log('target/demo-site is missing: building it (scripts/demo.sh --no-serve; indexing takes minutes)');
    const r = spawnSync(path.join(ROOT, 'scripts/demo.sh'), ['--no-serve'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error('scripts/demo.sh --no-serve failed');
  }
  const rounds = Number(opt('rounds', 1));
  const res = {
    what: 'crossfind widget on the demo help center, headless Chromium: bytes, times, long tasks; see benches/widget.mjs',
    page: PAGE,
    queries: { lexical: Q_LEXICAL, semantic: Q_SEMANTIC },
    bytes_method:
      'cdp: headers + encoded body of each response finished before the milestone (Network.loadingFinished encodedDataLength via playwright request.sizes()), page + search worker + service worker; responses from Cache Storage count 0, HTTP-cache hits their headers only. server: bytes written to the sockets by the local server up to the milestone. No Content-Encoding: encoded = raw.',
    loadavg_start: os.loadavg(),
    rounds,
  };
  const cpus = os.cpus();
  res.machine = {
    date: new Date().toISOString(),
    cpu_model: cpus[0]?.model,
    logical_cpus: cpus.length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    chromium: out(CHROMIUM, ['--version'])?.split('\n').pop(),
    playwright_core: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/playwright-core/package.json'), 'utf8')).version,
    git_head: out('git', ['rev-parse', 'HEAD']),
    git_dirty_files: out('git', ['status', '--porcelain'])?.split('\n').filter(Boolean).length,
    wasm_build: wasmBuild(),
    shared_machine_note: 'shared 2-core machine; times are noisy, bytes are exact',
  };
  log('sizes (brotli q11, cached by sha256)…');
  res.sizes = fileSizes();

  const server = await countingServer(SITE);
  res.variants = VARIANTS;
  res.rounds_data = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const round = {};
      for (const [variant, v] of Object.entries(VARIANTS)) {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'cf-widget-bench-'));
        try {
          log(`round ${i + 1}/${rounds}, ${variant}: cold visit (fresh profile ${dir})…`);
          const cold = await visit(dir, server, { waitOffline: v.serviceWorkers === 'allow', serviceWorkers: v.serviceWorkers });
          log(`  first lexical result ${ms(cold.milestones.first_lexical_result.ms_from_navigation)} ms, semantic ready ${ms(cold.milestones.semantic_ready.ms_from_navigation)} ms`);
          log(`round ${i + 1}/${rounds}, ${variant}: warm visit (same profile)…`);
          const warm = await visit(dir, server, { waitOffline: false, serviceWorkers: v.serviceWorkers });
          log(`  first lexical result ${ms(warm.milestones.first_lexical_result.ms_from_navigation)} ms, semantic ready ${ms(warm.milestones.semantic_ready.ms_from_navigation)} ms`);
          round[variant] = { cold, warm };
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      res.rounds_data.push(round);
    }
  } finally {
    await server.close();
  }
  res.summary = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, summarize(res.rounds_data.map((r) => r[k]))]));

  if (flag('skip-peer')) res.peer_skipped = '--skip-peer';
  else if (!existsSync(path.join(ROOT, '.cache/bench/onnx/model_quantized.onnx'))) res.peer_skipped = '.cache/bench/onnx/model_quantized.onnx missing: run node benches/run.mjs (or benches/make_onnx.py) once';
  else {
    const peerServer = await countingServer(ROOT);
    res.peer = [];
    try {
      for (const engine of ['ort-int8']) {
        log(`peer page: ${engine}, cold…`);
        res.peer.push(await peerRun(engine, peerServer));
      }
    } finally {
      await peerServer.close();
    }
    res.peer_versions = { 'onnxruntime-web': JSON.parse(readFileSync(path.join(ROOT, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version };
  }
  res.loadavg_end = os.loadavg();
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile + '.tmp', JSON.stringify(res, null, 1));
  renameSync(outFile + '.tmp', outFile);
  const md = markdown(res);
  writeFileSync(mdFile, md + '\n');
  console.log(md);
  log(`wrote ${path.relative(ROOT, outFile)} and ${path.relative(ROOT, mdFile)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`widget benchmark failed: ${e.stack || e}`);
    process.exit(1);
  });
}
