//! Typed errors with stable codes. The codes cross the wasm boundary as the
//! `code` property of a JS `Error`, so widget code can react to them.

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the manifest names was not supplied or not found.
    #[error("missing file `{0}`: it is listed in the manifest but was not found; copy the whole folder again or re-run the command that wrote it")]
    MissingFile(String),
    /// A folder without its manifest: not a bundle or pack at all, or one
    /// whose manifest was deleted.
    #[error("{dir} is not a {what}: there is no {manifest} in it; {hint}")]
    NoManifest {
        dir: String,
        what: &'static str,
        manifest: &'static str,
        hint: &'static str,
    },
    /// A file's bytes do not hash to the manifest's checksum.
    #[error("checksum mismatch in `{file}`: expected sha256 {expected}, got {actual}; the file is truncated or was altered after it was written")]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    /// A file that parses wrongly (bad magic, truncated table, out-of-range offsets).
    #[error("corrupt file `{file}`: {why}")]
    Corrupt { file: String, why: String },
    /// A format version this build cannot read.
    #[error("`{file}` has format version {found}, this build of crossfind reads version {supported}; rebuild it with the same crossfind version")]
    Version {
        file: String,
        found: u32,
        supported: u32,
    },
    /// The tokenizer failed to load or to encode.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The tract graph failed to build or run.
    #[error("encoder: {0}")]
    Encoder(String),
    /// Caller input that cannot be processed (e.g. empty text).
    #[error("invalid input: {0}")]
    Input(String),
    /// Dense (semantic) search asked of an engine loaded without its vectors
    /// shard (missing or damaged): only keyword search works.
    #[error("dense search is unavailable: {0}")]
    NoVectors(String),
    /// A bundle used with another model pack than the one it was built
    /// with (its vectors would mean nothing to this encoder).
    #[error("the model pack ({got}) is not the one this bundle was built with ({want}); rebuild the bundle with `crossfind index`")]
    ModelMismatch { got: String, want: String },
    /// Embedding rows of these blocks are needed and have not been added
    /// yet (packs that load rows on demand); fetch them and try again.
    #[error("embedding rows of {} block(s) are not loaded yet (first: {})", .0.len(), .0.first().copied().unwrap_or(0))]
    MissingRows(Vec<u32>),
    /// Pieces of a lexical index in pieces that a query needs and that have
    /// not been added yet (the browser fetches them per query); fetch them
    /// (`Engine.lexicalRanges`) and try again.
    #[error("{} lexical piece(s) this query needs are not loaded yet (first: {})", .0.len(), .0.first().copied().unwrap_or(0))]
    MissingPieces(Vec<u32>),
    /// Row blocks of a bundle's vectors shard that a semantic query needs
    /// (its candidate pages, on a bundle with sign codes) and that have not
    /// been added yet; fetch them (`Engine.denseRanges`) and try again.
    #[error("{} block(s) of vector rows this query needs are not loaded yet (first: {})", .0.len(), .0.first().copied().unwrap_or(0))]
    MissingVectorRows(Vec<u32>),
    /// A model source that cannot be imported.
    #[error("model import: {0}")]
    Import(String),
    /// File system errors (native only).
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The file the error is about, when it is about one: the wasm bindings
    /// hand it to JS as the error's `file` property, so the page names the
    /// damaged or missing file without reading the message.
    pub fn file(&self) -> Option<&str> {
        match self {
            Error::MissingFile(f) => Some(f),
            Error::Checksum { file, .. }
            | Error::Corrupt { file, .. }
            | Error::Version { file, .. } => Some(file),
            Error::Io { path, .. } => Some(path),
            _ => None,
        }
    }

    /// A stable machine-readable code, used by the wasm bindings and the CLI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingFile(_) | Error::NoManifest { .. } => "missing_file",
            Error::Checksum { .. } => "checksum_mismatch",
            Error::Corrupt { .. } => "corrupt_file",
            Error::Version { .. } => "version_mismatch",
            Error::Tokenizer(_) => "tokenizer",
            Error::Encoder(_) => "encoder",
            Error::Input(_) => "invalid_input",
            Error::NoVectors(_) => "no_vectors",
            Error::ModelMismatch { .. } => "model_mismatch",
            Error::MissingRows(_) => "missing_rows",
            Error::MissingPieces(_) => "missing_pieces",
            Error::MissingVectorRows(_) => "missing_vector_rows",
            Error::Import(_) => "import",
            Error::Io { .. } => "io",
        }
    }

    pub(crate) fn corrupt(file: &str, why: impl Into<String>) -> Self {
        Error::Corrupt {
            file: file.to_string(),
            why: why.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
