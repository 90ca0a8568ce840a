#!/usr/bin/env bash
# CI's fuzzing step: builds the fuzz crate (fuzz/, its own workspace) as
# libFuzzer binaries and runs every target in fuzz/fuzz_targets/ for
# FUZZ_SECONDS seconds (default 20), starting from its committed seeds in
# fuzz/corpus/<target>/. libFuzzer first runs every seed, then mutates them.
# A panic, a hang over 10 s on one input or an allocation over 512 MB fails
# the step; the input is kept in target/fuzz-smoke/artifacts/<target>/ and
# the end of the log is printed. New inputs the run finds go to
# target/fuzz-smoke/corpus/<target>/, never into the committed seeds.
#
# The build is what `cargo fuzz build -O --sanitizer none` makes (coverage
# instrumentation, `--cfg fuzzing`), with plain cargo and stable flags only,
# so neither cargo-fuzz nor RUSTC_BOOTSTRAP is needed. No AddressSanitizer:
# it needs an instrumented std and the whole tree built with it (10-40
# minutes, docs/fuzzing.md). Without it a run finds panics, including
# integer overflow in crossfind (fuzz/Cargo.toml turns overflow checks and
# debug assertions on for it), hangs and memory blow-ups; memory errors in
# unsafe code need the longer sanitizer runs in docs/fuzzing.md.
#
# FUZZ_SECONDS=N  seconds per target; FUZZ_JOBS=N  targets run at once
# (default: the number of cores, at most 2); FUZZ_TARGETS="a b"  only these.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
cores=$(nproc 2>/dev/null || echo 1)
jobs=${FUZZ_JOBS:-$((cores < 2 ? cores : 2))}
out=$PWD/target/fuzz-smoke
host=$(rustc -vV | sed -n 's/^host: //p')
t0=$SECONDS

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz-smoke: no targets in fuzz/fuzz_targets/" >&2; exit 1; }
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz-smoke: no fuzz/fuzz_targets/$t.rs" >&2; exit 1; }
  grep -qx "name = \"$t\"" fuzz/Cargo.toml ||
    { echo "fuzz-smoke: fuzz/fuzz_targets/$t.rs has no [[bin]] in fuzz/Cargo.toml" >&2; exit 1; }
done

echo "== fuzz: build ${#targets[@]} targets (libFuzzer, coverage, no sanitizer)" >&2
# The flags of `cargo fuzz build` for --sanitizer none (cargo-fuzz 0.13,
# src/project.rs), less -Clink-dead-code and one codegen unit, which only
# make the build slower. With --target, build scripts and proc macros are
# built without them.
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth --cfg fuzzing"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
RUSTFLAGS="$flags" CARGO_TARGET_DIR="$out/target" \
  cargo build --release --locked --quiet --manifest-path fuzz/Cargo.toml --target "$host" "${bins[@]}"
echo "   built in $((SECONDS - t0)) s" >&2
tl=$SECONDS
# The seed writer (fuzz/examples/make_seeds.rs) is not run here, but it must
# still compile: built against the dependencies just built (a `cargo check`
# or `clippy` would check them all again, a minute cold). Without libFuzzer
# it lacks the one symbol of -sanitizer-coverage-stack-depth, so it links
# with that left unresolved; it is never run. The crate is its own
# workspace, so `cargo fmt` of the main one misses it. The harness
# (fuzz/src/lib.rs) is linted with the main crate: tests/it includes it.
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
RUSTFLAGS="$flags" CARGO_TARGET_DIR="$out/target" \
  cargo rustc --release --locked --quiet --manifest-path fuzz/Cargo.toml --target "$host" \
  --example make_seeds -- -D warnings -Clink-arg=-Wl,--unresolved-symbols=ignore-all
echo "   checked the seed writer in $((SECONDS - tl)) s" >&2

echo "== fuzz: ${#targets[@]} targets, ${secs} s each, $jobs at a time" >&2
t1=$SECONDS
rm -rf "$out/corpus" "$out/artifacts" "$out/logs"
mkdir -p "$out/logs"
# The reader targets write each input as files (the readers take a path):
# in memory where there is /dev/shm (three times the execs/s of a disk).
if tmp=$(mktemp -d /dev/shm/crossfind-fuzz.XXXXXX 2>/dev/null); then :; else tmp=$(mktemp -d); fi
trap 'rm -rf "$tmp"' EXIT
export CROSSFIND_FUZZ_TMP="$tmp"

run() {
  local t=$1 seeds=fuzz/corpus/$1
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
    echo "   $t: WARNING: no committed seeds in $seeds (add them to fuzz/examples/make_seeds.rs); fuzzing from an empty input" >&2
    seeds=
  fi
  local code=0
  "$out/target/$host/release/$t" "$out/corpus/$t" ${seeds:+"$seeds"} \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -artifact_prefix="$out/artifacts/$t/" -print_final_stats=1 \
    >"$out/logs/$t.log" 2>&1 || code=$?
  echo "$code" >"$out/logs/$t.code"
}

for t in "${targets[@]}"; do
  run "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
done
wait

failed=()
for t in "${targets[@]}"; do
  log=$out/logs/$t.log
  fstat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  seeds=$(ls fuzz/corpus/"$t" 2>/dev/null | wc -l)
  new=$(ls "$out/corpus/$t" | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$(cat "$out/logs/$t.code")" = 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
    printf '   %-10s ok   %9s execs  %6s/s  cov %6s  seeds %3s  new %4s  peak RSS %s MB\n' "$t" \
      "$(fstat number_of_executed_units)" "$(fstat average_exec_per_sec)" "${cov:-?}" "$seeds" "$new" \
      "$(fstat peak_rss_mb)" >&2
  else
    failed+=("$t")
    echo "   $t FAILED (exit $(cat "$out/logs/$t.code")); the end of $log:" >&2
    tail -40 "$log" | sed 's/^/     /' >&2
    ls "$out/artifacts/$t"/* 2>/dev/null | sed 's/^/     input: /' >&2 || true
  fi
done
echo "   fuzzed in $((SECONDS - t1)) s; fuzz step $((SECONDS - t0)) s in all" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-smoke: ${failed[*]} failed; replay an input with $out/target/$host/release/<target> <input>," >&2
  echo "then shrink it and keep it as a test (docs/fuzzing.md)" >&2
  exit 1
fi
