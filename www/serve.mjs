#!/usr/bin/env node
// A small static file server for the demo site and the browser tests.
//
//   node www/serve.mjs [--root DIR] [--port N] [--host H] [--csp]
//                      [--ignore-range] [--single-range] [--corrupt PATH]... [--fail-midway PATH]...
//
// Serves DIR (default target/demo-site) with the right MIME types (wasm as
// application/wasm, so the browser can compile it while it streams), strong
// ETags, and Cache-Control: immutable for content-hashed names
// ("docs.2ca7ed34fd8f.json"); everything else is revalidated (no-cache + ETag).
// Byte ranges (Range: bytes=a-b) are answered with 206, as static hosts
// do: the widget fetches the embedding rows and the parts of a large
// bundle a query needs that way. Several ranges in one request get a
// multipart/byteranges answer, as from nginx, Apache or Go's file server.
// --csp sends the strict Content-Security-Policy crossfind is meant to work under.
// /crossfind/sw.js is sent with Service-Worker-Allowed: / so the widget can
// register it for the whole site. --port 0 picks a free port; the first line
// printed is "listening on http://HOST:PORT/".
//
// Also importable: `startServer({root, port, host, csp, headers, faults})`
// resolves to `{url, port, server, faults, close()}`. `headers(pathname)`
// (tests) returns extra response headers for a file, e.g. another
// Cache-Control, or null.
//
// Faults, to try the widget against hosts and networks that misbehave (the
// browser tests; also as flags for trying by hand). `faults` is read on
// every request, so a test changes it while the server runs:
//   ignoreRange   answer Range requests with the whole file (200, no
//                 Accept-Ranges), as some hosts and proxies do
//   singleRange   answer a request for several ranges with the whole file
//                 (200), as hosts that serve one range at a time do (S3;
//                 nginx with max_ranges 1); 'refuse': with 416, as Varnish
//                 does
//   corrupt       serve these files with one byte changed (the middle one,
//                 XOR 0x55; same size, so only a checksum can tell), under
//                 an ETag of their own
//   failMidway    send the headers (the full Content-Length) and the first
//                 half of the body of these files, then drop the connection
//                 (never a 304: the request fails whatever the browser holds)
//
// `compress` ({encoding: 'br' | 'gzip', quality?, cacheDir?}) makes it a host
// that compresses: every answer without Range whose file is not compressed
// already (.gz) goes with that Content-Encoding when the request accepts
// it, text, JSON, wasm and .bin alike (as much as any host compresses),
// HEAD answers included. Bodies are compressed once per file (brotli
// quality 11 unless `quality`; kept in `cacheDir` by sha256 when given).
// The benchmarks and tests use it to compare hosts; `--brotli` on the
// command line.
//
// Each is `true` (every file; ignoreRange and singleRange only), a list (or Set) of URL
// paths such as "/crossfind/model/encoder.bin", or a function(pathname) ->
// boolean. The log line of a faulty answer ends in " corrupt" or " cut".

import http from 'node:http';
import zlib from 'node:zlib';
import { createReadStream, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { multipartAnswer, rangeSet } from './src/byte-ranges.mjs';

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

// Whether a fault setting (true, a list or Set of paths, or a function)
// covers `pathname`.
function applies(setting, pathname) {
  if (!setting) return false;
  if (setting === true) return true;
  if (typeof setting === 'function') return !!setting(pathname);
  if (setting instanceof Set) return setting.has(pathname);
  return Array.isArray(setting) && setting.includes(pathname);
}

// Ranges a request names at most; more are answered with the whole file,
// as Apache does beyond its MaxRanges (200 by default).
const MAX_RANGES = 200;

// The satisfiable ranges of a Range header value for a file of `size`
// bytes, [{start, end}] (inclusive) in the order asked: empty when none is
// (416), null when the header is not a byte-range set (or names more than
// MAX_RANGES): answered with the whole file, as RFC 9110 lets a server do.
function parseRanges(value, size) {
  const set = rangeSet(value);
  if (!set || set.length > MAX_RANGES) return null;
  return set
    .map(({ first, last }) => (first === null ? { start: Math.max(0, size - last), end: size - 1 } : { start: first, end: last === null ? size - 1 : Math.min(last, size - 1) }))
    .filter(({ start, end }) => start <= end && start < size);
}

// Answers several ranges of `file` in one multipart/byteranges body (RFC
// 9110 §14.6), as nginx, Apache and Go's file server do; the faults apply
// to the body as a whole (corrupt: the file's middle byte, in whichever
// part holds it). Resolves to the log suffix.
async function sendParts(req, res, file, size, ranges, headers, { corrupt, cut }) {
  const fh = await fs.open(file, 'r');
  let parts;
  try {
    // the parts read side by side, as a server with sendfile would not wait on each
    parts = await Promise.all(
      ranges.map(async ({ start, end }) => {
        const bytes = Buffer.alloc(end - start + 1);
        await fh.read(bytes, 0, bytes.length, start);
        const middle = size >> 1;
        if (corrupt && middle >= start && middle <= end) bytes[middle - start] ^= 0x55;
        return { start, end, bytes };
      }),
    );
  } finally {
    await fh.close();
  }
  const { contentType, body } = multipartAnswer(parts, headers['Content-Type'], size);
  res.writeHead(206, { ...headers, 'Content-Type': contentType, 'Content-Length': body.length });
  if (req.method === 'HEAD') {
    res.end();
    return '';
  }
  return sendBytes(res, body, cut, ` ${ranges.length} ranges${corrupt ? ' corrupt' : ''}`);
}

// Sends `body` after the headers already given (with `cut`, half of it,
// then the connection drops); resolves to the log suffix (`suffix` when
// sent whole).
async function sendBytes(res, body, cut, suffix) {
  if (cut) {
    res.write(body.subarray(0, body.length >> 1), () => res.destroy());
    await new Promise((r) => res.on('close', r));
    return ' cut';
  }
  res.end(body);
  await new Promise((r) => res.on('close', r));
  return suffix;
}

// Sends bytes start..end (inclusive) of `file` after the headers already
// given, with the faults asked for; resolves to the log suffix.
async function sendBody(req, res, file, size, start, end, { corrupt, cut }) {
  if (req.method === 'HEAD') {
    res.end();
    return '';
  }
  if (end < start) {
    res.end(); // an empty file
    return '';
  }
  if (!corrupt && !cut) {
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    await new Promise((r) => res.on('close', r));
    return '';
  }
  const body = Buffer.alloc(end - start + 1);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(body, 0, body.length, start);
  } finally {
    await fh.close();
  }
  const middle = size >> 1;
  if (corrupt && middle >= start && middle <= end) body[middle - start] ^= 0x55;
  return sendBytes(res, body, cut, corrupt ? ' corrupt' : '');
}

// file -> {key, body}: compressed bodies of a compressing host.
const compressedBodies = new Map();

async function compressedBody(file, st, { encoding, quality, cacheDir }) {
  const key = `${st.size}:${st.mtimeMs}:${encoding}:${quality ?? ''}`;
  const hit = compressedBodies.get(file);
  if (hit && hit.key === key) return hit.body;
  const bytes = await fs.readFile(file);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const cached = cacheDir && path.join(cacheDir, `${sha}.${encoding}${quality ?? 11}`);
  let body = cached ? await fs.readFile(cached).catch(() => null) : null;
  if (!body) {
    body =
      encoding === 'br'
        ? zlib.brotliCompressSync(bytes, {
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: quality ?? 11,
              [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
              [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
            },
          })
        : zlib.gzipSync(bytes, { level: quality ?? 9 });
    if (cached) {
      await fs.mkdir(cacheDir, { recursive: true });
      await fs.writeFile(cached, body);
    }
  }
  compressedBodies.set(file, { key, body });
  return body;
}

const accepts = (req, encoding) =>
  String(req.headers['accept-encoding'] || '')
    .split(',')
    .some((e) => e.trim().split(';')[0] === encoding);

export function createHandler({ root, csp = false, log = null, headers: extraHeaders = null, faults = {}, compress = null }) {
  root = path.resolve(root);
  return async (req, res) => {
    const started = Date.now();
    const done = (status, note = '') => log && log(`${req.method} ${req.url} ${status} ${Date.now() - started}ms${note}`);
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
    const faulty = { corrupt: applies(faults.corrupt, url.pathname), cut: applies(faults.failMidway, url.pathname) };
    // A damaged file is another file: its own ETag, so that a browser
    // holding the good one gets the damaged one, and the reverse once the
    // fault is gone. A cut answer is cut whatever the browser holds.
    const etag = faulty.corrupt ? etagOf(st).replace(/"$/, '-damaged"') : etagOf(st);
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
    if (!faulty.cut && inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      res.writeHead(304, headers);
      res.end();
      return done(304);
    }
    if (compress && !req.headers.range && !file.endsWith('.gz') && accepts(req, compress.encoding)) {
      const body = await compressedBody(file, st, compress);
      res.writeHead(200, { ...headers, 'Content-Encoding': compress.encoding, 'Content-Length': body.length, Vary: 'Accept-Encoding' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return done(200, ` ${compress.encoding}`);
    }
    const rangesHonoured = !applies(faults.ignoreRange, url.pathname);
    if (rangesHonoured) headers['Accept-Ranges'] = 'bytes';
    const ranges = rangesHonoured && req.headers.range ? parseRanges(String(req.headers.range), st.size) : null;
    if (ranges && ranges.length > 1 && faults.singleRange === 'refuse') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
      res.end();
      return done(416);
    }
    if (ranges && !(ranges.length > 1 && applies(faults.singleRange, url.pathname))) {
      if (!ranges.length) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        res.end();
        return done(416);
      }
      if (ranges.length > 1) return done(206, await sendParts(req, res, file, st.size, ranges, headers, faulty));
      const [{ start, end }] = ranges;
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${st.size}`, 'Content-Length': end - start + 1 });
      return done(206, await sendBody(req, res, file, st.size, start, end, faulty));
    }
    res.writeHead(200, { ...headers, 'Content-Length': st.size });
    return done(200, await sendBody(req, res, file, st.size, 0, st.size - 1, faulty));
  };
}

// `bytesWritten()` of the returned server: bytes it has written to its
// sockets so far (headers and bodies), what its readers downloaded.
export function startServer({ root, port = 8080, host = '127.0.0.1', csp = false, log = null, headers = null, faults = {}, compress = null } = {}) {
  const server = http.createServer(createHandler({ root, csp, log, headers, faults, compress }));
  const sockets = new Set();
  let written = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => {
      written += s.bytesWritten;
      sockets.delete(s);
    });
  });
  const bytesWritten = () => {
    let n = written;
    for (const s of sockets) n += s.bytesWritten;
    return n;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      const shown = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
      resolve({
        server,
        faults,
        bytesWritten,
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

// "crossfind/model/encoder.bin" or "/crossfind/..." as the URL path the
// faults compare with.
const urlPath = (p) => '/' + p.replace(/^\/+/, '');

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = {
    root: path.join(here, '..', 'target', 'demo-site'),
    port: 8080,
    host: '127.0.0.1',
    csp: false,
    quiet: false,
    faults: { ignoreRange: false, singleRange: false, corrupt: [], failMidway: [] },
    compress: null,
  };
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
    else if (a === '--ignore-range') args.faults.ignoreRange = true;
    else if (a === '--single-range') args.faults.singleRange = true;
    else if (a === '--brotli') args.compress = { encoding: 'br', quality: 5 };
    else if (a === '--corrupt') args.faults.corrupt.push(urlPath(value()));
    else if (a === '--fail-midway') args.faults.failMidway.push(urlPath(value()));
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
    console.log(
      'usage: node www/serve.mjs [--root DIR] [--port N] [--host H] [--csp] [--quiet] [--brotli]\n' +
        '                          [--ignore-range] [--single-range] [--corrupt URL-PATH]... [--fail-midway URL-PATH]...',
    );
    process.exit(0);
  }
  const s = await startServer({ ...args, log: args.quiet ? null : (line) => console.error(line) });
  const f = args.faults;
  const faultNote = [
    args.compress && 'compressing with brotli',
    f.ignoreRange && 'ignoring Range',
    f.singleRange && 'one range a request',
    f.corrupt.length && `corrupting ${f.corrupt.join(', ')}`,
    f.failMidway.length && `cutting ${f.failMidway.join(', ')} midway`,
  ].filter(Boolean);
  console.log(
    `listening on ${s.displayUrl}${args.csp ? ' (strict CSP)' : ''}${faultNote.length ? ` (${faultNote.join('; ')})` : ''} serving ${path.resolve(args.root)}`,
  );
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
