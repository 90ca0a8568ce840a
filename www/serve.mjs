#!/usr/bin/env node
// A small static file server for the demo site and the browser tests.
//
//   node www/serve.mjs [--root DIR] [--port N] [--host H] [--csp]
//
// Serves DIR (default target/demo-site) with the right MIME types (wasm as
// application/wasm, so the browser can compile it while it streams), strong
// ETags, and Cache-Control: immutable for content-hashed names
// ("docs.2ca7ed34fd8f.json"); everything else is revalidated (no-cache + ETag).
// Single byte ranges (Range: bytes=a-b) are answered with 206, as static hosts
// do: the widget fetches the embedding rows a query needs that way.
// --csp sends the strict Content-Security-Policy crossfind is meant to work under.
// /crossfind/sw.js is sent with Service-Worker-Allowed: / so the widget can
// register it for the whole site. --port 0 picks a free port; the first line
// printed is "listening on http://HOST:PORT/".
//
// Also importable: `startServer({root, port, host, csp, headers})` resolves to
// `{url, port, server, close()}`. `headers(pathname)` (tests) returns extra
// response headers for a file, e.g. another Cache-Control, or null.

import http from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const STRICT_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'";

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

// "name.<12+ hex>.ext": the content decides the name, so it never changes.
const HASHED = /\.[0-9a-f]{12,64}\.[a-z0-9]+$/;

export function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] || 'application/octet-stream';
}

// ETags from size, mtime and inode: cheap, and they change whenever the file does.
function etagOf(st) {
  const h = createHash('sha1').update(`${st.size}:${st.mtimeMs}:${st.ino}`).digest('hex').slice(0, 20);
  return `"${h}"`;
}

async function resolveFile(root, urlPath) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  const file = path.resolve(root, '.' + path.posix.normalize('/' + rel));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  try {
    const st = await fs.stat(file);
    if (st.isDirectory()) {
      const index = path.join(file, 'index.html');
      const ist = await fs.stat(index).catch(() => null);
      return ist && ist.isFile() ? { file: index, st: ist, dir: true } : null;
    }
    return st.isFile() ? { file, st } : null;
  } catch {
    return null;
  }
}

export function createHandler({ root, csp = false, log = null, headers: extraHeaders = null }) {
  root = path.resolve(root);
  return async (req, res) => {
    const started = Date.now();
    const done = (status) => log && log(`${req.method} ${req.url} ${status} ${Date.now() - started}ms`);
    const common = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin' };
    if (csp) common['Content-Security-Policy'] = STRICT_CSP;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...common, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return done(405);
    }
    const url = new URL(req.url, 'http://localhost');
    const found = await resolveFile(root, url.pathname);
    if (found && found.dir && !url.pathname.endsWith('/')) {
      res.writeHead(301, { ...common, Location: url.pathname + '/' + url.search });
      res.end();
      return done(301);
    }
    if (!found) {
      const page = await resolveFile(root, '/404.html');
      const headers = { ...common, 'Cache-Control': 'no-cache' };
      if (page) {
        res.writeHead(404, { ...headers, 'Content-Type': MIME['.html'], 'Content-Length': page.st.size });
        if (req.method === 'HEAD') res.end();
        else createReadStream(page.file).pipe(res);
      } else {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('not found\n');
      }
      return done(404);
    }
    const { file, st } = found;
    const etag = etagOf(st);
    const headers = {
      ...common,
      'Content-Type': mimeType(file),
      ETag: etag,
      'Last-Modified': st.mtime.toUTCString(),
      'Cache-Control': HASHED.test(path.basename(file)) ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (path.basename(file) === 'sw.js') headers['Service-Worker-Allowed'] = '/';
    if (extraHeaders) Object.assign(headers, extraHeaders(url.pathname) || {});
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      res.writeHead(304, headers);
      res.end();
      return done(304);
    }
    headers['Accept-Ranges'] = 'bytes';
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range || '').trim());
    if (range && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : Math.max(0, st.size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), st.size - 1) : st.size - 1;
      if (start > end || start >= st.size) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        res.end();
        return done(416);
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${st.size}`, 'Content-Length': end - start + 1 });
      if (req.method === 'HEAD') {
        res.end();
        return done(206);
      }
      const part = createReadStream(file, { start, end });
      part.on('error', () => res.destroy());
      part.pipe(res);
      res.on('finish', () => done(206));
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': st.size });
    if (req.method === 'HEAD') {
      res.end();
      return done(200);
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    res.on('finish', () => done(200));
  };
}

export function startServer({ root, port = 8080, host = '127.0.0.1', csp = false, log = null, headers = null } = {}) {
  const server = http.createServer(createHandler({ root, csp, log, headers }));
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      const shown = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
      resolve({
        server,
        port: actual,
        url: `http://${host === '::1' ? '[::1]' : host}:${actual}/`,
        displayUrl: `http://${shown}:${actual}/`,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = { root: path.join(here, '..', 'target', 'demo-site'), port: 8080, host: '127.0.0.1', csp: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--root') args.root = value();
    else if (a === '--port') args.port = Number(value());
    else if (a === '--host') args.host = value();
    else if (a === '--csp') args.csp = true;
    else if (a === '--quiet') args.quiet = true;
    else if (a === '-h' || a === '--help') args.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error('--port must be 0..65535');
  return args;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`serve.mjs: ${e.message}`);
    process.exit(2);
  }
  if (args.help) {
    console.log('usage: node www/serve.mjs [--root DIR] [--port N] [--host H] [--csp] [--quiet]');
    process.exit(0);
  }
  const s = await startServer({ ...args, log: args.quiet ? null : (line) => console.error(line) });
  console.log(`listening on ${s.displayUrl}${args.csp ? ' (strict CSP)' : ''} serving ${path.resolve(args.root)}`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
