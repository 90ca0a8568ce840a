// Updates reach readers: after the model pack changes on the host, the
// search worker does not use a file of the old pack from the HTTP cache,
// even where the host lets browsers keep model files for an hour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchedBrowser, serve, watchErrors, SITE, BUNDLE } from './harness.mjs';

const T = { timeout: 300000 };
const env = launchedBrowser();

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// The demo site as links, except model/pack.json and model/<file>: copies
// the test rewrites to publish another version of the pack.
function siteWithOwnModelFile(file) {
  const root = mkdtempSync(path.join(tmpdir(), 'cf-update-'));
  for (const n of readdirSync(SITE)) if (n !== 'crossfind') symlinkSync(path.join(SITE, n), path.join(root, n));
  mkdirSync(path.join(root, 'crossfind/model'), { recursive: true });
  for (const n of readdirSync(BUNDLE)) if (n !== 'model') symlinkSync(path.join(BUNDLE, n), path.join(root, 'crossfind', n));
  const model = path.join(BUNDLE, 'model');
  for (const n of readdirSync(model)) {
    if (n === 'pack.json' || n === file) copyFileSync(path.join(model, n), path.join(root, 'crossfind/model', n));
    else symlinkSync(path.join(model, n), path.join(root, 'crossfind/model', n));
  }
  return root;
}

// Publishes a version of the pack whose `file` has the given bytes (pack.json
// lists its size and sha256).
function publish(root, file, bytes) {
  const dir = path.join(root, 'crossfind/model');
  const pack = JSON.parse(readFileSync(path.join(BUNDLE, 'model/pack.json'), 'utf8'));
  const entry = pack.files.find((f) => f.name === file);
  entry.bytes = bytes.length;
  entry.sha256 = sha256(bytes);
  writeFileSync(path.join(dir, file), bytes);
  writeFileSync(path.join(dir, 'pack.json'), JSON.stringify(pack, null, 1));
}

test('after a model pack update the worker never uses a stale model file from the HTTP cache', T, async () => {
  // The block index (250 kB) is small enough for the browser's memory cache,
  // and derived: another version of it leaves the pack id as it is.
  const file = 'emb-blocks.bin';
  const real = readFileSync(path.join(BUNDLE, 'model', file));
  const old = Buffer.from(real);
  old[old.length >> 1] ^= 0x5a;
  const root = siteWithOwnModelFile(file);
  const seen = [];
  // A host that lets browsers keep model files for an hour.
  const server = await serve(root, {
    headers: (p) => (p.startsWith('/crossfind/model/') ? { 'Cache-Control': 'public, max-age=3600' } : null),
    log: (line) => seen.push(line),
  });
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  const model = () => seen.filter((l) => l.includes('/crossfind/model/') && !/emb-\d+\.bin/.test(l)).map((l) => l.split(' ').slice(1, 3).join(' '));
  try {
    // Version 1 of the pack, loaded once: its files are now in the HTTP cache.
    publish(root, file, old);
    const p1 = await context.newPage();
    await p1.goto(`${server.url}en/index.html`);
    await p1.evaluate(() => window.crossfind.semanticReady().catch(() => {}));
    assert.ok(model().includes(`/crossfind/model/${file} 200`), model().join('\n'));

    // Version 2 is published; a later visit gets it.
    publish(root, file, real);
    seen.length = 0;
    const p2 = await context.newPage();
    const errors = watchErrors(p2);
    await p2.goto(`${server.url}en/index.html`);
    const outcome = await p2.evaluate(() => window.crossfind.semanticReady().then(() => 'ready', (e) => `${e.code}: ${e.message}`));
    assert.equal(outcome, 'ready');
    const hits = await p2.evaluate(() => window.crossfind.search('how do I change my password', { k: 3 }));
    assert.ok(hits.length > 0 && typeof hits[0].dense === 'number', JSON.stringify(hits));
    // Every model file was checked with the host (the unchanged ones answer
    // 304 where the browser still has them), and the new one came in whole.
    const got = model();
    assert.ok(got.includes(`/crossfind/model/${file} 200`), got.join('\n'));
    // (encoder.bin and vocab.bin as their gzip forms, from this host that compresses nothing)
    for (const f of ['pack.json', 'encoder.bin.gz', 'vocab.bin.gz']) assert.ok(got.some((l) => l.startsWith(`/crossfind/model/${f} `)), `${f} revalidated: ${got.join(', ')}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
