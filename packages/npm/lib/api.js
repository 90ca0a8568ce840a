'use strict';
// The indexing API for code that holds its pages in memory (a static-site
// generator's plugin, a build script), instead of writing a site and running
// the CLI:
//
//   const { createIndex } = require('crossfind');
//   const index = createIndex();
//   index.addHTMLFile('en/reset-password/index.html', html); // as the site will serve it
//   const summary = await index.write('public/crossfind');    // bundle + widget
//
// or, for pages that are not HTML, records as the JSONL input takes them:
//
//   index.addRecord({ id: 'reset', lang: 'en', title: 'Reset your password',
//                     url: '/en/reset/', text: '## Steps {#steps}\nOpen Settings…' });
//
// write() runs the same native indexer on the pages, laid out as the CLI
// would read them (HTML files under their paths, or one JSONL file), so the
// bundle is the one `crossfind index` writes for the same input. It resolves
// to the CLI's `--json` summary (pages, chunks per language, bytes, …), and
// rejects with a CrossfindError (exitCode 2 for bad input, 1 otherwise)
// carrying the indexer's message.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { CrossfindError } = require('./errors');
const { nativeBinary } = require('./native');
const { defaultPack } = require('./model');
const { installWidget } = require('./widget');

const PKG = path.join(__dirname, '..');
const VERSION = require('../package.json').version;
const WIDGET = path.join(PKG, 'widget');
const QUIET = { quiet: true, tty: false, say: () => {} };

// A page's path inside the site: relative, '/'-separated, no '..', .html.
function sitePath(rel) {
  if (typeof rel !== 'string' || rel.trim() === '') throw new CrossfindError('addHTMLFile: the first argument is the page\'s path in the site, e.g. "en/reset/index.html"', 2);
  const parts = rel.replace(/\\/g, '/').replace(/^\/+/, '').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new CrossfindError(`addHTMLFile: ${JSON.stringify(rel)} leaves the site (..)`, 2);
  if (!/\.html?$/i.test(parts[parts.length - 1] || '')) throw new CrossfindError(`addHTMLFile: ${JSON.stringify(rel)} is not an .html file`, 2);
  return parts.join('/');
}

class Index {
  // options: model (a pack folder; default: the default pack, fetched once),
  // titleWeight, headingWeight (1–5), titleVectorWeight (0–0.5), cache (embedding cache folder, or false
  // for none), report (where the list of warnings goes; default: dropped).
  constructor(options = {}) {
    this.options = { ...options };
    this.html = new Map();
    this.records = [];
  }

  addHTMLFile(rel, html) {
    const p = sitePath(rel);
    if (typeof html !== 'string' && !Buffer.isBuffer(html)) throw new CrossfindError(`addHTMLFile ${p}: the page's HTML must be a string or a Buffer`, 2);
    this.html.set(p, html);
    return this;
  }

  addRecord(record) {
    if (record === null || typeof record !== 'object') throw new CrossfindError('addRecord: a record is an object {id, lang, title, url, text}', 2);
    for (const k of ['id', 'title', 'url', 'text']) {
      if (typeof record[k] !== 'string') throw new CrossfindError(`addRecord: record ${JSON.stringify(record.id ?? this.records.length + 1)} has no ${k} (a string)`, 2);
    }
    this.records.push(record);
    return this;
  }

  // Writes the bundle into `out` (and the widget beside it unless
  // {widget: false}); resolves to the indexer's --json summary.
  async write(out, { widget = true } = {}) {
    if (typeof out !== 'string' || out === '') throw new CrossfindError('write: give the bundle folder, e.g. write("public/crossfind")', 2);
    if (this.html.size && this.records.length) {
      throw new CrossfindError('write: this index holds both HTML files and records; one bundle is built from one kind of input, so use two indexes', 2);
    }
    if (!this.html.size && !this.records.length) throw new CrossfindError('write: nothing to index: add pages with addHTMLFile() or addRecord()', 2);
    const bin = nativeBinary();
    const o = this.options;
    const model = o.model ?? (await defaultPack(bin, VERSION, QUIET));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crossfind-api-'));
    try {
      let input;
      if (this.html.size) {
        input = path.join(tmp, 'site');
        for (const [rel, html] of this.html) {
          const file = path.join(input, ...rel.split('/'));
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, html);
        }
      } else {
        input = path.join(tmp, 'pages.jsonl');
        fs.writeFileSync(input, this.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      }
      const args = ['index', '--input', input, '--out', out, '--model', model, '--json', '--quiet', '--report', o.report ?? path.join(tmp, 'report.txt')];
      if (o.titleWeight !== undefined) args.push('--title-weight', String(o.titleWeight));
      if (o.headingWeight !== undefined) args.push('--heading-weight', String(o.headingWeight));
      if (o.titleVectorWeight !== undefined) args.push('--title-vector-weight', String(o.titleVectorWeight));
      if (o.cache === false) args.push('--no-cache');
      else if (typeof o.cache === 'string') args.push('--cache', o.cache);
      const { code, stdout, stderr } = await capture(bin, args);
      if (code !== 0) throw new CrossfindError(stderr.trim() || `crossfind index exited with ${code}`, code === 2 ? 2 : 1);
      const summary = JSON.parse(stdout);
      if (widget) installWidget(WIDGET, out);
      return summary;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

function capture(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('error', (e) => reject(new CrossfindError(`could not run ${bin}: ${e.message}`)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function createIndex(options) {
  return new Index(options);
}

module.exports = { createIndex, Index, CrossfindError };
