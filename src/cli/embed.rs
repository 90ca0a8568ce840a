//! `crossfind embed`: vectors for texts, in bulk, or their similarity matrix.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::term::{bad_input, BadInput};
use clap::Args;

use super::{load_encoder, KindArg};
use crossfind::{Embedding, Encoder, TextKind};

#[derive(Args)]
pub struct EmbedArgs {
    /// Model pack folder.
    #[arg(long)]
    model: PathBuf,
    /// Whether the texts are search queries or indexed passages (selects the model's prefix).
    #[arg(long, value_enum, default_value = "query")]
    kind: KindArg,
    /// Read texts from this file, one UTF-8 text per line.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Write the vectors as a float32 .npy file of shape [n, dim] instead of printing them.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the cosine similarity matrix of the texts instead of the vectors.
    #[arg(long)]
    similarity: bool,
    /// The vectors search compares: language directions removed, as bundles
    /// store passages (no effect with a pack without a language basis).
    #[arg(long)]
    search: bool,
    /// Texts to embed.
    texts: Vec<String>,
}

/// Splits an input file into lines, naming the first line that is not UTF-8
/// or is blank (outputs are row-aligned with lines, so nothing is skipped).
pub fn read_lines(bytes: &[u8], what: &str) -> Result<Vec<String>> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        bad_input!("{what} has no texts");
    }
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let s = std::str::from_utf8(line).map_err(|e| {
                anyhow::Error::new(BadInput(format!("{what}: line {} is not valid UTF-8 (bad byte at column {}); convert the file to UTF-8", i + 1, e.valid_up_to() + 1)))
            })?;
            if s.trim().is_empty() {
                bad_input!("{what}: line {} is blank; every line must hold one text", i + 1);
            }
            Ok(s.to_string())
        })
        .collect()
}

/// Embeds texts on all cores, keeping input order.
/// Embeds texts on all cores, keeping input order. With `search`, the
/// vectors are the ones search compares ([`Encoder::embed_for_search`]).
pub fn embed_all(
    enc: &Encoder,
    texts: &[String],
    kind: TextKind,
    search: bool,
) -> Result<Vec<Embedding>> {
    crossfind::par::par_map(texts, |i, t| {
        let e = if search {
            enc.embed_for_search(t, kind)
        } else {
            enc.embed(t, kind)
        };
        e.with_context(|| format!("text {}", i + 1))
    })
    .into_iter()
    .collect()
}

pub fn write_npy(path: &std::path::Path, rows: &[Vec<f32>], dim: usize) -> Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}",
        rows.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut buf = Vec::with_capacity(10 + header.len() + rows.len() * dim * 4);
    buf.extend_from_slice(b"\x93NUMPY\x01\x00");
    buf.extend_from_slice(&(header.len() as u16).to_le_bytes());
    buf.extend_from_slice(header.as_bytes());
    for r in rows {
        for v in r {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let mut texts = args.texts.clone();
    if let Some(p) = &args.input {
        let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        texts.extend(read_lines(&bytes, &p.display().to_string())?);
    }
    if texts.is_empty() {
        bad_input!("no texts: pass them as arguments or with --input FILE");
    }
    let enc = load_encoder(&args.model)?;
    let embs = embed_all(&enc, &texts, args.kind.into(), args.search)?;
    for (i, e) in embs.iter().enumerate() {
        if let Some(n) = e.truncated_from {
            super::term::errln!(
                "warning: text {} has {n} tokens; only the first {} were embedded (the model's limit)",
                i + 1,
                e.tokens
            );
        }
    }
    let vectors: Vec<Vec<f32>> = embs.into_iter().map(|e| e.vector).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.similarity {
        let label = |t: &str| -> String {
            let s: String = t.chars().take(24).collect();
            if t.chars().count() > 24 {
                format!("{s}…")
            } else {
                s
            }
        };
        write!(out, "{:>4} ", "")?;
        for j in 0..vectors.len() {
            write!(out, "{:>6}", j + 1)?;
        }
        writeln!(out)?;
        for (i, a) in vectors.iter().enumerate() {
            write!(out, "{:>4} ", i + 1)?;
            for b in &vectors {
                let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                write!(out, "{cos:>6.3}")?;
            }
            writeln!(out, "  {}", super::term::one_line(&label(&texts[i])))?;
        }
    }
    if let Some(p) = &args.out {
        write_npy(p, &vectors, enc.dim())?;
        super::term::errln!(
            "wrote {} vectors of {} to {}",
            vectors.len(),
            enc.dim(),
            p.display()
        );
    } else if !args.similarity {
        for v in &vectors {
            writeln!(out, "{}", serde_json::to_string(v)?)?;
        }
    }
    Ok(())
}
