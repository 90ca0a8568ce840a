// The engines compared by benches/encoder.mjs, written once for Node and the
// browser. A `host` supplies file access and module loading:
//   now(), readBytes(relPath), readRange(relPath, start, end), readText(relPath),
//   importOurs(flavour) (flavour: 'baseline' | 'relaxed', the wasm build), importOrt(),
//   importTokenizers(), ortWasmPaths, memory() (extra memory numbers),
//   cpu() (optional: process CPU time in ms, Node only)
// Paths are relative to the repository root.
import { wasmMemoryBytes, wasmMemoryCount } from './probe.mjs';
import { TEXTS, SWEEP } from './texts.mjs';

export const MODEL_DIR = 'models/e5-small';
export const PEER_DIR = '.cache/bench/onnx';

// crossfind's wasm encoder from PackLoader: with `allRows`, every file of
// the pack, the whole embedding table included (measures the encoder's
// compute and a full load); without, as the widget loads it: no table up
// front, the rows of each text's tokens fetched by byte range before it is
// embedded (only the first embedding of a text fetches anything).
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

async function loadOurs(host, mark, allRows, flavour = 'baseline') {
  const mod = await host.importOurs(flavour);
  mark('module');
  const loader = new mod.PackLoader(await host.readText(`${MODEL_DIR}/pack.json`));
  const names = [...loader.missing(), ...(allRows ? loader.rowShards() : [])];
  const files = await Promise.all(names.map((n) => host.readBytes(`${MODEL_DIR}/${n}`)));
  mark('fetch');
  // as the widget's worker does: sha256 by WebCrypto, checked against pack.json in wasm
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  for (let i = 0; i < names.length; i++) {
    if (subtle) loader.addDigested(names[i], files[i], hex(await subtle.digest('SHA-256', files[i])));
    else loader.add(names[i], files[i]);
  }
  files.length = 0;
  mark('add');
  const enc = loader.build();
  mark('build');
  return {
    async embed(text, kind) {
      if (!allRows) {
        const ranges = enc.rowRanges(text, kind);
        const bodies = await Promise.all(ranges.map((r) => host.readRange(`${MODEL_DIR}/${r.file}`, r.start, r.end)));
        ranges.forEach((r, i) => enc.addRows(r.firstBlock, bodies[i]));
      }
      return enc.embed(text, kind);
    },
    ids: (text, kind) => Array.from(enc.tokenize(text, kind)),
  };
}

const ours = {
  name: 'crossfind',
  describe: 'crossfind wasm (pkg, baseline build: SIMD128), 4-bit pack models/e5-small, own tokenizer',
  load: (host, mark) => loadOurs(host, mark, true, 'baseline'),
};

const oursRelaxed = {
  name: 'crossfind-relaxed',
  describe: 'crossfind wasm (pkg, relaxed build: SIMD128 + relaxed SIMD), 4-bit pack models/e5-small, own tokenizer',
  load: (host, mark) => loadOurs(host, mark, true, 'relaxed'),
};

const oursLazy = {
  name: 'crossfind-lazy',
  describe: 'crossfind wasm (pkg, baseline build), 4-bit pack, embedding rows fetched per text by HTTP Range (as the widget does)',
  load: (host, mark) => loadOurs(host, mark, false),
};

// onnxruntime-web (wasm backend, 1 thread) on an ONNX export of the same
// weights, tokenised by @huggingface/tokenizers (the tokenizer transformers.js
// uses), mean-pooled and L2-normalised in JS as transformers.js'
// feature-extraction pipeline does with {pooling: 'mean', normalize: true}.
function ortEngine(name, file, describe) {
  return {
    name,
    describe,
    async load(host, mark) {
      const ort = await host.importOrt();
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      if (host.ortWasmPaths) ort.env.wasm.wasmPaths = host.ortWasmPaths;
      const { Tokenizer } = await host.importTokenizers();
      mark('module');
      const [modelBytes, tokText] = await Promise.all([
        host.readBytes(`${PEER_DIR}/${file}`),
        host.readText(`${PEER_DIR}/tokenizer.json`),
      ]);
      mark('fetch');
      const tok = new Tokenizer(JSON.parse(tokText), {});
      mark('tokenizer');
      const session = await ort.InferenceSession.create(modelBytes, {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      mark('session');
      const ids = (text, kind) => tok.encode(`${kind}: ${text}`).ids;
      return {
        ids,
        async embed(text, kind) {
          const x = ids(text, kind);
          const n = x.length;
          const feeds = {
            input_ids: new ort.Tensor('int64', BigInt64Array.from(x, BigInt), [1, n]),
            attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
            token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
          };
          const out = await session.run(feeds);
          const h = out.last_hidden_state.data;
          const d = out.last_hidden_state.dims[2];
          const v = new Float32Array(d);
          for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) v[j] += h[t * d + j];
          let s = 0;
          for (let j = 0; j < d; j++) { v[j] /= n; s += v[j] * v[j]; }
          s = Math.sqrt(s);
          for (let j = 0; j < d; j++) v[j] /= s;
          out.last_hidden_state.dispose?.();
          return v;
        },
      };
    },
  };
}

export const ENGINES = {
  crossfind: ours,
  'crossfind-relaxed': oursRelaxed,
  'crossfind-lazy': oursLazy,
  'ort-int8': ortEngine('ort-int8', 'model_quantized.onnx',
    'onnxruntime-web wasm 1 thread, model_quantized.onnx (quantize_dynamic QInt8 per-channel), tokenizers.js'),
  'ort-fp32': ortEngine('ort-fp32', 'model.onnx', 'onnxruntime-web wasm 1 thread, model.onnx (fp32), tokenizers.js'),
};

export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p10: q(0.1), p50: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1], mean };
}

const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Loads one engine (timing each phase up to the first embedding of the short
 * text), then times `runs` embeddings of each text after `warmup` untimed
 * ones of every text. Returns plain JSON.
 */
export async function measure(engineName, host, { warmup = 5, runs = 30, sweepRuns = 0 } = {}) {
  const engine = ENGINES[engineName];
  if (!engine) throw new Error(`unknown engine ${engineName}`);
  const phases = {};
  const t0 = host.now();
  let last = t0;
  const mark = (p) => { const t = host.now(); phases[p] = round(t - last); last = t; };
  const inst = await engine.load(host, mark);
  const first = TEXTS[0];
  await inst.embed(first.text, first.kind);
  mark('first_embed');
  const loadMs = host.now() - t0;
  const memAfterLoad = { wasm_bytes: wasmMemoryBytes(), wasm_memories: wasmMemoryCount(), ...host.memory() };

  for (let w = 0; w < warmup; w++) for (const t of TEXTS) await inst.embed(t.text, t.kind);
  const latency = {};
  const vectors = {};
  for (const t of TEXTS) {
    const samples = [];
    const cpu = [];
    let v;
    for (let r = 0; r < runs; r++) {
      const c = host.cpu?.();
      const a = host.now();
      v = await inst.embed(t.text, t.kind);
      samples.push(host.now() - a);
      if (c !== undefined) cpu.push(host.cpu() - c);
    }
    const ids = inst.ids(t.text, t.kind);
    latency[t.name] = { tokens: ids.length, ...mapRound(stats(samples)), samples: samples.map((x) => round(x)) };
    if (cpu.length) latency[t.name].cpu_p50 = round(stats(cpu).p50);
    vectors[t.name] = { ids, vector: Array.from(v, (x) => round(x, 7)) };
  }
  // token-length sweep: 1 untimed + sweepRuns timed embeddings per length
  const sweep = [];
  for (const t of sweepRuns > 0 ? SWEEP : []) {
    await inst.embed(t.text, t.kind);
    const samples = [];
    for (let r = 0; r < sweepRuns; r++) {
      const a = host.now();
      await inst.embed(t.text, t.kind);
      samples.push(host.now() - a);
    }
    sweep.push({ tokens: inst.ids(t.text, t.kind).length, p50: round(stats(samples).p50), samples: samples.map((x) => round(x)) });
  }
  const memEnd = { wasm_bytes: wasmMemoryBytes(), wasm_memories: wasmMemoryCount(), ...host.memory() };
  return {
    engine: engineName,
    describe: engine.describe,
    load_ms: round(loadMs),
    load_phases_ms: phases,
    memory_after_load: memAfterLoad,
    memory_end: memEnd,
    warmup,
    runs,
    latency_ms: latency,
    ...(sweep.length ? { sweep_ms: sweep } : {}),
    vectors,
  };
}

function mapRound(o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, k === 'n' ? v : round(v)]));
}

/**
 * Several engines loaded side by side in one page (or process), their calls
 * alternating one by one (A B, then B A, ...) on each text after `warmup`
 * untimed embeddings of every text by each. A change in the machine's speed
 * (this kind of shared VM has slow spells lasting seconds to minutes) then
 * hits both engines of a pair alike, so the ratio of two calls made back to
 * back is a steadier comparison than latencies taken in separate browsers
 * minutes apart. `ref` is the engine the others are divided by. Returns
 * plain JSON: per text, each engine's stats and, for the others, the median
 * of the per-pair ratios and the ratios of the mins and p50s.
 */
export async function interleaved(names, host, { ref = names[names.length - 1], warmup = 5, pairs = 40 } = {}) {
  for (const n of names) if (!ENGINES[n]) throw new Error(`unknown engine ${n}`);
  if (!names.includes(ref)) throw new Error(`the reference ${ref} is not among ${names.join(', ')}`);
  const insts = {};
  for (const n of names) insts[n] = await ENGINES[n].load(host, () => {});
  for (const n of names) for (let w = 0; w < warmup; w++) for (const t of TEXTS) await insts[n].embed(t.text, t.kind);
  const texts = {};
  for (const t of TEXTS) {
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < pairs; i++) {
      for (const n of i % 2 ? [...names].reverse() : names) {
        const a = host.now();
        await insts[n].embed(t.text, t.kind);
        samples[n].push(host.now() - a);
      }
    }
    const row = { tokens: insts[names[0]].ids(t.text, t.kind).length, engines: {} };
    const r = stats(samples[ref]);
    for (const n of names) {
      const s = stats(samples[n]);
      row.engines[n] = { ...mapRound(s), samples: samples[n].map((x) => round(x)) };
      if (n === ref) continue;
      const each = samples[n].map((x, i) => x / samples[ref][i]);
      Object.assign(row.engines[n], {
        [`ratio_to_${ref}_median_of_pairs`]: round(stats(each).p50),
        [`ratio_to_${ref}_of_p50`]: round(s.p50 / r.p50),
        [`ratio_to_${ref}_of_min`]: round(s.min / r.min),
      });
    }
    texts[t.name] = row;
  }
  return { engines: names, ref, warmup, pairs, texts };
}
