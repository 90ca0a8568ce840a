// Browser host for benches/lib/engines.mjs: files over fetch from the local
// static server (benches/serve.mjs), our pkg/web builds, and onnxruntime-web's
// wasm-only ES module with its .mjs/.wasm loaded from node_modules.
import { wasmMemoryBytes } from '../lib/probe.mjs';
import { interleaved, measure } from '../lib/engines.mjs';

async function get(p) {
  const r = await fetch('/' + p);
  if (!r.ok) throw new Error(`GET /${p}: ${r.status}`);
  return r;
}

const host = {
  now: () => performance.now(),
  readBytes: async (p) => new Uint8Array(await (await get(p)).arrayBuffer()),
  async readRange(p, start, end) {
    const r = await fetch('/' + p, { headers: { Range: `bytes=${start}-${end - 1}` } });
    if (r.status !== 206) throw new Error(`GET /${p} with Range: ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  },
  readText: async (p) => (await get(p)).text(),
  // one glue, the .wasm of the flavour asked for (one engine per page load)
  async importOurs(flavour) {
    const m = await import('/pkg/web/crossfind.js');
    await m.default({ module_or_path: `/pkg/web/${flavour === 'relaxed' ? 'crossfind_relaxed_bg' : 'crossfind_bg'}.wasm` });
    return m;
  },
  importOrt: () => import('/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs'),
  importTokenizers: () => import('/node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs'),
  ortWasmPaths: new URL('/node_modules/onnxruntime-web/dist/', location.href).href,
  memory: () => (performance.memory
    ? { js_heap_used: performance.memory.usedJSHeapSize, js_heap_total: performance.memory.totalJSHeapSize }
    : {}),
};

window.runBench = async (engine, opts) => {
  const r = await measure(engine, host, opts);
  r.user_agent = navigator.userAgent;
  r.cross_origin_isolated = self.crossOriginIsolated;
  document.getElementById('out').textContent += `${engine}: load ${r.load_ms} ms\n`;
  return r;
};
window.runInterleaved = async (engines, opts) => {
  const r = await interleaved(engines, host, opts);
  r.user_agent = navigator.userAgent;
  return r;
};
window.benchReady = true;
void wasmMemoryBytes;
