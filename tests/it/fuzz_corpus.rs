//! The committed fuzz seeds (`fuzz/corpus/<target>/`, written by
//! `fuzz/examples/make_seeds.rs`) replayed through the fuzz harness
//! (`fuzz/src/lib.rs`, compiled into this binary), so that a change which
//! makes a seed panic fails `cargo test` without the instrumented build.
//! `scripts/fuzz-smoke.sh` replays them again in the libFuzzer build and
//! then fuzzes every target for a short fixed time, including targets not
//! listed here. The harness's own unit tests run here too
//! (`fuzz_corpus::harness::tests`).

#[path = "../../fuzz/src/lib.rs"]
pub(crate) mod harness;

use crate::root;

/// A fuzz target's body: one input, panics on a finding.
type Harness = fn(&[u8]);

/// Every target in `fuzz/fuzz_targets/` and the harness function it calls.
const TARGETS: &[(&str, Harness)] = &[
    ("bundle", harness::bundle),
    ("lexical", harness::lexical),
    ("tensors", harness::tensors),
    ("vocab", harness::vocab),
    ("html", harness::html),
    ("markdown", harness::markdown),
    ("jsonl", harness::jsonl),
    ("manifest_names", harness::manifest_names),
];

#[test]
fn committed_fuzz_seeds_replay_clean() {
    let mut total = 0u64;
    for (name, run) in TARGETS {
        assert!(
            root().join(format!("fuzz/fuzz_targets/{name}.rs")).exists(),
            "fuzz/fuzz_targets/{name}.rs is gone: update TARGETS"
        );
        let dir = root().join("fuzz/corpus").join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (seeds are committed; make_seeds writes them)",
                    dir.display()
                )
            })
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        for s in seeds {
            let bytes = std::fs::read(&s).unwrap();
            total += bytes.len() as u64;
            let r = std::panic::catch_unwind(|| run(&bytes));
            assert!(r.is_ok(), "{name}: seed {} panics", s.display());
        }
    }
    harness::remove_scratch();
    // the corpus is committed: keep it small
    assert!(total < 2 << 20, "fuzz/corpus holds {total} bytes");
}
