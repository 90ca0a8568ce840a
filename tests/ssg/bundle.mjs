// Reads a crossfind bundle as the widget does (format in src/bundle/mod.rs):
// the manifest, the page table (docs shard) and the sentences of every chunk
// (fragment shards, whose chunk numbers count from the shard's first chunk).
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function readBundle(dir) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const shard = (s) => JSON.parse(readFileSync(path.join(dir, s.name), 'utf8'));
  const docs = shard(manifest.shards.find((s) => s.kind === 'docs'));
  const frags = manifest.shards.filter((s) => s.kind === 'fragments');
  const base = frags.map((_, f) => docs.chunks.findIndex((c) => c.frag === f));
  const text = new Array(docs.chunks.length).fill('');
  frags.forEach((s, f) => {
    for (const [i, sentences] of shard(s).chunks) text[base[f] + i] = sentences.join(' ');
  });
  const chunks = docs.chunks.map((c, i) => ({
    page: docs.pages[c.page],
    heading: c.heading,
    anchor: c.anchor ?? null,
    url: docs.pages[c.page].url + (c.anchor ? `#${c.anchor}` : ''),
    text: text[i],
  }));
  return { manifest, pages: docs.pages, chunks };
}

// node tests/ssg/bundle.mjs <bundle>: prints pages and chunks (for looking).
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const b = readBundle(process.argv[2]);
  for (const p of b.pages) console.log(`${p.lang} ${p.url}  [${p.group}]  ${p.title}`);
  for (const c of b.chunks) console.log(`\n${c.url}  «${c.heading}»\n  ${c.text}`);
}
