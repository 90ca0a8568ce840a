// Bytes on the wire before keyword search is ready and before the first
// semantic result, from a
// host that compresses nothing and from one that compresses everything with
// brotli (quality 11, window 2^24, as pre-compressed files; .gz files are
// sent as they are), in headless Chromium, cold, no service worker.
//
//   node benches/wire.mjs [--site DIR] [--label NAME] [--rounds N] [--out FILE]
//
// --site: a built demo site with its widget (default target/demo-site:
// scripts/demo.sh --no-serve). Run it on the site of another build (e.g. a
// checkout of main) with another --label to compare. Results are merged into
// --out (default bench-results/wire.json) under the label, with the git
// commit, the time and every request; the table of every label in the file
// is printed, and written as Markdown beside it (wire.md).
//
// Bytes are what the server wrote to its sockets (headers and bodies) from
// navigation until the milestone. Brotli bodies are cached by sha256 in
// .cache/bench/brotli-bodies (the first run compresses ~30 MB at quality 11:
// a few minutes).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../www/serve.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = { site: path.join(ROOT, 'target/demo-site'), label: 'current', rounds: 1, out: path.join(ROOT, 'bench-results/wire.json') };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--site') args.site = path.resolve(v());
  else if (a === '--label') args.label = v();
  else if (a === '--rounds') args.rounds = Number(v());
  else if (a === '--out') args.out = path.resolve(v());
  else {
    console.error(`wire.mjs: unknown argument ${a}`);
    process.exit(2);
  }
}

const HOSTS = {
  raw: null,
  brotli: { encoding: 'br', quality: 11, cacheDir: path.join(ROOT, '.cache/bench/brotli-bodies') },
};
// A Spanish question whose answer exists only in English.
const Q_SEMANTIC = 'descargar el registro de auditoría de quién hizo qué';
const MB = (n) => (n / 1e6).toFixed(2);

function git(...a) {
  try {
    return execFileSync('git', a, { cwd: args.site, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

async function visit(browser, host) {
  const lines = [];
  const server = await startServer({ root: args.site, port: 0, compress: HOSTS[host], log: (l) => lines.push(l) });
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const marks = {};
    const mark = (name) => (marks[name] = { bytes: server.bytesWritten(), ms: Date.now() - t0, requests: lines.length });
    const t0 = Date.now();
    await page.goto(`${server.url}es/index.html`);
    await page.evaluate(() => window.crossfind.ready());
    mark('ready');
    await page.evaluate(() => window.crossfind.semanticReady());
    const hits = await page.evaluate((q) => window.crossfind.search(q, { k: 5 }), Q_SEMANTIC);
    mark('first_semantic_result');
    if (!hits.length || hits[0].dense == null) throw new Error(`no semantic results on the ${host} host: ${JSON.stringify(hits[0])}`);
    return { host, marks, top: hits[0].url, requests: lines.slice(0, marks.first_semantic_result.requests) };
  } finally {
    await context.close();
    await server.close();
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic'] });
const runs = [];
try {
  for (const host of Object.keys(HOSTS)) {
    for (let r = 0; r < args.rounds; r++) {
      const v = await visit(browser, host);
      console.error(`${args.label} ${host} round ${r + 1}: ${MB(v.marks.first_semantic_result.bytes)} MB before the first semantic result`);
      runs.push(v);
    }
  }
} finally {
  await browser.close();
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = {};
for (const host of Object.keys(HOSTS)) {
  const mine = runs.filter((r) => r.host === host);
  summary[host] = {};
  for (const m of ['ready', 'first_semantic_result']) {
    summary[host][m] = { bytes: median(mine.map((r) => r.marks[m].bytes)), ms: median(mine.map((r) => r.marks[m].ms)) };
  }
}

const all = existsSync(args.out) ? JSON.parse(readFileSync(args.out, 'utf8')) : { runs: {} };
all.runs[args.label] = {
  site: path.relative(ROOT, args.site) || '.',
  git: git('rev-parse', '--short', 'HEAD'),
  time: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, node: process.version, load: os.loadavg() },
  rounds: args.rounds,
  summary,
  visits: runs,
};
mkdirSync(path.dirname(args.out), { recursive: true });
writeFileSync(args.out, JSON.stringify(all, null, 1) + '\n');

const rows = [
  '| build | host | ready (keyword search) MB | first semantic result MB | first semantic result s |',
  '|---|---|--:|--:|--:|',
];
for (const [label, run] of Object.entries(all.runs)) {
  for (const [host, s] of Object.entries(run.summary)) {
    rows.push(`| ${label} (${run.git ?? '?'}) | ${host} | ${MB(s.ready.bytes)} | ${MB(s.first_semantic_result.bytes)} | ${(s.first_semantic_result.ms / 1000).toFixed(2)} |`);
  }
}
const table = rows.join('\n') + '\n';
writeFileSync(args.out.replace(/\.json$/, '.md'), `Bytes the server wrote before each milestone, cold visit in headless Chromium (benches/wire.mjs)\n\n${table}`);
console.log(table);
