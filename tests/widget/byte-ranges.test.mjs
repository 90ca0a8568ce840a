// Several byte ranges in one request (www/src/byte-ranges.mjs), against the
// project's own static server (www/serve.mjs) answering as nginx or Apache
// do (multipart/byteranges) and as a host that serves one range a request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from '../../www/serve.mjs';
import {
  fetchRanges,
  asksSeveral,
  probeSeveral,
  parseMultipart,
  partsOf,
  cutFrom,
  parseContentRange,
  multipartBoundary,
  multipartAnswer,
  rangeHeader,
  rangeSet,
} from '../../www/src/byte-ranges.mjs';

const root = mkdtempSync(path.join(tmpdir(), 'crossfind-ranges-'));
// bytes that hold the boundary's dashes and CRLFs, so that a parser that
// looked for the next boundary instead of counting would cut a part short
const FILE = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 45 : i % 11 === 0 ? 13 : i % 13 === 0 ? 10 : i & 255)));
writeFileSync(path.join(root, 'rows.bin'), FILE);
writeFileSync(path.join(root, 'small.json'), '{"a": 1}');

const RANGES = [
  { start: 0, end: 10 },
  { start: 100, end: 388 },
  { start: 2000, end: 2001 },
  { start: 4990, end: 5000 },
];

async function withServer(faults, fn) {
  const log = [];
  const s = await startServer({ root, port: 0, faults, log: (l) => log.push(l) });
  try {
    return await fn(new URL('rows.bin', s.url).href, log);
  } finally {
    await s.close();
  }
}

test('a host that answers several ranges gives each its own bytes, in one request', async () => {
  await withServer({}, async (url, log) => {
    const got = await fetchRanges(url, RANGES, {}, (st) => new Error(`HTTP ${st}`));
    assert.equal(got.length, RANGES.length);
    RANGES.forEach((r, i) => assert.deepEqual(Buffer.from(got[i]), FILE.subarray(r.start, r.end), `range ${r.start}-${r.end}`));
    assert.equal(log.filter((l) => l.includes('rows.bin')).length, 1, log.join('\n'));
    assert.equal(asksSeveral(url), true);
  });
});

test('a host that answers one range a request is not read whole, and not asked for several again', async () => {
  await withServer({ singleRange: true }, async (url) => {
    // another origin (a new port) than the test above
    assert.equal(asksSeveral(url), true, 'not known yet');
    const got = await fetchRanges(url, RANGES, {}, (st) => new Error(`HTTP ${st}`));
    assert.equal(got, null);
    assert.equal(asksSeveral(url), false);
  });
});

test('a host is probed once, on a small file, before it is asked for several ranges of a large one', async () => {
  for (const [faults, answers] of [
    [{}, true],
    [{ singleRange: true }, false],
    [{ singleRange: 'refuse' }, false],
  ]) {
    await withServer(faults, async (url, log) => {
      const small = url.replace('rows.bin', 'small.json');
      assert.equal(await Promise.all([probeSeveral(small), probeSeveral(small)]).then(([a, b]) => a === b && a), answers);
      assert.equal(asksSeveral(url), answers);
      assert.equal(await probeSeveral(url), answers, 'known for the origin: not asked again');
      assert.deepEqual(
        log.map((l) => l.includes('small.json')),
        [true],
        log.join('\n'),
      );
    });
  }
});

test('a host that refuses several ranges (416, as Varnish) is asked one at a time, not failed', async () => {
  await withServer({ singleRange: 'refuse' }, async (url) => {
    const got = await fetchRanges(url, RANGES, {}, (st) => new Error(`HTTP ${st}`));
    assert.deepEqual(got, [null, null, null, null]);
    assert.equal(asksSeveral(url), false);
  });
});

test('an HTTP error is an error, not a missing range', async () => {
  await withServer({}, async (url) => {
    await assert.rejects(
      fetchRanges(url.replace('rows.bin', 'nothing.bin'), RANGES, {}, (st) => new Error(`HTTP ${st}`)),
      /HTTP 404/,
    );
  });
});

test('a 206 of one range that covers several serves each of them', () => {
  const body = new Uint8Array(FILE.subarray(100, 400));
  const parts = partsOf('application/octet-stream', 'bytes 100-399/5000', body);
  const got = cutFrom(parts, [
    { start: 100, end: 200 },
    { start: 300, end: 400 },
    { start: 390, end: 401 },
  ]);
  assert.deepEqual(Buffer.from(got[0]), FILE.subarray(100, 200));
  assert.deepEqual(Buffer.from(got[1]), FILE.subarray(300, 400));
  assert.equal(got[2], null, 'a range the answer holds only in part is not served');
  assert.throws(() => partsOf('application/octet-stream', 'bytes 100-399/5000', body.subarray(1)), /not its Content-Range/);
});

test('damaged multipart bodies are refused, not misread', () => {
  const enc = (s) => new TextEncoder().encode(s);
  const part = (range, bytes) => `\r\n--B\r\nContent-Type: x\r\nContent-Range: bytes ${range}\r\n\r\n${bytes}`;
  assert.deepEqual(
    parseMultipart(enc(part('0-2/10', 'abc') + part('5-6/10', 'fg') + '\r\n--B--\r\n'), 'B').map((p) => [p.start, p.end, new TextDecoder().decode(p.bytes)]),
    [
      [0, 3, 'abc'],
      [5, 7, 'fg'],
    ],
  );
  for (const [body, why] of [
    [part('0-2/10', 'abc'), /not followed by a boundary/],
    [part('0-99/100', 'abc') + '\r\n--B--\r\n', /cut short/],
    [part('0-1/10', 'abc') + '\r\n--B--\r\n', /not followed by a boundary/],
    [part('0-2/10', 'abc') + part('5-6/11', 'fg') + '\r\n--B--\r\n', /disagree/],
    [part('2-0/10', 'abc') + '\r\n--B--\r\n', /Content-Range/],
    [part('8-12/10', 'abcde') + '\r\n--B--\r\n', /Content-Range/],
    ['\r\n--B\r\nContent-Type: x\r\n\r\nabc\r\n--B--\r\n', /Content-Range/],
    ['no boundary here', /without its boundary/],
  ]) {
    assert.throws(() => parseMultipart(enc(body), 'B'), why, body);
  }
});

test('header values are read strictly', () => {
  assert.deepEqual(parseContentRange('bytes 0-9/10'), { start: 0, end: 10, size: 10 });
  assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, end: 10, size: null });
  for (const bad of ['bytes 0-10/10', 'bytes 9-0/10', 'items 0-9/10', 'bytes 0-9', '', null]) assert.equal(parseContentRange(bad), null, String(bad));
  assert.equal(multipartBoundary('multipart/byteranges; boundary=3d6b6a416f9b5'), '3d6b6a416f9b5');
  assert.equal(multipartBoundary('multipart/byteranges; charset=x; boundary="a b"'), 'a b');
  assert.equal(multipartBoundary('application/octet-stream'), null);
  assert.equal(rangeHeader(RANGES), 'bytes=0-9,100-387,2000-2000,4990-4999');
});

// A fixed sequence of numbers in [0, 1) (a linear congruential generator).
function numbers(seed) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

test('multipart answers read back exactly, and damaged ones are refused or read within their stated ranges', () => {
  const rnd = numbers(7);
  const int = (n) => Math.floor(rnd() * n);
  for (let round = 0; round < 300; round++) {
    const size = 1 + int(5000);
    const file = Uint8Array.from({ length: size }, () => int(256));
    const parts = [];
    for (let i = 0, at = 0; i < 1 + int(6) && at < size; i++) {
      const start = at + int(Math.max(1, (size - at) >> 2));
      if (start >= size) break;
      const end = Math.min(size - 1, start + int(400));
      parts.push({ start, end, bytes: file.subarray(start, end + 1) });
      at = end + 1;
    }
    if (!parts.length) continue;
    const { contentType, body } = multipartAnswer(parts, 'application/octet-stream', size);
    const read = partsOf(contentType, null, body);
    assert.deepEqual(
      read.map((p) => [p.start, p.end, Buffer.from(p.bytes).equals(Buffer.from(file.subarray(p.start, p.end)))]),
      parts.map((p) => [p.start, p.end + 1, true]),
    );
    // one damage: a byte changed, the body cut, or bytes added
    const damaged = new Uint8Array(body);
    const kind = int(3);
    let bad = damaged;
    if (kind === 0) damaged[int(damaged.length)] ^= 1 + int(255);
    else if (kind === 1) bad = damaged.subarray(0, int(damaged.length));
    else bad = Uint8Array.from([...damaged.subarray(0, int(damaged.length)), ...Array.from({ length: 1 + int(8) }, () => int(256)), ...damaged]);
    let got;
    try {
      got = partsOf(contentType, null, bad);
    } catch (e) {
      assert.ok(e instanceof Error && /multipart|Content-Range/.test(e.message), String(e));
      continue;
    }
    for (const p of got) {
      assert.ok(Number.isSafeInteger(p.start) && p.start < p.end && p.end <= size, JSON.stringify([p.start, p.end, size]));
      assert.equal(p.bytes.length, p.end - p.start);
    }
  }
});

test('range sets are read as servers read them', () => {
  assert.deepEqual(rangeSet('bytes=0-9, 20-, -5'), [
    { first: 0, last: 9 },
    { first: 20, last: null },
    { first: null, last: 5 },
  ]);
  for (const bad of ['bytes=9-0', 'bytes=', 'bytes=a-b', 'items=0-1', 'bytes=0-1,,2-3', 'bytes=-']) assert.equal(rangeSet(bad), null, bad);
});
