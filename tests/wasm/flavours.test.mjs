// The two wasm builds (scripts/build-wasm.sh): the relaxed-SIMD probe says
// what the engine has, pkg/node loads the build it picks (or the one forced by
// CROSSFIND_WASM_FLAVOUR), and the other build passes the encoder and search
// tests too: encoder.test.mjs and search.test.mjs run here again, in a child
// Node on the flavour this process did not pick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { relaxedSimd, pickFlavour } = require(path.join(root, 'www/src/wasm-flavour.cjs'));

// V8's switch for relaxed SIMD: on by default from V8 11.4 (Node 22+), behind
// this flag in Node 20.
const ON = '--experimental-wasm-relaxed-simd';
const OFF = '--no-experimental-wasm-relaxed-simd';

function node(flags, args, env = {}) {
  // without NODE_TEST_CONTEXT, which `node --test` sets for its own children
  // (it would make a child report to a parent runner in V8's binary format)
  const { NODE_TEST_CONTEXT, ...inherited } = process.env;
  void NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [...flags, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...inherited, ...env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

// Whether a child Node with `flags` validates the probe, and whether it also
// computes it right (what relaxedSimd() requires).
const PROBE = `const f = require('./www/src/wasm-flavour.cjs');
process.stdout.write(JSON.stringify([WebAssembly.validate(f.RELAXED_PROBE), f.relaxedSimd()]))`;
const probeRun = (flags) => {
  const r = node(flags, ['-e', PROBE]);
  return r.code === 0 ? JSON.parse(r.out.trim().split('\n')[0]) : [false, false];
};
const probeIn = (flags) => String(probeRun(flags)[1]);

// How a child Node gets relaxed SIMD (null: not at all, e.g. a V8 too old
// for the relaxed dot product), and how it gets none (null: V8 no longer
// knows the flag, relaxed SIMD is simply on).
const flagKnown = (flag) => node([flag], ['-e', '0']).code === 0;
const WITH = relaxedSimd() ? [] : flagKnown(ON) && probeIn([ON]) === 'true' ? [ON] : null;
const WITHOUT = flagKnown(OFF) ? [OFF] : relaxedSimd() ? null : [];
const noRelaxed =
  WITH === null && `Node ${process.version} has no working relaxed SIMD, not even behind ${ON} (the Chromium tests run the relaxed build)`;

test('the probe needs the instruction to validate and to compute the exact dot product', () => {
  const wasm = typeof WebAssembly.validate === 'function';
  assert.ok(wasm);
  if (WITHOUT) assert.deepEqual(probeRun(WITHOUT), [false, false], 'refused without relaxed SIMD');
  // where the engine validates the instruction, relaxedSimd() still runs it:
  // Node 20's experimental relaxed SIMD validates it but computes it wrongly
  const flagged = flagKnown(ON) ? probeRun([ON]) : null;
  if (flagged) assert.ok(!flagged[1] || flagged[0], 'working implies validating');
  assert.equal(relaxedSimd(), probeIn([]) === 'true', 'this process agrees with a plain child');
  if (WITH) assert.equal(probeIn(WITH), 'true');
});

test('pickFlavour: auto follows the probe, baseline and relaxed are forced, anything else is an error', () => {
  assert.equal(pickFlavour(undefined), relaxedSimd() ? 'relaxed' : 'baseline');
  assert.equal(pickFlavour('auto'), pickFlavour(''));
  assert.equal(pickFlavour('baseline'), 'baseline');
  assert.equal(pickFlavour(' Relaxed '), 'relaxed');
  assert.throws(() => pickFlavour('fast'), (e) => e.code === 'invalid_input' && /baseline, relaxed or auto/.test(e.message));
});

// Which glue file a child's require('pkg/node/crossfind.js') really loaded.
const WHICH = `const m = require('./pkg/node/crossfind.js');
const dirs = Object.keys(require.cache).filter((f) => /pkg\\/node\\/(baseline|relaxed)\\/crossfind\\.js$/.test(f)).map((f) => f.split('/').at(-2));
process.stdout.write(JSON.stringify({ flavour: m.wasmFlavour, dirs, api: typeof m.PackLoader }));`;

test('pkg/node loads the build that is picked or forced, and only that one', () => {
  const load = (flags, flavour) => {
    const r = node(flags, ['-e', WHICH], flavour ? { CROSSFIND_WASM_FLAVOUR: flavour } : {});
    return r.code === 0 ? JSON.parse(r.out.trim().split('\n')[0]) : { error: r.out };
  };
  if (WITH) {
    assert.deepEqual(load(WITH), { flavour: 'relaxed', dirs: ['relaxed'], api: 'function' });
    assert.deepEqual(load(WITH, 'baseline'), { flavour: 'baseline', dirs: ['baseline'], api: 'function' });
  }
  if (WITHOUT) {
    assert.deepEqual(load(WITHOUT), { flavour: 'baseline', dirs: ['baseline'], api: 'function' });
    const forced = load(WITHOUT, 'relaxed');
    assert.match(forced.error || '', /has no relaxed SIMD/, 'forcing relaxed where it cannot run is a clear error');
  }
  assert.ok(WITH || WITHOUT, 'one of the two cases ran');
});

test('the relaxed build uses the same JS glue as the baseline build', () => {
  // what lets pkg/web ship one glue for two .wasm files (build-wasm.sh checks it too)
  const glue = (d) => readFileSync(path.join(root, 'pkg/node', d, 'crossfind.js'), 'utf8');
  assert.equal(glue('relaxed'), glue('baseline'));
});

// The flavour this process does not run, through the same tests.
const other = pickFlavour() === 'relaxed' ? 'baseline' : 'relaxed';
for (const file of ['encoder.test.mjs', 'search.test.mjs']) {
  const skip = other === 'relaxed' && noRelaxed;
  test(`${file} passes on the ${other} build too`, { timeout: 600000, skip }, () => {
    const flags = other === 'relaxed' ? WITH : [];
    const r = node([...flags, '--test-reporter=tap'], [path.join(root, 'tests/wasm', file)], { CROSSFIND_WASM_FLAVOUR: other });
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(r.out, /# fail 0/);
    assert.match(r.out, /# pass [1-9]/);
  });
}
