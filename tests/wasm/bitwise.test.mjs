// The integer linear layers and our own float ops (src/model/qlinear.rs,
// src/model/detops.rs) make the encoder's arithmetic the same on every
// target: wasm embeddings must equal the native CLI's bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { PackLoader } = require(path.join(root, 'pkg/node/crossfind.js'));
const modelDir = path.join(root, 'models/e5-small');
const cli = path.join(root, 'target/release/crossfind');

function readNpy(p) {
  const b = readFileSync(p);
  const hlen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hlen).toString('latin1');
  const [n, d] = header.match(/'shape': \((\d+), (\d+)\)/).slice(1).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
}

test('wasm embeddings are bitwise equal to native ones', () => {
  const loader = new PackLoader(readFileSync(path.join(modelDir, 'pack.json'), 'utf8'));
  for (const name of [...loader.missing(), ...loader.rowShards()]) loader.add(name, readFileSync(path.join(modelDir, name)));
  const enc = loader.build();
  const rows = readFileSync(path.join(root, 'tests/fixtures/sentences.jsonl'), 'utf8')
    .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
    .filter((s) => !/[\n\r]/.test(s.text));
  for (const kind of ['query', 'passage']) {
    const part = rows.filter((s) => s.kind === kind);
    const dir = mkdtempSync(path.join(tmpdir(), 'cf-bits-'));
    writeFileSync(path.join(dir, 'in.txt'), part.map((s) => s.text).join('\n') + '\n');
    execFileSync(cli, ['embed', '--model', modelDir, '--kind', kind, '--input', path.join(dir, 'in.txt'), '--out', path.join(dir, 'out.npy')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const native = readNpy(path.join(dir, 'out.npy'));
    const differ = part.filter((s, i) => {
      const w = enc.embed(s.text, kind);
      return w.length !== native[i].length || w.some((x, j) => !Object.is(x, native[i][j]));
    }).map((s) => s.id);
    assert.deepEqual(differ, [], `${kind}: not bitwise equal`);
  }
});
