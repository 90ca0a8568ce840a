// Builds the browser widget (www/src) into www/dist:
//   crossfind.js   the entry the site loads (<script type="module">), an ES module
//   worker.js      the search worker (module worker, a file of its own)
//   sw.js          the opt-in service worker (classic script)
//   crossfind_bg.<hash>.wasm   the wasm runtime from pkg/web, copied as-is
//   crossfind.css, i18n/<lang>.json, widget.json (the list above with sha256s,
//   which sw.js keeps offline)
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
const WASM = path.join(ROOT, 'pkg', 'web', 'crossfind_bg.wasm');

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function wasmName() {
  if (!fs.existsSync(WASM)) {
    throw new Error(`${path.relative(ROOT, WASM)} is missing: run scripts/build-wasm.sh first`);
  }
  return `crossfind_bg.${sha256(fs.readFileSync(WASM)).slice(0, 12)}.wasm`;
}

// Copies the wasm, the stylesheet and the strings into the widget's output.
class WidgetAssets {
  constructor(wasmFile) {
    this.wasmFile = wasmFile;
  }

  apply(compiler) {
    const { RawSource } = compiler.webpack.sources;
    const { Compilation } = compiler.webpack;
    const css = path.join(SRC, 'crossfind.css');
    const i18n = path.join(SRC, 'i18n');
    compiler.hooks.thisCompilation.tap('WidgetAssets', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'WidgetAssets', stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, () => {
        compilation.fileDependencies.add(WASM);
        compilation.fileDependencies.add(css);
        compilation.contextDependencies.add(i18n);
        compilation.emitAsset(this.wasmFile, new RawSource(fs.readFileSync(WASM)));
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
class WidgetList {
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
          return { name, bytes: buf.length, sha256: sha256(buf) };
        });
      fs.writeFileSync(path.join(DIST, 'widget.json'), JSON.stringify({ format: 'crossfind-widget', version: 1, files: list }, null, 1) + '\n');
    });
  }
}

module.exports = (env, argv) => {
  const mode = argv.mode || 'production';
  const wasmFile = wasmName();
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
      plugins: [new webpack.DefinePlugin({ __CROSSFIND_WASM__: JSON.stringify(wasmFile) }), new WidgetAssets(wasmFile)],
    },
    {
      ...common,
      name: 'sw',
      dependencies: ['widget'],
      entry: { sw: path.join(SRC, 'sw.js') },
      target: 'webworker',
      output: { path: DIST, filename: '[name].js', iife: true, clean: false },
      // Built after the widget, so widget.json lists its final files.
      plugins: [new WidgetList()],
    },
  ];
};
