// Records every WebAssembly.Memory a page or process creates or is handed by
// an instance's exports, so a benchmark can report wasm heap size for any
// engine (wasm-bindgen exports its memory; Emscripten builds such as
// onnxruntime-web create theirs in JS). Import this before any engine.
const W = globalThis.WebAssembly;
const memories = new Set();

function note(instance) {
  try {
    for (const v of Object.values(instance.exports)) {
      if (Object.prototype.toString.call(v) === '[object WebAssembly.Memory]') memories.add(v);
    }
  } catch { /* not an instance */ }
  return instance;
}

if (!W.__cfProbe) {
  const OrigMemory = W.Memory;
  W.Memory = new Proxy(OrigMemory, {
    construct(target, args, newTarget) {
      const m = Reflect.construct(target, args, newTarget === W.Memory ? target : newTarget);
      memories.add(m);
      return m;
    },
  });
  const OrigInstance = W.Instance;
  W.Instance = new Proxy(OrigInstance, {
    construct(target, args, newTarget) {
      return note(Reflect.construct(target, args, newTarget === W.Instance ? target : newTarget));
    },
  });
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const orig = W[name];
    if (!orig) continue;
    W[name] = async function (...args) {
      const r = await orig.apply(this, args);
      note(r.instance ?? r);
      return r;
    };
  }
  W.__cfProbe = true;
}


/** Bytes held by all wasm memories seen so far (their current sizes). */
export function wasmMemoryBytes() {
  let n = 0;
  for (const m of memories) n += m.buffer.byteLength;
  return n;
}

export function wasmMemoryCount() { return memories.size; }
