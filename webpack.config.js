// Builds the browser widget (www/src) into www/dist:
//   crossfind.js   the entry the site loads (<script type="module">), an ES module
//   worker.js      the search worker (module worker, a file of its own)
//   sw.js          the opt-in service worker (classic script)
//   crossfind_bg.<hash>.wasm           the wasm runtime from pkg/web, copied as-is
//   crossfind_relaxed_bg.<hash>.wasm   its relaxed-SIMD build (the worker loads
//                                      one of the two, see wasm-flavour.cjs)
//   <each wasm>.gz                     its gzip form: what the worker fetches from
//                                      a host that does not compress .wasm
//   crossfind.css, i18n/<lang>.json, widget.json (the list above with sha256s,
//   which sw.js keeps offline; the two wasm files are marked with their
//   flavour, so it keeps only the one its browser runs)
//
//   npx webpack --mode production      (npm run build:widget)
// Needs pkg/web from scripts/build-wasm.sh.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const webpack = require('webpack');

const ROOT = __dirname;
const SRC = path.join(ROOT, 'www', 'src');
const DIST = path.join(ROOT, 'www', 'dist');
// The wasm builds of scripts/build-wasm.sh, by flavour.
const WASM = {
  baseline: path.join(ROOT, 'pkg', 'web', 'crossfind_bg.wasm'),
  relaxed: path.join(ROOT, 'pkg', 'web', 'crossfind_relaxed_bg.wasm'),
};

const zlib = require('node:zlib');

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// The gzip form of a wasm build (level 9; Node writes no name or time, so
// the same build gives the same bytes). The rule of src/format/encoding.rs
// (worth_storing) applies: written only when it saves 5 % and 1 kB.
const gzipped = new Map();
function gzipOf(file) {
  if (!gzipped.has(file)) {
    const plain = fs.readFileSync(file);
    const gz = zlib.gzipSync(plain, { level: 9 });
    const saved = plain.length - gz.length;
    gzipped.set(file, saved >= 1024 && saved >= 0.05 * plain.length ? gz : null);
  }
  return gzipped.get(file);
}

// {flavour: name of its gzip form}, for the flavours that have one
function wasmGzNames(wasmFiles) {
  const out = {};
  for (const [flavour, name] of Object.entries(wasmFiles)) if (gzipOf(WASM[flavour])) out[flavour] = `${name}.gz`;
  return out;
}

// {flavour: content-hashed file name}
function wasmNames() {
  const out = {};
  for (const [flavour, file] of Object.entries(WASM)) {
    if (!fs.existsSync(file)) {
      throw new Error(`${path.relative(ROOT, file)} is missing: run scripts/build-wasm.sh first`);
    }
    out[flavour] = `${path.basename(file, '.wasm')}.${sha256(fs.readFileSync(file)).slice(0, 12)}.wasm`;
  }
  return out;
}

// Copies the wasm, the stylesheet and the strings into the widget's output.
class WidgetAssets {
  constructor(wasmFiles) {
    this.wasmFiles = wasmFiles;
  }

  apply(compiler) {
    const { RawSource } = compiler.webpack.sources;
    const { Compilation } = compiler.webpack;
    const css = path.join(SRC, 'crossfind.css');
    const i18n = path.join(SRC, 'i18n');
    compiler.hooks.thisCompilation.tap('WidgetAssets', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'WidgetAssets', stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, () => {
        for (const file of Object.values(WASM)) compilation.fileDependencies.add(file);
        compilation.fileDependencies.add(css);
        compilation.contextDependencies.add(i18n);
        for (const [flavour, name] of Object.entries(this.wasmFiles)) {
          compilation.emitAsset(name, new RawSource(fs.readFileSync(WASM[flavour])));
          const gz = gzipOf(WASM[flavour]);
          if (gz) compilation.emitAsset(`${name}.gz`, new RawSource(gz));
        }
        compilation.emitAsset('crossfind.css', new RawSource(fs.readFileSync(css)));
        for (const f of fs.readdirSync(i18n).filter((n) => n.endsWith('.json')).sort()) {
          const strings = JSON.parse(fs.readFileSync(path.join(i18n, f), 'utf8'));
          compilation.emitAsset(`i18n/${f}`, new RawSource(JSON.stringify(strings)));
        }
      });
    });
  }
}

// Once everything is written: widget.json, every file of the widget with its
// sha256 (what sw.js keeps for offline use; sw.js itself is the browser's job).
// The wasm files carry their flavour: a browser needs one of them. A wasm
// file with a gzip form names it (`gzip`), and the form says its encoding:
// the offline copy keeps the gzip form, which the worker fetches from it.
class WidgetList {
  constructor(wasmFiles) {
    this.flavourOf = new Map(Object.entries(wasmFiles).map(([flavour, name]) => [name, flavour]));
    for (const [flavour, gz] of Object.entries(wasmGzNames(wasmFiles))) this.flavourOf.set(gz, flavour);
    this.gzOf = new Map(Object.entries(wasmGzNames(wasmFiles)).map(([flavour, gz]) => [wasmFiles[flavour], gz]));
  }

  apply(compiler) {
    compiler.hooks.afterEmit.tap('WidgetList', () => {
      const files = [];
      const walk = (dir) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) walk(full);
          else files.push(path.relative(DIST, full).split(path.sep).join('/'));
        }
      };
      walk(DIST);
      const list = files
        .filter((n) => n !== 'widget.json' && n !== 'sw.js' && !n.endsWith('.LICENSE.txt'))
        .sort()
        .map((name) => {
          const buf = fs.readFileSync(path.join(DIST, name));
          const flavour = this.flavourOf.get(name);
          const gz = this.gzOf.get(name);
          return {
            name,
            bytes: buf.length,
            sha256: sha256(buf),
            ...(flavour ? { wasm: flavour } : {}),
            ...(gz ? { gzip: gz } : {}),
            ...(name.endsWith('.wasm.gz') ? { encoding: 'gzip' } : {}),
          };
        });
      fs.writeFileSync(path.join(DIST, 'widget.json'), JSON.stringify({ format: 'crossfind-widget', version: 1, files: list }, null, 1) + '\n');
    });
  }
}

module.exports = (env, argv) => {
  const mode = argv.mode || 'production';
  const wasmFiles = wasmNames();
  fs.rmSync(DIST, { recursive: true, force: true });
  const common = {
    mode,
    context: ROOT,
    devtool: false,
    performance: { hints: false },
    optimization: { splitChunks: false, runtimeChunk: false },
  };
  return [
    {
      ...common,
      name: 'widget',
      // The page's module and the worker, with import.meta.url kept as it is:
      // both find the bundle relative to where they are served from.
      entry: { crossfind: path.join(SRC, 'crossfind.js'), worker: path.join(SRC, 'worker.js') },
      experiments: { outputModule: true },
      output: { path: DIST, filename: '[name].js', module: true, chunkFormat: 'module', library: { type: 'module' }, clean: false },
      module: { parser: { javascript: { importMeta: false, url: false, worker: false, dynamicImportMode: 'eager' } } },
      plugins: [
        new webpack.DefinePlugin({
          __CROSSFIND_WASM__: JSON.stringify(wasmFiles.baseline),
          __CROSSFIND_WASM_RELAXED__: JSON.stringify(wasmFiles.relaxed),
          __CROSSFIND_WASM_GZ__: JSON.stringify(wasmGzNames(wasmFiles)),
        }),
        new WidgetAssets(wasmFiles),
      ],
    },
    {
      ...common,
      name: 'sw',
      dependencies: ['widget'],
      entry: { sw: path.join(SRC, 'sw.js') },
      target: 'webworker',
      output: { path: DIST, filename: '[name].js', iife: true, clean: false },
      // Built after the widget, so widget.json lists its final files.
      plugins: [new WidgetList(wasmFiles)],
    },
  ];
};
