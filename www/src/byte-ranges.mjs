// Several byte ranges of one file in one HTTP request.
//
// A large bundle is read by byte range: a semantic query needs the rows of
// about 130 candidate pages, scattered over the vectors shard, and each
// range asked alone is a request of its own (about 4 ms apiece on the
// 2-core bench VM, whether HTTP/1.1 or HTTP/2: docs/large-sites.md). HTTP
// lets one request name many ranges (`Range: bytes=0-9,100-199`, RFC 9110
// §14.2) and the answer carry them as parts of a `multipart/byteranges`
// body (§14.6). nginx, Apache and Go's file server answer so; other hosts
// send the whole file (S3), one range, or refuse the request (416: Varnish,
// hence several CDNs).
// So the worker asks for many ranges at once, and takes from the answer
// whatever it holds: every part that covers a range asked for, or a
// single range (a server may merge neighbouring ranges) that covers some.
// A range the answer does not hold is asked for alone; an answer that is
// not 206 (the whole file) is not read at all, and the host is not asked
// for several ranges again. Before its first such request to a host, the
// worker asks it for two bytes of a small file (probeSeveral).
//
// The body is untrusted: a part is taken only whole, where its
// Content-Range says, and inside the file size the answer states; its
// bytes are then checked by the engine against the bundle's checksums as
// any range's are.

// Ranges named in one request, at most: Apache answers more than its
// MaxRanges (200 by default) with the whole file, and header lines longer
// than 8 kB are refused by nginx and Apache (200 ranges of a 10 MB file:
// about 3.4 kB). A query's candidate rows on the 5,040-page bench site
// are 74 to 109 ranges; one request for them is faster than two side by
// side (docs/large-sites.md, step 12). A host with a lower limit answers
// with the whole file, which the worker drops, asking range by range.
export const MAX_RANGES_PER_REQUEST = 200;

// The value of a Range header asking for `ranges` ([{start, end}], end
// exclusive).
export const rangeHeader = (ranges) => 'bytes=' + ranges.map((r) => `${r.start}-${r.end - 1}`).join(',');

// `Content-Range: bytes a-b/size` as {start, end (exclusive), size}
// (size null for `*`), or null.
export function parseContentRange(value) {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(String(value || ''));
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  const size = m[3] === '*' ? null : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return null;
  if (size !== null && (!Number.isSafeInteger(size) || end > size)) return null;
  return { start, end, size };
}

// The boundary of a `multipart/byteranges` Content-Type, or null.
export function multipartBoundary(contentType) {
  const m = /^\s*multipart\/byteranges\s*;(.*)$/i.exec(String(contentType || ''));
  if (!m) return null;
  const b = /(?:^|;)\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(m[1]);
  return b ? b[1] || b[2] : null;
}

const ascii = (bytes) => {
  let s = '';
  for (const x of bytes) s += String.fromCharCode(x);
  return s;
};

// Where `needle` (bytes) next occurs in `bytes` from `from`, or -1.
function indexOf(bytes, needle, from) {
  const first = needle[0];
  for (let i = bytes.indexOf(first, from); i !== -1 && i + needle.length <= bytes.length; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

const CRLF2 = [13, 10, 13, 10];

// The parts of a multipart/byteranges body: [{start, end, bytes}]. Each
// part's length is what its Content-Range says (not where the next
// boundary falls: the bytes are binary). Throws on a body that does not
// follow the format.
export function parseMultipart(body, boundary) {
  const delimiter = Array.from('--' + boundary, (c) => c.charCodeAt(0));
  const parts = [];
  let size = null;
  let at = indexOf(body, delimiter, 0);
  if (at < 0) throw new Error('multipart answer without its boundary');
  for (;;) {
    at += delimiter.length;
    if (body[at] === 45 && body[at + 1] === 45) return parts; // "--": the last one
    const headEnd = indexOf(body, CRLF2, at);
    if (headEnd < 0) throw new Error('multipart part without the end of its headers');
    const head = ascii(body.subarray(at, headEnd));
    const line = head.split('\r\n').find((l) => /^content-range\s*:/i.test(l));
    const range = line && parseContentRange(line.slice(line.indexOf(':') + 1));
    if (!range) throw new Error('multipart part without a valid Content-Range');
    if (size !== null && range.size !== size) throw new Error('multipart parts disagree on the file size');
    size = range.size;
    const start = headEnd + 4;
    const end = start + (range.end - range.start);
    if (end > body.length) throw new Error('multipart part cut short');
    parts.push({ start: range.start, end: range.end, bytes: body.subarray(start, end) });
    // the part's bytes end where the next boundary line begins
    if (body[end] !== 13 || body[end + 1] !== 10 || indexOf(body, delimiter, end + 2) !== end + 2) {
      throw new Error('multipart part not followed by a boundary');
    }
    at = end + 2;
  }
}

// The parts of a 206 answer (`contentType`, `contentRange`: its headers;
// `body`: bytes): one, or several of a multipart body.
export function partsOf(contentType, contentRange, body) {
  const boundary = multipartBoundary(contentType);
  if (boundary) return parseMultipart(body, boundary);
  const range = parseContentRange(contentRange);
  if (!range) throw new Error('a 206 answer without a valid Content-Range');
  if (body.length !== range.end - range.start) throw new Error('a 206 answer whose body is not its Content-Range');
  return [{ start: range.start, end: range.end, bytes: body }];
}

// An answer of several ranges: `parts` ([{start, end (inclusive), bytes}])
// of a file of `size` bytes ('*' when not known), each typed `type`, as a
// multipart/byteranges body: {contentType, body (Uint8Array)}.
export function multipartAnswer(parts, type, size) {
  const boundary = 'crossfind-' + Array.from({ length: 16 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
  const enc = new TextEncoder();
  const chunks = [];
  for (const p of parts) {
    chunks.push(enc.encode(`\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${p.start}-${p.end}/${size}\r\n\r\n`));
    chunks.push(p.bytes);
  }
  chunks.push(enc.encode(`\r\n--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return { contentType: `multipart/byteranges; boundary=${boundary}`, body };
}

// The ranges of a Range header value, [{first, last}] (byte offsets,
// inclusive; either null for a suffix or an open end), in the order named;
// null when it is not a byte-range set.
export function rangeSet(value) {
  const m = /^\s*bytes=(.+)$/.exec(String(value || ''));
  if (!m) return null;
  const out = [];
  for (const spec of m[1].split(',')) {
    const r = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
    if (!r || !(r[1] || r[2])) return null;
    const [first, last] = [r[1] ? Number(r[1]) : null, r[2] ? Number(r[2]) : null];
    if (first !== null && last !== null && last < first) return null;
    out.push({ first, last });
  }
  return out;
}

// For each of `ranges`, its bytes cut from the part of `parts` that holds
// it whole, or null.
export const cutFrom = (parts, ranges) =>
  ranges.map((r) => {
    const p = parts.find((x) => x.start <= r.start && r.end <= x.end);
    return p ? p.bytes.subarray(r.start - p.start, r.end - p.start) : null;
  });

// Whether each origin answers several ranges in one request: true once it
// has, false once it has not (then asked one range at a time).
const multiRange = new Map();

// Whether to ask `url`'s host for several ranges in one request.
export const asksSeveral = (url) => multiRange.get(new URL(url).origin) !== false;

const probes = new Map();

// Learns, once per origin, whether the host of `smallFile` answers several
// ranges in one request, by asking for two bytes of that file: a host that
// sends the whole file instead then costs that file, not one of the large
// files the ranges are for (its answer is dropped at its headers, but a
// fast link has delivered much of it by then). Resolves to the answer.
export function probeSeveral(smallFile) {
  const origin = new URL(smallFile).origin;
  if (multiRange.has(origin)) return Promise.resolve(multiRange.get(origin));
  if (!probes.has(origin)) {
    const two = [
      { start: 0, end: 1 },
      { start: 2, end: 3 },
    ];
    probes.set(
      origin,
      fetchRanges(smallFile, two, { cache: 'no-store' }, (status) => new Error(`HTTP ${status}`))
        .then((got) => !!got && got.every(Boolean))
        .catch(() => false)
        .then((ok) => {
          multiRange.set(origin, ok);
          return ok;
        }),
    );
  }
  return probes.get(origin);
}

// Fetches `ranges` of `url` ([{start, end}], end exclusive; sorted by
// start, not overlapping, at most MAX_RANGES_PER_REQUEST) in one request
// (`init`: more fetch options, e.g. cache). Resolves to each range's bytes
// (null where the answer did not hold it), or null when the host answered
// otherwise than with 206 (the body is then not read, and the host is not
// asked for several ranges again). Throws on a network failure or an
// HTTP error (`onError(status)` makes the error).
export async function fetchRanges(url, ranges, init, onError) {
  const origin = new URL(url).origin;
  const ctl = new AbortController();
  let res;
  try {
    res = await fetch(url, { ...init, headers: { Range: rangeHeader(ranges) }, signal: ctl.signal });
  } catch {
    // the network, or an offline copy that holds the ranges only one by
    // one: asked alone, each gets its own answer (or its own error)
    return ranges.map(() => null);
  }
  if (res.status === 416 && ranges.length > 1) {
    // Varnish (and CDNs built on it) refuses a request for several ranges
    ctl.abort();
    multiRange.set(origin, false);
    return ranges.map(() => null);
  }
  if (!res.ok) {
    ctl.abort();
    throw onError(res.status);
  }
  if (res.status !== 206) {
    ctl.abort(); // the whole file: not wanted here
    multiRange.set(origin, false);
    return null;
  }
  const body = new Uint8Array(await res.arrayBuffer());
  let parts;
  try {
    parts = partsOf(res.headers.get('content-type'), res.headers.get('content-range'), body);
  } catch {
    multiRange.set(origin, false);
    return ranges.map(() => null);
  }
  const cut = cutFrom(parts, ranges);
  if (parts.length > 1) multiRange.set(origin, true);
  else if (ranges.length > 1 && cut.filter(Boolean).length <= 1) multiRange.set(origin, false);
  return cut;
}
