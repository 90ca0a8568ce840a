//! Writes the seed corpora of the fuzz targets:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds [OUT_DIR]
//! ```
//!
//! `OUT_DIR` (default `fuzz/corpus`) gets `bundle/`, `lexical/` and `tensors/`.
//! Seeds come from the committed golden bundle (`tests/fixtures/golden/bundle-v1`,
//! a real bundle made with the default model) and from a synthetic bundle with
//! 8-dimensional vectors, small enough for the fuzzer to mutate every byte.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossfind::bundle::write::{write_shards, Content};
use crossfind::bundle::{
    BundleManifest, ChunkMeta, Docs, Fragments, ModelRef, PageMeta, ShardKind, MANIFEST,
};
use crossfind::format::tensors::{quantize_i8_rows, DType, TensorFileWriter};
use crossfind::search::lexical::LexicalIndexBuilder;
use crossfind_fuzz::join;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    println!("{:>7} bytes  {}", bytes.len(), dir.join(name).display());
}

/// The framed input of the `bundle` target for a manifest and its shards.
fn framed(manifest: &[u8], shards: &[Vec<u8>], query: Option<&str>) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![manifest];
    parts.extend(shards.iter().map(Vec::as_slice));
    if let Some(q) = query {
        parts.push(q.as_bytes());
    }
    join(&parts)
}

/// A three-page, five-chunk bundle in three languages with 8-dim vectors
/// and two fragment shards; returns the manifest and the shard bytes.
fn synthetic() -> (Vec<u8>, Vec<(ShardKind, Vec<u8>)>) {
    let page = |id: &str, lang: &str, title: &str, group: &str| PageMeta {
        id: id.into(),
        url: format!("/{id}.html"),
        lang: lang.into(),
        title: title.into(),
        group: group.into(),
    };
    let docs = Docs {
        pages: vec![
            page("en/reset", "en", "Reset password", "reset"),
            page("es/reset", "es", "Restablecer contraseña", "reset"),
            page("ja/refund", "ja", "返金", "refund"),
        ],
        chunks: vec![
            (0, None, "", 0),
            (0, Some("e4011"), "Error E4011", 0),
            (1, None, "", 0),
            (2, Some("request"), "申請", 1),
            (2, None, "対象外", 1),
        ]
        .into_iter()
        .map(|(page, anchor, heading, frag)| ChunkMeta {
            page,
            anchor: anchor.map(String::from),
            heading: heading.into(),
            frag,
        })
        .collect(),
    };
    let texts = [
        "Reset your password with a link sent by email.",
        "Error E4011: the token was revoked. Create a new token.",
        "Restablece tu contraseña con un enlace. ¿Olvidaste la contraseña?",
        "返金を申請するには設定を開きます。",
        "月額プランは返金の対象外です。",
    ];
    let frags = [
        Fragments {
            chunks: (0..3u32)
                .map(|i| (i, vec![texts[i as usize].to_string()]))
                .collect(),
        },
        Fragments {
            chunks: (3..5u32)
                .map(|i| (i, vec![texts[i as usize].to_string(), "…".into()]))
                .collect(),
        },
    ];
    let mut lex = LexicalIndexBuilder::new();
    for (i, t) in texts.iter().enumerate() {
        lex.add(i as u32, t);
    }
    let dim = 8;
    let values: Vec<f32> = (0..texts.len() * dim)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let (vectors, lexical) = (quantize_i8_rows(&values, dim), lex.finish().to_bytes());
    let content = Content {
        docs: &docs,
        dim,
        vectors: &vectors,
        lexical: &lexical,
        fragments: &frags,
    };
    let model = ModelRef {
        pack_id: "0000000000000000".into(),
        id: "synthetic".into(),
        dim,
        dir: "model".into(),
        offline_rows: None,
    };
    let (manifest, mut files) = write_shards(HashMap::new(), &content, model).unwrap();
    let shards = manifest
        .shards
        .iter()
        .map(|s| (s.kind, files.remove(&s.name).unwrap()))
        .collect();
    (serde_json::to_vec(&manifest).unwrap(), shards)
}

/// Small tensor files of each dtype.
fn tensor_seed() -> Vec<u8> {
    let mut w = TensorFileWriter::default();
    w.push_f32("f", 2, 3, &[1.0, -2.0, 0.5, 0.0, 3.25, -1.0]);
    let vals: Vec<f32> = (0..8).map(|i| i as f32 - 4.0).collect();
    w.push_raw("i", DType::I8Row, 2, 4, &quantize_i8_rows(&vals, 4));
    let mut q4 = vec![0u8; 18];
    q4[..2].copy_from_slice(&0x3c00u16.to_le_bytes());
    for (j, b) in q4[2..].iter_mut().enumerate() {
        *b = (j as u8) | ((15 - j as u8) << 4);
    }
    w.push_raw("q", DType::Q4_0, 1, 32, &q4);
    w.finish()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/corpus"));

    // the golden bundle, shards in manifest order
    let gdir = root.join("tests/fixtures/golden/bundle-v1");
    let mbytes = std::fs::read(gdir.join(MANIFEST)).expect("golden bundle manifest");
    let m = BundleManifest::parse(&mbytes).unwrap();
    let shards: Vec<Vec<u8>> = m
        .shards
        .iter()
        .map(|s| std::fs::read(gdir.join(&s.name)).unwrap())
        .collect();
    let (bdir, ldir, tdir) = (out.join("bundle"), out.join("lexical"), out.join("tensors"));
    write(&bdir, "golden", &framed(&mbytes, &shards, None));
    write(
        &bdir,
        "golden-query",
        &framed(&mbytes, &shards, Some("forgot password E4011 返金")),
    );
    for s in m.shards.iter().zip(&shards) {
        match s.0.kind {
            ShardKind::Lexical => write(&ldir, "golden", s.1),
            ShardKind::Vectors => write(&tdir, "golden-vectors", s.1),
            _ => {}
        }
    }

    let (sm, ss) = synthetic();
    let sbytes: Vec<Vec<u8>> = ss.iter().map(|(_, b)| b.clone()).collect();
    write(&bdir, "synthetic", &framed(&sm, &sbytes, None));
    write(
        &bdir,
        "synthetic-query",
        &framed(&sm, &sbytes, Some("contraseña E4011")),
    );
    for (kind, bytes) in &ss {
        match kind {
            ShardKind::Lexical => write(&ldir, "synthetic", bytes),
            ShardKind::Vectors => write(&tdir, "synthetic-vectors", bytes),
            _ => {}
        }
    }
    write(&tdir, "dtypes", &tensor_seed());
}
