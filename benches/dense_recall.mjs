// Dense recall@10 of a bundle whose vectors have sign codes against the
// exact scan: the same site indexed twice (`crossfind index --dense-codes
// on` and `off`; the embedding cache makes the second build cheap), the
// same queries searched natively in dense mode on both (the native search
// runs the same two stages as the browser), and, per query, the share of
// the exact top 10 results (translation groups, as search returns them)
// that the two-stage search returns in its top 10.
//
//   node benches/dense_recall.mjs --codes SITE/crossfind --exact OTHER/crossfind \
//     [--queries examples/helpdesk/queries.jsonl] [--k 10] [--mode dense] [--min-recall R]
//
// Prints the mean recall, the share of queries with the same top 10 in the
// same order, and the same first result, as JSON. With --min-recall it
// fails (exit 1) when the recall is below R: scripts/test.sh gates the demo
// in the large-site layout with it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = { codes: null, exact: null, queries: path.join(ROOT, 'examples/helpdesk/queries.jsonl'), k: 10, mode: 'dense', 'min-recall': null };
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.codes || !args.exact) throw new Error('usage: --codes BUNDLE --exact BUNDLE [--queries FILE] [--k N] [--mode dense|hybrid]');
const CLI = path.join(ROOT, 'target/release/crossfind');
const tmp = mkdtempSync(path.join(tmpdir(), 'cf-recall-'));

// qid -> result ids in rank order, from a TREC run file
function run(bundle, name) {
  const out = path.join(tmp, `${name}.trec`);
  const t = Date.now();
  execFileSync(CLI, ['search', '--bundle', bundle, '--queries', args.queries, '--run', out, '--mode', args.mode, '--k', String(args.k)], { stdio: 'ignore' });
  const ms = Date.now() - t;
  const by = new Map();
  for (const line of readFileSync(out, 'utf8').split('\n').filter(Boolean)) {
    const [qid, , doc, rank] = line.split(/\s+/);
    if (!by.has(qid)) by.set(qid, []);
    by.get(qid)[Number(rank) - 1] = doc;
  }
  return { by, ms };
}

const codes = run(args.codes, 'codes');
const exact = run(args.exact, 'exact');
rmSync(tmp, { recursive: true, force: true });
let recall = 0;
let same = 0;
let sameFirst = 0;
let n = 0;
for (const [qid, want] of exact.by) {
  const got = codes.by.get(qid) || [];
  const w = want.filter(Boolean);
  if (!w.length) continue;
  n++;
  recall += w.filter((d) => got.includes(d)).length / w.length;
  if (JSON.stringify(got.filter(Boolean)) === JSON.stringify(w)) same++;
  if (got[0] === w[0]) sameFirst++;
}
console.log(JSON.stringify({
  queries: n,
  k: Number(args.k),
  mode: args.mode,
  recall_at_k: +(recall / n).toFixed(4),
  same_list: +(same / n).toFixed(4),
  same_first: +(sameFirst / n).toFixed(4),
  seconds: { codes: codes.ms / 1000, exact: exact.ms / 1000 },
}, null, 1));
if (args['min-recall'] !== null && !(recall / n >= Number(args['min-recall']))) {
  console.error(`dense recall@${args.k} of the two stages against the exact scan is ${(recall / n).toFixed(4)}, below ${args['min-recall']}`);
  process.exit(1);
}
