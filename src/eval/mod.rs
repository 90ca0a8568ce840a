//! Offline evaluation: retrieval quality of a bundle on labelled queries
//! (`crossfind eval`), cross-lingual alignment of a model on translation
//! pairs (`crossfind eval pairs`), real unlabelled queries per language
//! (`crossfind eval log`), and the fusion-constant tuning behind
//! [`crossfind::search::Fusion::default`].
//!
//! Native only: it runs searches in bulk over a bundle loaded from disk.

pub mod baseline;
pub mod log;
pub mod metrics;
pub mod pairs;
pub mod report;
pub mod retrieval;
