#!/usr/bin/env node
// Copies a built demo help center keeping ONE language version of each
// article: what a help center whose articles are each written in one
// language only looks like, indexed as such (BM25 statistics, translation
// groups and title blending all see the smaller site, unlike
// `crossfind eval --single-copy`, which drops pages from a bundle at search
// time). The quality gate indexes and evaluates this copy (scripts/test.sh).
//
//   node examples/helpdesk/single-copy.mjs --site <BUILT DIR> --out <DIR> [--seed N]
//
// The version kept for article <id> is the language whose
// sha256("<seed>\0<id>\0<lang>") is smallest: reproducible, and independent of
// which other articles exist. Language index pages and assets are copied as
// they are; links to removed versions are left dangling, as on a real site.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const args = { site: null, out: null, seed: '1' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--site') args.site = argv[++i];
  else if (a === '--out') args.out = argv[++i];
  else if (a === '--seed') args.seed = argv[++i];
  else { console.error(`single-copy.mjs: unknown argument ${a}`); process.exit(2); }
}
if (!args.site || !args.out || !/^\d+$/.test(args.seed ?? '')) {
  console.error('usage: node examples/helpdesk/single-copy.mjs --site <BUILT DIR> --out <DIR> [--seed N]');
  process.exit(2);
}
const site = resolve(args.site);
const out = resolve(args.out);
if (!existsSync(join(site, 'index.html'))) {
  console.error(`single-copy.mjs: ${site} is not a built demo help center (no index.html); build it with examples/helpdesk/build.mjs`);
  process.exit(2);
}
if (out === site) {
  console.error('single-copy.mjs: --out must differ from --site (the copy deletes pages)');
  process.exit(2);
}

// article id -> [lang, ...], from /<lang>/<id>.html
const versions = new Map();
for (const lang of readdirSync(site)) {
  if (!/^[a-z]{2}$/.test(lang) || !statSync(join(site, lang)).isDirectory()) continue;
  for (const f of readdirSync(join(site, lang))) {
    if (!f.endsWith('.html') || f === 'index.html') continue;
    const id = f.slice(0, -5);
    if (!versions.has(id)) versions.set(id, []);
    versions.get(id).push(lang);
  }
}
const key = (id, lang) => createHash('sha256').update(`${args.seed}\0${id}\0${lang}`).digest('hex');

rmSync(out, { recursive: true, force: true });
cpSync(site, out, { recursive: true, filter: (p) => !p.startsWith(join(site, 'crossfind')) });
let removed = 0;
for (const [id, langs] of versions) {
  const keep = langs.reduce((a, b) => (key(id, b) < key(id, a) ? b : a));
  for (const l of langs) {
    if (l !== keep) { rmSync(join(out, l, `${id}.html`)); removed++; }
  }
}
console.error(`single-copy.mjs: ${versions.size} articles kept in one language each (${removed} versions removed) -> ${out}`);
