// The search worker: owns the wasm Engine, so the page never blocks on
// loading or searching.
//
// Loading, in order, each step announced to the page:
//   wasm: the relaxed-SIMD build where the engine validates relaxed SIMD,
//     the baseline build elsewhere (wasm-flavour.cjs; {type:'init', wasm}
//     forces one: 'baseline' | 'relaxed' | 'auto')
//   manifest.json -> docs, lexical shards -> Engine  => {type:'ready', languages, filters, semantic, wasm}
//     (keyword search works; filters: the engine's {key: {value: pageCount}};
//     BundleLoader.buildKeywords: the vectors are not waited for)
//   lexical pieces (a large site's index in term-range pieces, bundle
//     format 4): fetched per query by byte range, those holding the
//     query's terms, before it is answered (ensureLexical), and kept in
//     Cache Storage for later visits (as the vector rows of a bundle with
//     sign codes: loadParts)
//   snippet text: fetched per query for the hits shown, before the
//     answer: their pages' snippet records by byte range (bundle format 7,
//     ensureSnippets, kept as lexical pieces are), or the fragment shards
//     holding them (older bundles, loadFragment)           => {type:'fragments'} at once
//   model pack and the vectors shard, side by side (only once asked:
//     {type:'semantic'})                                        => {type:'progress'} ... {type:'semantic-ready'}
//     (encoder, tokenizer and the block index; the word-embedding rows a
//     query needs are fetched per query, see ensureRows. The vectors serve
//     only semantic search, so a reader who searches by keywords alone
//     never downloads them, and one who asks for semantic search waits for
//     the model anyway: they come with it (loadVectors), counted in the
//     same progress, and 'semantic-ready' means both are in.)
// Files with a gzip form come as that form from hosts that do not compress
// (see "compressed files" below).
// Failures are {type:'problem', stage, code, file, message, fatal}; nothing is thrown
// out of the worker. A failure of the engine carries the engine's own `code`
// and `file` (src/wasm/contract.rs); the worker's own codes are for what
// only JS sees: 'missing_file' (HTTP 404), 'network' (any other fetch
// failure), 'error' (anything else thrown in JS).
//
// What the engine hands over is already the page's shape (camelCase plain
// objects: hits, languages, row ranges), passed on as it is.
//
// Searches: {type:'search', id, query, lang, k, mode, filter, latest}
//   -> {type:'results', id, hits, lowConfidence, confidence, queryLang, semantic, final}
// (filter: {key: [values]}, applied by the engine before ranking;
// lowConfidence: the engine's verdict, null for a keyword-only answer;
// confidence: {score, level, levelLang}, what it was judged on).
// With the model in, a search answers twice: lexical at once, then hybrid.
// Searches marked `latest` (the search box) supersede each other: only the
// newest one is answered.
//
// Several bundles ({type:'init', bundles: [{base, weight}]}, from the
// widget's `bundles` attribute; bundles.mjs): each is loaded as above into
// an engine of its own; 'ready' comes once every one has loaded or failed,
// with their languages and filters summed. The model is loaded once, from
// the first bundle with vectors, and shared by the engines of the others
// built with the same pack (Engine.shareEncoder); a bundle built with
// another pack is searched by keywords (a 'bundle' problem says so). A
// search asks every engine with the bundle's weight and merges the hits by
// their fused score; each hit carries `bundle` (the bundle's folder) and
// its links are resolved against its own site (bundles.mjs). A failure of
// one bundle is fatal only when no bundle loads.

import init, { BundleLoader, PackLoader } from '../../pkg/web/crossfind.js';
import { pickFlavour } from './wasm-flavour.cjs';
import { fileUrl, dirUrl, cacheMode } from './bundle-files.cjs';
import { resolveResultUrl } from './bundles.mjs';
import { partsCacheName, rowsCachePrefix } from './cache-names.mjs';
import { fetchRanges, asksSeveral, probeSeveral, MAX_RANGES_PER_REQUEST } from './byte-ranges.mjs';

// The two builds of the runtime, content-hashed by webpack.config.js; one JS
// glue serves both (scripts/build-wasm.sh checks that it is the same).
/* global __CROSSFIND_WASM__, __CROSSFIND_WASM_RELAXED__, __CROSSFIND_WASM_GZ__ */
const WASM_FILES = {
  baseline: typeof __CROSSFIND_WASM__ === 'string' ? __CROSSFIND_WASM__ : 'crossfind_bg.wasm',
  relaxed: typeof __CROSSFIND_WASM_RELAXED__ === 'string' ? __CROSSFIND_WASM_RELAXED__ : 'crossfind_relaxed_bg.wasm',
};
// Their gzip forms, by flavour ({} when webpack wrote none): see fetchWasm.
const WASM_GZ = typeof __CROSSFIND_WASM_GZ__ === 'object' && __CROSSFIND_WASM_GZ__ ? __CROSSFIND_WASM_GZ__ : {};
const MODEL_CONCURRENCY = 4;
const PROGRESS_EVERY_MS = 100;

let base = null; // URL of the widget's folder (…/crossfind/): the wasm, and the bundle by default
// The bundles searched: [{base: URL, weight, resolve, engine, modelBase}]
// (resolve: links resolved against the bundle's own site; only for bundles
// the page listed). `engine` is that of the first bundle with its vectors:
// the one whose model is loaded and whose encoder the others share.
let bundles = [];
let engine = null;
let languages = {};
let semanticWanted = false;
let semanticState = 'idle'; // idle | loading | ready | failed
let startedUp = null;
let packId = '';
let wasmRequested = 'auto';
let wasmFlavour = null; // the build that runs: 'baseline' | 'relaxed'

const post = (msg) => self.postMessage(msg);

// `file`: the file the failure is about, when the caller knows it better
// than the error (wasm errors carry their own, see src/wasm/contract.rs).
// `b`: the bundle it is about, when several are searched (its folder is
// then named in the message and given as `bundle`).
function problem(stage, err, fatal, file, b = null) {
  const code = (err && err.code) || (err && err.name === 'TypeError' ? 'network' : 'error');
  let message = String((err && err.message) || err);
  const bundle = b && bundles.length > 1 ? b.base.href : null;
  if (bundle) message = `${bundle}: ${message}`;
  post({ type: 'problem', stage, code, file: (err && err.file) || file || null, message, fatal, bundle });
}

class FetchError extends Error {
  constructor(url, status) {
    super(`${url} could not be fetched (HTTP ${status})`);
    this.code = status === 404 ? 'missing_file' : 'network';
  }
}

// Fetches a file as bytes, reporting every chunk read to `onBytes`.
// Content-hashed names may come from the HTTP cache; the others (the model
// pack's files) are revalidated, never taken stale (bundle-files.cjs).
// `signal`: an AbortSignal that stops it (no retry then).
async function fetchBytes(url, onBytes, signal) {
  let lastErr;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const res = await fetch(url, { cache: cacheMode(url), signal });
      if (!res.ok) throw new FetchError(url, res.status);
      if (!onBytes || !res.body) {
        const buf = new Uint8Array(await res.arrayBuffer());
        if (onBytes) onBytes(buf.byteLength);
        return buf;
      }
      const reader = res.body.getReader();
      const chunks = [];
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.byteLength;
        onBytes(value.byteLength);
      }
      const out = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      return out;
    } catch (e) {
      lastErr = e;
      if ((e instanceof FetchError && e.code === 'missing_file') || signal?.aborted) break;
    }
  }
  throw lastErr;
}

// ------------------------------------------------------- compressed files
//
// A pack or bundle file that compresses well is also stored gzip-compressed
// beside the plain one (`<name>.gz`, listed as `encoded` in the manifests:
// src/format/encoding.rs), and so are the wasm builds (webpack.config.js).
// Many static hosts send .bin and .wasm files as they are; from such a host
// the worker fetches the .gz and decodes it while it streams
// (DecompressionStream). A host that compresses the plain file itself
// (it answers a HEAD request for it with a Content-Encoding; asked once per
// origin and file extension) is asked for the plain file, which its brotli or gzip
// makes as small or smaller. The engine checks the content against the
// manifest's size and sha256 whichever way it came.

const canDecode = typeof DecompressionStream === 'function';
// 'https://host.example .bin' -> Promise<boolean>: per origin, as the
// bundles of one search box may each come from another host
const hostCompresses = new Map();

function compressedByHost(url) {
  const ext = url.pathname.slice(url.pathname.lastIndexOf('.'));
  const key = `${url.origin} ${ext}`;
  if (!hostCompresses.has(key)) {
    hostCompresses.set(
      key,
      fetch(url, { method: 'HEAD', cache: 'no-store' }).then(
        (r) => r.ok && !/^\s*(identity)?\s*$/i.test(r.headers.get('content-encoding') || ''),
        () => false,
      ),
    );
  }
  return hostCompresses.get(key);
}

// Whether to fetch the gzip form `enc` ({encoding, name, bytes,
// decodedBytes}, or undefined) of the file at `plain`.
async function wantsEncoded(enc, plain) {
  return !!enc && enc.encoding === 'gzip' && canDecode && !(await compressedByHost(plain));
}

function corruptEncoded(name, why) {
  return Object.assign(new Error(`corrupt file \`${name}\`: ${why}; copy the bundle folder again or re-run \`crossfind index\``), {
    code: 'corrupt_file',
    file: name,
  });
}

// The body of `res`, the gzip form `encName` of a file, as a stream of its
// content: decoded while it streams, or passed on as it is when it has no
// gzip header (a host that sent a .gz file with Content-Encoding: gzip, so
// that the browser decoded it already). Errors of the network keep their
// kind; errors of the decoder become 'corrupt_file' naming the .gz file.
async function decodedStream(res, encName) {
  const src = res.body.getReader();
  const first = await src.read();
  const head = first.value || new Uint8Array(0);
  const gzip = head.byteLength >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  let pending = first.done ? null : head;
  let network = null;
  const body = new ReadableStream({
    async pull(c) {
      if (pending) {
        c.enqueue(pending);
        pending = null;
        return;
      }
      try {
        const r = await src.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      } catch (e) {
        network = e;
        c.error(e);
      }
    },
    cancel: (why) => src.cancel(why),
  });
  const out = gzip ? body.pipeThrough(new DecompressionStream('gzip')) : body;
  const why = (e) => network || (e && e.code ? e : corruptEncoded(encName, `is not valid gzip data (${(e && e.message) || e})`));
  return { stream: out, gzip, why };
}

// The content of file `enc` decodes to, fetched from `url` (its .gz),
// reporting decoded bytes to `onBytes`. Data that decodes to more bytes
// than the content has is stopped there.
async function fetchDecoded(url, enc, onBytes, signal) {
  const res = await fetch(url, { cache: cacheMode(url), signal });
  if (!res.ok) throw new FetchError(url, res.status);
  const { stream, gzip, why } = await decodedStream(res, enc.name);
  const out = new Uint8Array(enc.decodedBytes);
  let at = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.byteLength > out.byteLength) {
        reader.cancel().catch(() => {});
        throw corruptEncoded(enc.name, `decodes to more than ${out.byteLength} bytes, the manifest says ${out.byteLength}`);
      }
      out.set(value, at);
      at += value.byteLength;
      if (onBytes) onBytes(value.byteLength);
    }
  } catch (e) {
    throw why(e);
  }
  if (at !== out.byteLength) {
    throw corruptEncoded(enc.name, gzip ? `decodes to ${at} bytes, the manifest says ${out.byteLength}` : 'is not gzip data (no gzip header)');
  }
  return out;
}

// The content of the listed file `name` of the folder `folder` (`enc`: its
// gzip form, if any; `listedIn`: the manifest naming it; `signal`: an
// AbortSignal that stops the download).
async function fetchListed(name, folder, listedIn, enc, onBytes, signal) {
  const plain = fileUrl(name, folder, listedIn);
  if (await wantsEncoded(enc, plain)) {
    const url = fileUrl(enc.name, folder, listedIn);
    let retried = false;
    for (;;) {
      try {
        return await fetchDecoded(url, enc, onBytes, signal);
      } catch (e) {
        // a host that has only the plain files (copied without the .gz): those
        if (e instanceof FetchError && e.code === 'missing_file') break;
        // one more try after a network failure, as fetchBytes does
        if (retried || e.code === 'corrupt_file' || e instanceof FetchError || signal?.aborted) throw e;
        retried = true;
      }
    }
  }
  return fetchBytes(plain, onBytes, signal);
}

async function fetchText(url) {
  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new FetchError(url, res.status);
  return res.text();
}

// Instantiates the chosen build. A relaxed build chosen automatically that
// fails to load (a host that did not upload it, an engine whose validate()
// and compiler disagree) falls back to the baseline; a forced one does not.
async function loadWasm() {
  let flavour;
  try {
    flavour = pickFlavour(wasmRequested);
  } catch (e) {
    problem('index', e, true);
    return false;
  }
  const forced = wasmRequested && wasmRequested !== 'auto';
  const tries = flavour === 'relaxed' && !forced ? ['relaxed', 'baseline'] : [flavour];
  for (const [i, f] of tries.entries()) {
    let wasm = null;
    try {
      wasm = await fetchWasm(f);
      await init({ module_or_path: wasm.source });
      wasmFlavour = f;
      return true;
    } catch (thrown) {
      const e = (wasm && wasm.failure()) || thrown;
      if (i + 1 === tries.length) {
        problem('index', e, true, e.file || WASM_FILES[f]);
        return false;
      }
      console.warn(`crossfind: the relaxed-SIMD wasm did not load (${(e && e.message) || e}); using the baseline build`);
    }
  }
  return false;
}

// What to hand wasm-bindgen's init for build `flavour`: from a host that
// does not compress .wasm, a Response streaming its gzip form decoded (so
// compiling starts while it downloads); else, or when the gzip form is
// missing, the plain file's URL. `failure()` is the decoding error, if the
// stream failed: WebAssembly reports it only as a failed compile.
async function fetchWasm(flavour) {
  const plain = new URL(WASM_FILES[flavour], base);
  const gz = WASM_GZ[flavour];
  const none = { source: plain, failure: () => null };
  if (!(await wantsEncoded(gz && { encoding: 'gzip', name: gz }, plain))) return none;
  const url = new URL(gz, base);
  const res = await fetch(url, { cache: cacheMode(url) });
  if (res.status === 404) return none;
  if (!res.ok) throw Object.assign(new FetchError(url, res.status), { file: gz });
  const { stream, why } = await decodedStream(res, gz);
  let failed = null;
  const reader = stream.getReader();
  const body = new ReadableStream({
    async pull(c) {
      try {
        const r = await reader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      } catch (e) {
        failed = why(e);
        c.error(failed);
      }
    },
    cancel: (r) => reader.cancel(r),
  });
  return { source: new Response(body, { headers: { 'Content-Type': 'application/wasm' } }), failure: () => failed };
}

// Loads one bundle's engine (b.engine), or reports why not (`fatal`: when
// it is the only bundle). Returns its fragment shards ({name, encoded}: the
// gzip form, if any), to fetch once every bundle is ready.
async function loadBundle(b, fatal) {
  const base = b.base;
  // with several bundles, what goes wrong with one is that bundle's problem
  // (stage 'bundle'), not the whole search's, unless none loads
  const report = (stage, err, isFatal, file) => problem(bundles.length > 1 && !isFatal ? 'bundle' : stage, err, isFatal, file, b);
  // the parts of its shards kept from earlier visits (loadParts)
  b.kept = openCache(partsCacheName(base));
  const keptKeys = b.kept.then((c) => c && c.keys()).catch(() => null);
  let loader;
  try {
    loader = new BundleLoader(await fetchText(new URL('manifest.json', base)));
  } catch (e) {
    report('index', e, fatal, 'manifest.json');
    return [];
  }
  const fragments = loader.fragments();
  // their gzip forms, read before build() consumes the loader
  const encodings = fragments.map((name) => loader.encodedAs(name));
  const modelDir = loader.modelDir();
  b.packId = loader.packId();
  // Keyword search needs the docs and lexical shards; the vectors come
  // with the model (loadVectors).
  const vectors = loader.vectors();
  b.vectors = { name: vectors, bytes: loader.shardBytes(vectors) || 0, encoded: loader.encodedAs(vectors) };
  const required = loader.required().filter((name) => name !== vectors);
  // Every name the manifest gives must be a plain name inside the bundle
  // folder (bundle-files.cjs): a manifest that points elsewhere is refused whole.
  let modelBase;
  try {
    for (const name of required.concat(fragments, [vectors])) fileUrl(name, base, 'manifest.json');
    modelBase = dirUrl(modelDir, base, 'manifest.json');
  } catch (e) {
    report('index', e, fatal, 'manifest.json');
    return [];
  }
  const got = await Promise.allSettled(required.map((name) => fetchListed(name, base, 'manifest.json', loader.encodedAs(name))));
  const broken = [];
  got.forEach((r, i) => {
    const name = required[i];
    if (r.status === 'rejected') {
      broken.push({ name, err: r.reason });
      return;
    }
    try {
      loader.add(name, r.value);
    } catch (e) {
      broken.push({ name, err: e });
    }
  });
  if (broken.length) {
    const { name, err } = broken[0];
    report('index', err, fatal, name);
    return [];
  }
  // parts kept from shards this manifest no longer lists (the site was
  // indexed again) go; asked of the loader before build consumes it
  const keys = (await keptKeys) || [];
  const stale = staleParts(keys, b, (name) => loader.shardKind(name) !== undefined);
  dropStaleParts(b, stale);
  // what this bundle's cache holds, so that a query looks up only those
  // (on a first visit, none of its 300 blocks): the keys listed now and
  // those this worker keeps. A part another tab keeps meanwhile is
  // fetched again.
  b.keptUrls = new Set(keys.filter((k) => !stale.includes(k)).map((k) => k.url));
  try {
    b.engine = loader.buildKeywords();
  } catch (e) {
    report('index', e, fatal);
    return [];
  }
  b.modelBase = modelBase;
  return fragments.map((name, i) => ({ name, encoded: encodings[i] }));
}

// Snippet text is fetched per query: only the fragment shards holding the
// chunks of the hits shown (b.fragments: {name, encoded} as loadBundle
// returns them; b.fragLoads: index -> a promise, settled once the shard is
// in or has failed). A damaged shard only costs the snippets it holds, and
// is not asked for again.
function loadFragment(b, i) {
  let p = b.fragLoads.get(i);
  if (!p) {
    const f = b.fragments[i];
    p = fetchListed(f.name, b.base, 'manifest.json', f.encoded)
      .then((bytes) => b.engine.addFragments(i, bytes))
      .catch((e) => problem('fragments', e, false, f.name, b));
    b.fragLoads.set(i, p);
  }
  return p;
}

// The chunks of these hits and their sections.
const chunksOf = (hits) => hits.flatMap((h) => [h.chunk, ...(Array.isArray(h.sections) ? h.sections.map((s) => s.chunk) : [])]).filter((c) => typeof c === 'number');

// The fragment shards of these hits (and their sections) not asked for yet.
function missingFragments(b, hits) {
  const want = new Set();
  for (const c of chunksOf(hits)) {
    const i = b.engine.fragmentOf(c);
    if (i !== undefined && i < b.fragments.length && !b.fragLoads.has(i)) want.add(i);
  }
  return [...want];
}

// Snippet records (bundle format 7): the engine names the byte ranges of
// the records (one a page) holding the text of these hits
// (Engine.snippetRanges), fetched as lexical pieces are: several in one
// request where the host answers so, kept in Cache Storage for the next
// visit (loadParts). A record that does not inflate, fails its checksum or
// holds another page (addSnippetRecord) costs only its page's snippet,
// and is not asked for again (b.badRecords); a whole file from a host that
// ignores Range is checked against the manifest (addSnippetsFile).
// b.snippetLoads: record -> a promise while it is on its way.
function snippetSource(b, hits) {
  const chunks = chunksOf(hits);
  return {
    kind: 'snippet',
    list: () => b.engine.snippetRanges(chunks).filter((r) => !b.badRecords.has(r.record)),
    loads: b.snippetLoads,
    loadKey: (r) => r.record,
    parts: (r) => [{ index: r.record, start: r.start, end: r.end }],
    add: (record, bytes) => {
      try {
        b.engine.addSnippetRecord(record, bytes);
      } catch (e) {
        b.badRecords.add(record);
        throw e;
      }
    },
    whole: (r, bytes) => b.engine.addSnippetsFile(r.file, bytes),
  };
}

// Brings in the snippet records `s` (snippetSource) names; what fails is
// reported (stage 'fragments') and costs only those snippets.
async function ensureSnippets(b, s) {
  try {
    await loadParts(b, s);
  } catch (e) {
    problem('fragments', e, false, e.file || null, b);
  }
}

// A lexical index in term-range pieces (bundle format 4): before a query
// is answered, the engine names the byte ranges of the pieces holding its
// terms (Engine.lexicalRanges, after its own term analysis), the worker
// fetches them with HTTP Range and hands them over (addLexicalPiece checks
// each against the sha256 its head lists). A host that ignores Range sends
// the whole file (200): it is checked against the manifest and all its
// pieces come in (addLexicalFile); until a host is seen to answer a range,
// the first piece is asked alone, so such a host sends each file once.
// Each piece is kept in Cache Storage for the next visit (loadParts).
// b.pieceLoads: piece -> a promise while it is on its way.
// The engine names the pieces of the query's terms first and, once those
// are in, the pieces a word the site lacks may be respelt from (its
// two-letter prefix's, which small pieces spread over several), so it is
// asked again until it names none (at most LEXICAL_ROUNDS times: a piece
// that fails is reported by the round that fetched it). Searching before
// the second round would respell with rows the query did not fetch.
const LEXICAL_ROUNDS = 3;
async function ensureLexical(b, query) {
  const source = {
    kind: 'piece',
    list: () => b.engine.lexicalRanges(query),
    loads: b.pieceLoads,
    loadKey: (r) => r.piece,
    parts: (r) => [{ index: r.piece, start: r.start, end: r.end }],
    add: (piece, bytes) => b.engine.addLexicalPiece(piece, bytes),
    whole: (r, bytes) => b.engine.addLexicalFile(r.file, bytes),
  };
  for (let round = 0; round < LEXICAL_ROUNDS && source.list().length; round++) await loadParts(b, source);
}

// A bundle whose dense first stage is in sign codes (bundle format 5):
// loadVectors brought the codes in with the model; before a semantic query
// is answered the engine runs the first stage and names the byte ranges of
// the vectors shard holding its candidate pages' rows (Engine.denseRanges,
// one block a page, consecutive blocks in one range, `blockEnds` where each
// ends), which are fetched as the lexical pieces are (addVectorRows checks
// every block against the sums the codes list; a whole file,
// addVectorsFile, against the manifest), each block kept in Cache Storage
// for the next visit.
// b.rowLoads: range -> a promise while it is on its way.
function ensureDenseRows(b, query, opts) {
  return loadParts(b, {
    kind: 'block',
    list: () => b.engine.denseRanges(query, opts),
    loads: b.rowLoads,
    loadKey: (r) => `${r.block}-${r.end}`,
    parts: denseBlocks,
    add: (block, bytes) => b.engine.addVectorRows(block, bytes),
    whole: (r, bytes) => b.engine.addVectorsFile(bytes),
  });
}

// The blocks of a range Engine.denseRanges names, [{index, start, end}]
// (absolute byte offsets), cut at its `blockEnds`.
const denseBlocks = (r) => r.blockEnds.map((end, i) => ({ index: r.block + i, start: i ? r.blockEnds[i - 1] : r.start, end }));

// Bundle parts (lexical pieces, vector-row blocks, snippet records) are kept in a cache per
// bundle, `crossfind-parts:<bundle folder URL>`, keyed by the shard's URL
// and the part's index (partKey), shard names being content-hashed.
// Bounded twice: parts of shards the bundle's manifest no longer lists are
// dropped when it loads (dropStaleParts), and at most KEPT_PARTS of each
// kind are kept, the oldest dropped first (trimKept). A piece is about
// 24 kB (the indexer's --lexical-pieces) and a query needs about five:
// 400 keep the pieces of 80 queries with no term in common (more, as
// queries share terms) in about 10 MB. A block is one page's rows, about
// 2 kB (4.5 sections of 388 bytes), and a cold semantic query needs about
// 150 (311 kB of rows, docs/large-sites.md "A block a page"): 4,000 keep
// some 25 such queries' candidates (more, as they overlap) in about 8 MB.
// A snippet record is one page's text, about 1 kB, five to ten a query:
// 2,000 keep 200 or more queries' snippets in about 2 MB.
// Together under the 24 MB of the model's rows a Latin-script site keeps,
// which serve every query.
const KEPT_PARTS = { piece: 400, block: 4000, snippet: 2000 };

// The part keys `keys` (Requests) whose shard bundle b's manifest does
// not list (`listed(name)` false).
function staleParts(keys, b, listed) {
  return (keys || []).filter((k) => {
    const u = new URL(k.url);
    const inFolder = u.origin === b.base.origin && u.pathname.startsWith(b.base.pathname);
    return !inFolder || !listed(u.pathname.slice(b.base.pathname.length));
  });
}

async function dropStaleParts(b, stale) {
  const cache = await b.kept;
  if (cache) await Promise.all(stale.map((k) => cache.delete(k))).catch(() => {});
}

// Drops the oldest parts of each kind beyond KEPT_PARTS (Cache Storage
// lists entries in the order they were put). One trim at a time per
// bundle; parts put while one runs are counted by the next.
function trimKept(b, cache) {
  if (!cache || b.trimming) return;
  b.trimming = (async () => {
    const keys = await cache.keys();
    for (const [kind, cap] of Object.entries(KEPT_PARTS)) {
      const mine = keys.filter((k) => k.url.includes(`?crossfind-${kind}=`));
      const old = mine.slice(0, Math.max(0, mine.length - cap));
      for (const k of old) b.keptUrls?.delete(k.url);
      await Promise.all(old.map((k) => cache.delete(k)));
    }
  })()
    .catch(() => {})
    .finally(() => {
      b.trimming = null;
    });
}

// The parts of range `r` ({file, start, end, …}) as `s.parts` cuts it,
// each with its key in Cache Storage.
function keyedParts(b, s, r) {
  const url = fileUrl(r.file, b.base, 'manifest.json');
  return s.parts(r).map((p) => ({ ...p, key: partKey(url, s.kind, p.index) }));
}

// Brings the parts of `ranges` kept in `cache` into b's engine (`s.add`
// checks each; a damaged copy is deleted). Whether any came in.
async function partsFromCache(b, s, ranges, cache) {
  if (!cache) return false;
  const parts = ranges.flatMap((r) => keyedParts(b, s, r)).filter((p) => !b.keptUrls || b.keptUrls.has(p.key));
  if (!parts.length) return false;
  const hits = await keptCopies(cache, parts.map((p) => p.key));
  let any = false;
  for (const [i, p] of parts.entries()) {
    if (hits[i] && (await addKept(cache, p.key, hits[i], (bytes) => s.add(p.index, bytes)))) any = true;
  }
  return any;
}

// Brings the ranges `s.list()` names into b's engine: first the parts kept
// in Cache Storage (asked again while that brings some in: the engine may
// then name more, as the pieces of a respelt word's neighbours), then the
// rest by HTTP Range: all at once where the host is known to answer
// ranges, else the first alone, then what is still missing (a host that
// sent a whole file has sent them all). "All at once" is one request a
// file (byte-ranges.mjs) where the host answers several ranges together,
// else one a range.
// `s`: the kind of part ({kind, list, loads, loadKey, parts, add, whole}:
// ensureLexical, ensureDenseRows).
async function loadParts(b, s) {
  let ranges = s.list();
  if (!ranges.length) return;
  const cache = await b.kept;
  const fromCache = async () => {
    while (ranges.length && (await partsFromCache(b, s, ranges, cache))) ranges = s.list();
  };
  await fromCache();
  const load = (r, listed) => once(s.loads, s.loadKey(r), () => fetchRange(b, s, r, listed, cache));
  if (ranges.length && b.rangesHonoured !== true) {
    await load(ranges[0], ranges);
    // what that part brings in may make the engine name parts kept already
    ranges = s.list();
    await fromCache();
  }
  if (ranges.length > 1) await probeSeveral(new URL('manifest.json', b.base));
  const onTheirWay = ranges.filter((r) => s.loads.has(s.loadKey(r)));
  const loads = onTheirWay.map((r) => load(r, ranges));
  for (const group of requestGroups(ranges.filter((r) => !onTheirWay.includes(r)), (r) => fileUrl(r.file, b.base, 'manifest.json'))) {
    if (group.length === 1) loads.push(load(group[0], ranges));
    else loads.push(...loadSeveral(b, s, group, cache));
  }
  await Promise.all(loads);
}

// `ranges` cut into the groups asked for in one request each: those of one
// file (`urlOf(range)`) whose host answers several ranges at once, sorted
// by where they start, in as few groups of at most MAX_RANGES_PER_REQUEST
// as they fit, evenly (the groups go side by side); the others alone.
function requestGroups(ranges, urlOf) {
  const byUrl = new Map();
  const groups = [];
  for (const r of ranges) {
    const url = urlOf(r).href;
    if (!asksSeveral(url)) groups.push([r]);
    else byUrl.set(url, [...(byUrl.get(url) || []), r]);
  }
  for (const rs of byUrl.values()) {
    rs.sort((x, y) => x.start - y.start);
    const size = Math.ceil(rs.length / Math.ceil(rs.length / MAX_RANGES_PER_REQUEST));
    for (let i = 0; i < rs.length; i += size) groups.push(rs.slice(i, i + size));
  }
  return groups;
}

// Fetches the ranges of `group` (one file) in one request and hands each
// to b's engine as fetchRange does; a range the answer does not hold is
// then fetched alone. One promise a range, each registered in `s.loads`
// while it is on its way.
function loadSeveral(b, s, group, cache) {
  const file = group[0].file;
  const url = fileUrl(file, b.base, 'manifest.json');
  const asked = fetchRanges(url, group, { cache: 'no-store' }, (status) => Object.assign(new FetchError(url.href, status), { file })).then((got) => {
    group.forEach((r, i) => got && got[i] && addRange(b, s, r, got[i], cache));
    return got;
  });
  return group.map((r, i) =>
    once(s.loads, s.loadKey(r), () =>
      asked.then((got) => {
        if (!got || !got[i]) return fetchRange(b, s, r, [r], cache);
      }),
    ),
  );
}

// One fetch for `key` at a time: while one is on its way (in `loads`),
// asking again waits for it.
function once(loads, key, start) {
  let p = loads.get(key);
  if (!p) {
    p = start().finally(() => loads.delete(key));
    loads.set(key, p);
  }
  return p;
}

// Bytes r.start..r.end of the bundle file r.file, handed to `s.add` (from
// the range's first part on), or, from a host that ignores Range, the
// whole file to `s.whole`; then its parts are kept in `cache` (from a
// whole file, those of every range in `listed` of that file). Not through
// the HTTP cache: Chromium answered a range it had fetched on an earlier
// page with a cut body (3,723 of 17,290 bytes; the crosslingual browser
// test), which the engine then refused. The offline copy (sw.js) still
// answers these requests from its whole file.
async function fetchRange(b, s, r, listed, cache) {
  const url = fileUrl(r.file, b.base, 'manifest.json');
  const res = await fetch(url, { headers: { Range: `bytes=${r.start}-${r.end - 1}` }, cache: 'no-store' });
  if (!res.ok) throw Object.assign(new FetchError(url.href, res.status), { file: r.file });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status === 206) {
    b.rangesHonoured = true;
    addRange(b, s, r, bytes, cache);
  } else {
    b.rangesHonoured = false;
    s.whole(r, bytes);
    keepKeyed(b, cache, cutParts(listed.filter((x) => x.file === r.file).flatMap((x) => keyedParts(b, s, x)), bytes, 0));
  }
}

// Hands range `r`'s bytes to b's engine (from its first part on) and keeps
// its parts.
function addRange(b, s, r, bytes, cache) {
  const parts = cutParts(keyedParts(b, s, r), bytes, r.start);
  s.add(parts[0][0].index, bytes);
  keepKeyed(b, cache, parts);
}

// Keeps `parts` ([[{key, …}, bytes]], keyedParts cut) in b's cache, trimmed
// once written, and remembers that the cache holds them.
function keepKeyed(b, cache, parts) {
  keepParts(
    cache,
    parts.map(([p, part]) => [p.key, part]),
    b,
  );
  for (const [p] of parts) b.keptUrls?.add(p.key);
}

// {<lang>: {pages, chunks}} or {<key>: {<value>: pages}} of every bundle, summed.
function summed(parts) {
  const out = {};
  for (const part of parts) {
    for (const [k, inner] of Object.entries(part || {})) {
      if (!Object.hasOwn(out, k)) Object.defineProperty(out, k, { value: {}, enumerable: true, writable: true, configurable: true });
      for (const [j, n] of Object.entries(inner || {})) {
        const v = (Object.hasOwn(out[k], j) ? out[k][j] : 0) + n;
        Object.defineProperty(out[k], j, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
  }
  return out;
}

async function startup() {
  if (!(await loadWasm())) return;
  const only = bundles.length === 1;
  const fragments = await Promise.all(bundles.map((b) => loadBundle(b, only)));
  const loaded = bundles.filter((b) => b.engine);
  if (!loaded.length) {
    if (!only) problem('index', new Error('none of the bundles could be loaded'), true);
    return;
  }
  // the model comes with the first bundle (its vectors with the model: loadModel)
  const primary = loaded.find((b) => !b.lexicalOnly) || loaded[0];
  engine = primary.engine;
  packId = primary.packId;
  if (primary.lexicalOnly) semanticState = 'failed';
  const safely = (f) => {
    try {
      return f() || {};
    } catch {
      return {};
    }
  };
  languages = summed(loaded.map((b) => safely(() => b.engine.languages()))); // {<lang>: {pages, chunks}}
  const filters = summed(loaded.map((b) => safely(() => b.engine.filters()))); // {<key>: {<value>: pages}}
  post({ type: 'ready', languages, filters, semantic: semanticState === 'failed' ? 'unavailable' : 'available', wasm: wasmFlavour });

  // snippets come with the queries that show them (loadFragment)
  bundles.forEach((b, i) => {
    b.fragments = fragments[i];
    b.fragLoads = new Map();
    b.snippetLoads = new Map();
    b.badRecords = new Set();
    b.pieceLoads = new Map();
    b.rowLoads = new Map();
  });
  post({ type: 'fragments' });

  self.modelBase = primary.modelBase;
  if (semanticWanted) loadModel();
}

// WebCrypto exists in secure contexts only (https, localhost).
const subtle = self.crypto && self.crypto.subtle;
const sha256Hex = async (bytes) =>
  Array.from(new Uint8Array(await subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');

// Fetches bundle b's vectors shard into its engine (Engine.addVectors
// checks it). A shard that cannot be had leaves that bundle searching by
// keywords (b.lexicalOnly), said as the problem of its stage 'index'
// (several bundles: 'bundle'); the other bundles are not affected.
async function loadVectors(b, onBytes) {
  try {
    const bytes = await fetchListed(b.vectors.name, b.base, 'manifest.json', b.vectors.encoded, onBytes);
    b.engine.addVectors(bytes);
  } catch (e) {
    b.lexicalOnly = true;
    problem(bundles.length > 1 ? 'bundle' : 'index', e, false, b.vectors.name, b);
  }
}

// The bundles whose vectors are to fetch with the model.
const vectorsWanted = () => bundles.filter((b) => b.engine && !b.lexicalOnly && !b.engine.hasVectors());
// Whether any bundle can still search semantically.
const anyVectors = () => bundles.some((b) => b.engine && !b.lexicalOnly);

async function loadModel() {
  if (semanticState !== 'idle' || !engine) return;
  semanticState = 'loading';
  const modelBase = self.modelBase;
  let current = 'pack.json';
  try {
    const pack = new PackLoader(await fetchText(new URL('pack.json', modelBase)));
    const wanted = vectorsWanted();
    const total = pack.totalBytes() + wanted.reduce((n, b) => n + b.vectors.bytes, 0);
    const names = pack.missing();
    for (const name of names) fileUrl(name, modelBase, 'pack.json'); // before any fetch
    let loaded = 0;
    let lastPost = 0;
    // Throttled, with a trailing post: bytes that arrive just after a post
    // are still shown when the next file is slow to come (or stalls).
    let trailing = null;
    // Nothing once the load failed: the other files' fetches still running
    // then must not post a progress that the problem already ended.
    const report = (force) => {
      if (semanticState !== 'loading') return;
      const now = Date.now();
      if (force || now - lastPost >= PROGRESS_EVERY_MS) {
        clearTimeout(trailing);
        trailing = null;
        lastPost = now;
        post({ type: 'progress', loaded, total });
      } else if (!trailing) {
        trailing = setTimeout(() => {
          trailing = null;
          report(true);
        }, PROGRESS_EVERY_MS - (now - lastPost));
      }
    };
    report(true);
    // The vectors, beside the model's files: a bundle whose vectors fail
    // searches by keywords; with none left, the model is not fetched further.
    // (the model files on their way are then stopped too: `stop`)
    const stop = new AbortController();
    const vectorsIn = Promise.all(
      wanted.map((b) =>
        loadVectors(b, (n) => {
          loaded += n;
          report(false);
        }).then(() => {
          if (!anyVectors() && semanticState === 'loading') {
            semanticState = 'failed';
            stop.abort();
          }
        }),
      ),
    );
    const queue = names.slice();
    const files = new Map();
    const fetchOne = async () => {
      // (no new file once one failed: the load is over)
      while (queue.length && semanticState === 'loading') {
        const name = queue.shift();
        const bytes = await fetchListed(
          name,
          modelBase,
          'pack.json',
          pack.encodedAs(name),
          (n) => {
            loaded += n;
            report(false);
          },
          stop.signal,
        ).catch((e) => {
          current = name;
          throw e;
        });
        files.set(name, bytes);
      }
    };
    await Promise.all([vectorsIn, ...Array.from({ length: MODEL_CONCURRENCY }, fetchOne)]);
    // no bundle has its vectors: the problem is said (loadVectors), the model is of no use
    if (semanticState !== 'loading') return;
    // the engine that holds the model: the first bundle with its vectors
    engine = bundles.find((b) => b.engine && !b.lexicalOnly).engine;
    report(true);
    // Added in the manifest's order; each add checks size and sha256 (hashed
    // by WebCrypto where there is one: much faster than inside wasm).
    for (const name of names) {
      current = name;
      const bytes = files.get(name);
      if (subtle) pack.addDigested(name, bytes, await sha256Hex(bytes));
      else pack.add(name, bytes);
      files.delete(name);
    }
    current = 'pack.json';
    post({ type: 'progress', loaded, total, building: true });
    const encoder = pack.build();
    engine.setEncoder(encoder);
    // the other bundles built with the same pack share it; the others stay keyword-only
    for (const b of bundles) {
      if (!b.engine || b.engine === engine || b.lexicalOnly) continue;
      try {
        b.engine.shareEncoder(engine);
      } catch (e) {
        problem('bundle', e, false, null, b);
      }
    }
    dropOldRowCaches();
    semanticState = 'ready';
    post({ type: 'semantic-ready' });
  } catch (e) {
    // stopped because no bundle has its vectors: that problem is said already
    if (semanticState === 'failed' && !anyVectors()) return;
    semanticState = 'failed';
    problem('model', e, false, current);
  }
}

// ------------------------------------------------------- kept parts
//
// Parts of files fetched by HTTP Range (the model's word-embedding rows; a
// large bundle's lexical pieces and vector rows) are kept in Cache Storage
// for the next visit, one entry a part, keyed by the file's URL and the
// part's index (partKey). The key never changes meaning: bundle shards are
// named by their content, and the model's rows are kept in a cache named by
// its pack id. Read back, every part goes through the engine call that adds
// it, which checks it as it checks a fetched one (a block sum, a piece's
// sha256); a copy it refuses is deleted and the part fetched again. Without
// Cache Storage (an opaque origin, an insecure page) or when it fails (a
// full quota), parts are simply fetched every visit.

const partKey = (url, kind, i) => `${url.href}?crossfind-${kind}=${i}`;

async function openCache(name) {
  try {
    return await caches.open(name);
  } catch {
    return null;
  }
}

// The kept copies of `keys` in `cache` (undefined where there is none).
async function keptCopies(cache, keys) {
  if (!cache) return keys.map(() => undefined);
  return Promise.all(keys.map((k) => cache.match(k).catch(() => undefined)));
}

// Adds the kept copy `hit` of part `key` with `add(bytes)` (an engine call
// that checks it); a copy the engine refuses is deleted. Whether it came in.
async function addKept(cache, key, hit, add) {
  try {
    add(new Uint8Array(await hit.arrayBuffer()));
    return true;
  } catch {
    await cache.delete(key).catch(() => {});
    return false;
  }
}

// Keeps `parts` ([[key, bytes]]) in `cache`; a part that cannot be kept
// (quota) is fetched again next visit. `b`: the bundle whose cache it is,
// trimmed (trimKept) once they are written.
// Written once no search has run for KEEP_AFTER_IDLE_MS, a few at a
// time: a semantic query on a large bundle fetches some 100 to 300
// blocks, and writing them took Cache Storage as long as the rest of the
// query (about 120 ms of 230 on the 5,040-page bench site); written
// between two queries of a reader typing, they still slowed the next one
// by about 12 ms (docs/large-sites.md, step 12). A tab closed before they
// are written keeps fewer; the next visit fetches those again.
function keepParts(cache, parts, b) {
  if (!cache || !parts.length) return;
  for (const [key, bytes] of parts) toKeep.push([cache, key, bytes]);
  if (b) toTrim.set(b, cache);
  keepSoon();
}

const KEEP_AFTER_IDLE_MS = 500;
let keepTimer = null;
function keepSoon() {
  clearTimeout(keepTimer);
  keepTimer = setTimeout(writeKept, KEEP_AFTER_IDLE_MS);
}

const toKeep = [];
const toTrim = new Map();
let answering = 0;
let writing = false;
const KEEP_AT_ONCE = 32;

// Writes what keepParts queued while no search is being answered (a search
// that starts pauses it between batches; its end schedules the rest).
async function writeKept() {
  if (writing) return;
  writing = true;
  try {
    while (toKeep.length && !answering) {
      const batch = toKeep.splice(0, KEEP_AT_ONCE);
      await Promise.all(batch.map(([cache, key, bytes]) => cache.put(key, new Response(bytes.slice())).catch(() => {})));
    }
    if (!toKeep.length) {
      for (const [b, cache] of toTrim) trimKept(b, cache);
      toTrim.clear();
    }
  } finally {
    writing = false;
  }
}

// `parts` ([{start, end}], absolute byte offsets) cut from `bytes`, which
// start at byte `at` of their file: [[part, its bytes]].
const cutParts = (parts, bytes, at) => parts.map((p) => [p, bytes.subarray(p.start - at, p.end - at)]);

// ------------------------------------------------------- embedding rows
//
// The model's word-embedding table (250k rows, ~50 MB) is not downloaded
// with the model: a query needs the rows of its own tokens only, a few
// kilobytes. The engine names the byte ranges of the row shards to fetch;
// each block of rows is checked against the pack's block checksums when it
// is added, and kept in Cache Storage (named by the pack id) for the next
// visit. A server that ignores Range sends the whole shard (about 1.7 MB):
// that is checked against pack.json and added whole (Engine.addShard), so
// no later query fetches it again, and the ranges asked for are cut from it
// for Cache Storage. Until a server is seen to answer a range, the ranges of
// one shard are asked one at a time, so that such a server sends each
// shard once, not once per range.

const rowsCacheName = () => rowsCachePrefix(self.modelBase.pathname) + ':' + packId;
const blockKey = (r, b) => partKey(fileUrl(r.file, self.modelBase, 'pack.json'), 'block', b);

async function dropOldRowCaches() {
  try {
    const keep = rowsCacheName();
    for (const key of await caches.keys()) {
      if (key.startsWith(rowsCachePrefix(self.modelBase.pathname) + ':') && key !== keep) await caches.delete(key);
    }
  } catch {
    /* no Cache Storage (e.g. an opaque origin): rows are fetched again next visit */
  }
}

const openRowsCache = () => openCache(rowsCacheName());

// The blocks of range `r` of a row shard: [{index, start, end}], absolute.
const rowBlocks = (r) =>
  Array.from({ length: r.blocks }, (_, i) => ({
    index: r.firstBlock + i,
    start: r.start + i * r.blockBytes,
    end: Math.min(r.start + (i + 1) * r.blockBytes, r.end),
  }));

// Brings one range's rows into the engine from Cache Storage; false when
// a block of it is not there (or is damaged, and then forgotten).
async function rowsFromCache(r, cache) {
  const keys = rowBlocks(r).map((p) => blockKey(r, p.index));
  const hits = await keptCopies(cache, keys);
  if (!hits.every(Boolean)) return false;
  for (let i = 0; i < keys.length; i++) {
    if (!(await addKept(cache, keys[i], hits[i], (bytes) => engine.addRows(r.firstBlock + i, bytes)))) return false;
  }
  return true;
}

// Keeps the blocks of range `r` (its bytes: `bytes`) in Cache Storage.
const keepRows = (r, bytes, cache) => keepParts(cache, cutParts(rowBlocks(r), bytes, r.start).map(([p, part]) => [blockKey(r, p.index), part]));

// Whether the server answers Range requests: null until it has answered one.
let rangesHonoured = null;

// Fetches range `r` of a row shard. A server that ignores Range answers
// with the whole shard (200): it is checked against pack.json and added
// whole, and every range in `same` (ranges of the same shard this query
// needs) is cut from it for Cache Storage. Returns whether the whole shard came.
async function fetchRows(r, same, cache) {
  const url = fileUrl(r.file, self.modelBase, 'pack.json');
  const res = await fetch(url, { headers: { Range: `bytes=${r.start}-${r.end - 1}` }, cache: cacheMode(url) });
  if (!res.ok) throw new FetchError(url.href, res.status);
  const bytes = new Uint8Array(await res.arrayBuffer());
  rowBytesFetched += bytes.byteLength;
  if (res.status !== 206) {
    rangesHonoured = false;
    engine.addShard(r.file, bytes); // the whole file: checked against pack.json
    for (const s of same) keepRows(s, bytes.subarray(s.start, s.end), cache);
    return true;
  }
  rangesHonoured = true;
  engine.addRows(r.firstBlock, bytes); // checked block by block
  keepRows(r, bytes, cache);
  return false;
}

// The ranges of one shard that are not in Cache Storage, from the network:
// all at once where the server is known to answer ranges; else the first
// alone, and the others only if it came as a range.
async function fetchShardRows(ranges, cache) {
  if (rangesHonoured !== true) {
    if (await fetchRows(ranges[0], ranges, cache)) return;
    ranges = ranges.slice(1);
  }
  const url = (r) => fileUrl(r.file, self.modelBase, 'pack.json');
  if (ranges.length > 1) await probeSeveral(new URL('pack.json', self.modelBase));
  await Promise.all(
    requestGroups(ranges, url).map(async (group) => {
      let missed = group;
      if (group.length > 1) {
        const u = url(group[0]);
        const got = await fetchRanges(u, group, { cache: cacheMode(u) }, (status) => new FetchError(u.href, status));
        missed = [];
        group.forEach((r, i) => {
          if (!got || !got[i]) return missed.push(r);
          rowBytesFetched += got[i].byteLength;
          engine.addRows(r.firstBlock, got[i]); // checked block by block
          keepRows(r, got[i], cache);
        });
      }
      await Promise.all(missed.map((r) => fetchRows(r, [r], cache)));
    }),
  );
}

let rowBytesFetched = 0;

// Makes sure the rows `text` needs are in; throws (with a code) when they
// cannot be had, so the caller answers lexically.
// Each bundle's engine names the rows of the query as it reads it (a typo
// respelt from that site's words, which needs its lexical pieces): the
// rows of the words as typed come side by side with the pieces, then those
// of any word the pieces respell (usually none).
async function ensureRows(text) {
  const withEncoder = bundles.filter((b) => b.engine && b.engine.hasEncoder());
  await Promise.all([...withEncoder.filter((b) => b.pieceLoads).map((b) => ensureLexical(b, text)), rowsOf(withEncoder, text)]);
  await rowsOf(withEncoder, text);
}

// Brings in the embedding rows the engines of `bs` name for `text` now.
async function rowsOf(bs, text) {
  const seen = new Set();
  const ranges = [];
  for (const b of bs) {
    for (const r of b.engine.rowRanges(text)) {
      const key = `${r.file}:${r.start}`;
      if (!seen.has(key)) ranges.push(r), seen.add(key);
    }
  }
  if (!ranges.length) return;
  const cache = await openRowsCache();
  const cached = await Promise.all(ranges.map((r) => rowsFromCache(r, cache)));
  const byShard = new Map();
  ranges.forEach((r, i) => {
    if (cached[i]) return;
    if (!byShard.has(r.file)) byShard.set(r.file, []);
    byShard.get(r.file).push(r);
  });
  await Promise.all([...byShard.values()].map((rs) => fetchShardRows(rs, cache)));
}

// ------------------------------------------------------------------ searches

let pendingLatest = null;
let draining = false;

// One bundle's hit, its links resolved against its own site (bundles.mjs).
function fromBundle(hit, b) {
  if (bundles.length > 1) hit.bundle = b.base.href;
  if (!b.resolve) return hit;
  hit.url = resolveResultUrl(hit.url, b.base);
  for (const s of Array.isArray(hit.sections) ? hit.sections : []) s.url = resolveResultUrl(s.url, b.base);
  return hit;
}

// Asks every bundle's engine (keywords only where it has no encoder) and
// merges: hits by fused score (each bundle's weight already in it), best
// k; low confidence when every bundle judged says so, with the verdict of
// the bundle whose best match beats its level most.
// The lexical pieces of its terms are fetched first (ensureLexical); then
// the fragment shards its hits need, and the bundle asked again (the same
// hits, now with their snippets).
async function runSearch(msg, mode) {
  const opts = {};
  if (msg.k) opts.k = msg.k; // else the engine's default (src/wasm/mod.rs)
  if (msg.lang) opts.lang = msg.lang;
  if (msg.filter && Object.keys(msg.filter).length) opts.filter = msg.filter;
  const answers = [];
  for (const b of bundles) {
    if (!b.engine) continue;
    let m = mode !== 'lexical' && !b.engine.hasEncoder() ? 'lexical' : mode;
    if (m === 'dense' && b.lexicalOnly) continue;
    // the lexical pieces of the query's terms (none for an index in one piece)
    if (b.pieceLoads) await ensureLexical(b, msg.query);
    // the rows of the candidate pages (a bundle with sign codes)
    if (m !== 'lexical' && b.rowLoads) {
      try {
        await ensureDenseRows(b, msg.query, { ...opts, mode: m });
      } catch (e) {
        // rows out of reach or damaged: this bundle answers this query by
        // keywords, the next query tries again
        problem(bundles.length > 1 ? 'bundle' : 'rows', e, false, e.file || null, b);
        if (m === 'dense') continue;
        m = 'lexical';
      }
    }
    const ask = () => b.engine.answer(msg.query, { ...opts, mode: m, ...(b.weight !== 1 ? { weight: b.weight } : {}) });
    let a = ask();
    for (let round = 0; round < 3 && b.fragLoads; round++) {
      const missing = missingFragments(b, a.hits);
      const snippets = snippetSource(b, a.hits);
      const records = snippets.list().length > 0;
      if (!missing.length && !records) break;
      await Promise.all([...missing.map((i) => loadFragment(b, i)), records ? ensureSnippets(b, snippets) : null]);
      a = ask();
    }
    answers.push({ b, a });
  }
  if (answers.length === 1) {
    const [{ b, a }] = answers;
    return { hits: a.hits.map((h) => fromBundle(h, b)), lowConfidence: a.lowConfidence, confidence: a.confidence, respelled: a.respelled ?? null };
  }
  const hits = answers.flatMap(({ b, a }) => a.hits.map((h) => fromBundle(h, b)));
  hits.sort((x, y) => y.fused - x.fused);
  const judged = answers.filter(({ a }) => a.lowConfidence !== null && a.lowConfidence !== undefined);
  const margin = ({ a }) => a.confidence.score - a.confidence.level;
  const best = judged.reduce((m, x) => (m === null || margin(x) > margin(m) ? x : m), null);
  return {
    hits: hits.slice(0, msg.k || 10),
    lowConfidence: best ? judged.every(({ a }) => a.lowConfidence) : null,
    confidence: best ? best.a.confidence : (answers[0]?.a.confidence ?? null),
    respelled: answers.find(({ a }) => a.respelled)?.a.respelled ?? null,
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

async function answer(msg) {
  answering++;
  try {
    await answerNow(msg);
  } finally {
    answering--;
    if (!answering) keepSoon();
  }
}

async function answerNow(msg) {
  if (!engine) {
    post({ type: 'results', id: msg.id, hits: [], semantic: false, final: true, error: 'not_ready' });
    return;
  }
  // The language the query is written in (null: too short or too mixed to
  // tell), carried to the page's events.
  let queryLang = null;
  try {
    queryLang = engine.queryLanguage(msg.query) ?? null;
  } catch {
    /* the query is still searched */
  }
  const results = (fields) => post({ type: 'results', id: msg.id, queryLang, ...fields });
  try {
    const requested = msg.mode || 'hybrid';
    const canDense = engine.hasEncoder();
    if (requested === 'lexical' || !canDense) {
      results({ ...(await runSearch(msg, 'lexical')), semantic: false, final: true });
      return;
    }
    if (msg.latest) {
      // Keyword matches first: they take milliseconds, embedding the query longer.
      results({ ...(await runSearch(msg, 'lexical')), semantic: false, final: false });
      await tick();
      if (pendingLatest && pendingLatest.id !== msg.id) return; // a newer query will answer
    }
    try {
      await ensureRows(msg.query);
    } catch (e) {
      // rows out of reach (offline without them, a damaged range): this
      // query answers by keywords, the next one tries again
      problem('rows', e, false);
      results({ ...(await runSearch(msg, 'lexical')), semantic: false, final: true });
      return;
    }
    if (msg.latest && pendingLatest && pendingLatest.id !== msg.id) return;
    results({ ...(await runSearch(msg, requested)), semantic: true, final: true, rowBytes: rowBytesFetched });
  } catch (e) {
    results({ hits: [], semantic: false, final: true, error: e.code || 'error', message: String(e.message || e) });
  }
}

async function drainLatest() {
  if (draining) return;
  draining = true;
  try {
    while (pendingLatest) {
      const msg = pendingLatest;
      await answer(msg);
      if (pendingLatest === msg) pendingLatest = null;
    }
  } finally {
    draining = false;
  }
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  try {
    if (msg.type === 'init') {
      if (!startedUp) {
        base = new URL(msg.base);
        const listed = Array.isArray(msg.bundles) && msg.bundles.length > 0;
        bundles = (listed ? msg.bundles : [{ base: msg.base, weight: 1 }]).map((x) => ({
          base: new URL(x.base),
          weight: Number(x.weight) > 0 ? Number(x.weight) : 1,
          resolve: listed,
          engine: null,
        }));
        semanticWanted = semanticWanted || !!msg.semantic;
        if (msg.wasm) wasmRequested = msg.wasm;
        startedUp = startup().catch((e) => problem('index', e, true));
      }
    } else if (msg.type === 'semantic') {
      semanticWanted = true;
      if (self.modelBase) loadModel();
    } else if (msg.type === 'search') {
      if (startedUp) await startedUp;
      if (msg.latest) {
        pendingLatest = msg;
        drainLatest();
      } else {
        await answer(msg);
      }
    }
  } catch (e) {
    problem('worker', e, false);
  }
};
