//! Quality gate: `crossfind eval --baseline FILE` fails when a number a
//! reader would notice drops below a committed baseline.
//!
//! The baseline holds MRR@10 per mode for the macro average, every reader
//! language and every query kind, and the reader-language share per mode
//! (`--write-baseline FILE` writes one from the current run). A cell fails
//! when it drops by more than `max_drop`; the macro averages, which pool
//! many queries, by more than a third of it; the reader share when it drops
//! at all (a hit whose article exists in the reader's language must be shown
//! in it). One language cell holds about 33 queries, so one answer moving
//! from rank 1 to rank 2 costs 0.015: the default `max_drop` of 0.03 lets two
//! such moves pass and catches a real regression.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::retrieval::{mode_name, Evaluation, Row, MODES};

/// MRR@10 (or a share) per mode name.
pub type PerMode = BTreeMap<String, f64>;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    /// `--single-copy` seed of the run it was taken from.
    #[serde(default)]
    pub single_copy: Option<u64>,
    pub macro_mrr: PerMode,
    pub by_lang: BTreeMap<String, PerMode>,
    pub by_kind: BTreeMap<String, PerMode>,
    pub reader_share: PerMode,
}

fn mrr_of(row: &Row) -> PerMode {
    MODES
        .iter()
        .filter_map(|&m| {
            row.mode(m)
                .mrr_10
                .map(|v| (mode_name(m).to_string(), round(v)))
        })
        .collect()
}

/// Four decimals: what the report shows, and no float noise in the file.
fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

impl Baseline {
    pub fn of(e: &Evaluation) -> Self {
        Baseline {
            single_copy: e.single_copy,
            macro_mrr: mrr_of(&e.macro_langs),
            by_lang: e
                .by_lang
                .iter()
                .map(|r| (r.name.clone(), mrr_of(r)))
                .collect(),
            by_kind: e
                .by_kind
                .iter()
                .map(|r| (r.name.clone(), mrr_of(r)))
                .filter(|(_, m)| !m.is_empty())
                .collect(),
            reader_share: MODES
                .iter()
                .filter_map(|&m| {
                    e.all
                        .mode(m)
                        .reader_share
                        .map(|v| (mode_name(m).to_string(), round(v)))
                })
                .collect(),
        }
    }

    /// Every number of `now` that fell below this baseline by more than
    /// allowed, as readable lines; empty when nothing regressed. A cell
    /// missing from `now` is a regression too (a language or kind lost).
    pub fn regressions(&self, now: &Baseline, max_drop: f64) -> Vec<String> {
        let mut out = Vec::new();
        if self.single_copy != now.single_copy {
            out.push(format!(
                "the baseline is of a run with --single-copy {:?}, this run has {:?}",
                self.single_copy, now.single_copy
            ));
            return out;
        }
        let mut check = |what: &str, base: &PerMode, cur: Option<&PerMode>, tol: f64| {
            for (mode, &b) in base {
                match cur.and_then(|c| c.get(mode)) {
                    None => out.push(format!("{what} {mode}: missing (baseline {b:.4})")),
                    Some(&c) if c < b - tol - 1e-9 => out.push(format!(
                        "{what} {mode}: MRR@10 {c:.4}, baseline {b:.4} (drop {:.4}, allowed {tol:.4})",
                        b - c
                    )),
                    _ => {}
                }
            }
        };
        check(
            "macro",
            &self.macro_mrr,
            Some(&now.macro_mrr),
            max_drop / 3.0,
        );
        for (lang, base) in &self.by_lang {
            check(
                &format!("language {lang}"),
                base,
                now.by_lang.get(lang),
                max_drop,
            );
        }
        for (kind, base) in &self.by_kind {
            check(
                &format!("kind {kind}"),
                base,
                now.by_kind.get(kind),
                max_drop,
            );
        }
        for (mode, &b) in &self.reader_share {
            let c = now.reader_share.get(mode).copied().unwrap_or(0.0);
            if c < b - 1e-9 {
                out.push(format!(
                    "reader-language share {mode}: {c:.4}, baseline {b:.4}: hits whose article exists in the reader's language were shown in another"
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(h: f64) -> PerMode {
        [("dense".to_string(), 0.9), ("hybrid".to_string(), h)].into()
    }

    fn base() -> Baseline {
        Baseline {
            single_copy: None,
            macro_mrr: pm(0.90),
            by_lang: [("es".to_string(), pm(0.90)), ("ja".to_string(), pm(0.80))].into(),
            by_kind: [("cross-lingual".to_string(), pm(0.80))].into(),
            reader_share: [("hybrid".to_string(), 1.0)].into(),
        }
    }

    #[test]
    fn an_unchanged_run_passes_and_small_noise_is_allowed() {
        let b = base();
        assert!(b.regressions(&b, 0.03).is_empty());
        let mut now = base();
        now.by_lang.insert("ja".into(), pm(0.78));
        now.macro_mrr = pm(0.895);
        assert!(b.regressions(&now, 0.03).is_empty());
    }

    #[test]
    fn a_language_that_drops_fails_and_is_named() {
        let b = base();
        let mut now = base();
        now.by_lang.insert("ja".into(), pm(0.70));
        let r = b.regressions(&now, 0.03);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].contains("language ja hybrid"), "{r:?}");
    }

    #[test]
    fn macro_tolerance_is_tighter_than_a_cell() {
        let b = base();
        let mut now = base();
        now.macro_mrr = pm(0.88);
        let r = b.regressions(&now, 0.03);
        assert!(r.iter().any(|l| l.starts_with("macro hybrid")), "{r:?}");
    }

    #[test]
    fn reader_share_may_not_drop_and_lost_cells_fail() {
        let b = base();
        let mut now = base();
        now.reader_share.insert("hybrid".into(), 0.99);
        now.by_kind.clear();
        let r = b.regressions(&now, 0.03);
        assert!(
            r.iter().any(|l| l.contains("reader-language share")),
            "{r:?}"
        );
        assert!(
            r.iter()
                .any(|l| l.contains("kind cross-lingual hybrid: missing")),
            "{r:?}"
        );
        let mut other = base();
        other.single_copy = Some(1);
        assert_eq!(b.regressions(&other, 0.03).len(), 1);
    }
}
