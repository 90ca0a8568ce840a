// A tiny static file server for the browser benchmark: serves the repository
// root on 127.0.0.1 (only the folders the page needs), no caching.
//   node benches/serve.mjs [port]     (default: a free port; prints the URL)
import http from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ALLOWED = ['benches/', 'pkg/', 'node_modules/', 'models/', '.cache/bench/onnx/'];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export function startServer({ root = ROOT, port = 0, log = false } = {}) {
  const server = http.createServer(async (req, res) => {
    const fail = (code, msg) => { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(msg); };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
      const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
      const file = path.resolve(root, rel);
      if (!file.startsWith(root + path.sep) || !ALLOWED.some((p) => rel.startsWith(p))) return fail(403, 'forbidden');
      const st = await stat(file).catch(() => null);
      if (!st || !st.isFile()) return fail(404, 'not found');
      const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
      // one byte range, as static hosts serve it (rows fetched on demand)
      const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
      if (m && Number(m[1]) <= Number(m[2]) && Number(m[2]) < st.size) {
        const [start, end] = [Number(m[1]), Number(m[2])];
        res.writeHead(206, { 'content-type': type, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${st.size}`, 'cache-control': 'no-store' });
        if (req.method === 'HEAD') return res.end();
        return createReadStream(file, { start, end }).pipe(res);
      }
      res.writeHead(200, {
        'content-type': type,
        'content-length': st.size,
        'cache-control': 'no-store',
      });
      if (log) console.error(req.method, rel, st.size);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
    } catch (e) {
      fail(500, String(e));
    }
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      resolve({ url: `http://127.0.0.1:${p}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startServer({ port: Number(process.argv[2] ?? 0), log: true });
  console.log(`serving ${ROOT} at ${s.url}/benches/web/index.html (Ctrl-C to stop)`);
}
