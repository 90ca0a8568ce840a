//! Damaged or mismatched packs give errors that name the file, never garbage.

use crossfind::{Encoder, Pack, PackManifest};

use crate::{
    assert_error, assert_fails, assert_ok, copy_dir, flip_byte, golden_dir, pack_copy, search_cli,
};

fn load_err(dir: &std::path::Path) -> crossfind::Error {
    match Pack::read_dir(dir).and_then(Encoder::from_pack) {
        Ok(_) => panic!("a damaged pack loaded"),
        Err(e) => e,
    }
}

/// Rewrites the `pack.json` of the pack in `dir` with `edit`.
fn edit_manifest<R>(dir: &std::path::Path, edit: impl FnOnce(&mut PackManifest) -> R) -> R {
    let mpath = dir.join("pack.json");
    let mut m = PackManifest::parse(&std::fs::read(&mpath).unwrap()).unwrap();
    let r = edit(&mut m);
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    r
}

#[test]
fn missing_shard_is_named() {
    let d = pack_copy();
    std::fs::remove_file(d.path().join("emb-007.bin")).unwrap();
    assert_error(&load_err(d.path()), "missing_file", "emb-007.bin");
}

#[test]
fn truncated_encoder_file_is_named() {
    let d = pack_copy();
    let p = d.path().join("encoder.bin");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "corrupt_file");
    assert!(
        e.to_string().contains("encoder.bin") && e.to_string().contains("truncated"),
        "{e}"
    );
}

#[test]
fn flipped_byte_in_tokenizer_fails_its_checksum() {
    let d = pack_copy();
    flip_byte(&d.path().join("tokenizer.json"), |n| n / 2, 0x20);
    assert_error(&load_err(d.path()), "checksum_mismatch", "tokenizer.json");
}

#[test]
fn pack_of_another_version_is_refused() {
    let d = pack_copy();
    let p = d.path().join("pack.json");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("\"version\": 2", "\"version\": 4", 1);
    std::fs::write(&p, text).unwrap();
    assert_error(&load_err(d.path()), "version_mismatch", "version 4");
}

#[test]
fn missing_manifest_says_the_folder_is_not_a_pack() {
    let d = tempfile::tempdir().unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "missing_file");
    let msg = e.to_string();
    assert!(
        msg.contains("is not a crossfind model pack")
            && msg.contains("no pack.json")
            && !msg.contains("listed in the manifest"),
        "{msg}"
    );
}

#[test]
fn pack_file_names_that_leave_the_pack_folder_are_refused() {
    let text = std::fs::read_to_string(crate::model_dir().join("pack.json")).unwrap();
    for &name in crate::bundle::HOSTILE_NAMES {
        // renamed everywhere the manifest uses it (files and embedding shards)
        let quoted = serde_json::to_string(name).unwrap();
        let planted = text.replace("\"emb-003.bin\"", &quoted);
        let e = crossfind::PackManifest::parse(planted.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("a pack naming {name:?} parsed"));
        assert_eq!(e.code(), "corrupt_file", "{name:?}: {e}");
        assert!(e.to_string().contains("pack.json"), "{e}");
        let planted = text.replace("\"encoder.bin\"", &quoted);
        assert!(
            crossfind::PackManifest::parse(planted.as_bytes()).is_err(),
            "{name:?}"
        );
    }
}

#[test]
fn pack_from_before_vocab_bin_loads_from_tokenizer_json_with_the_same_model_id() {
    let d = pack_copy();
    let (id_with, id_without) = edit_manifest(d.path(), |m| {
        let id_with = m.pack_id();
        m.files.retain(|f| f.name != "vocab.bin");
        (id_with, m.pack_id())
    });
    std::fs::remove_file(d.path().join("vocab.bin")).unwrap();
    // bundles indexed with the old pack must keep matching the new one
    assert_eq!(id_without, id_with);
    let old = Encoder::from_pack(Pack::read_dir(d.path()).unwrap()).unwrap();
    let q = "I need help con mi cuenta, パスワードを忘れた";
    let kind = crossfind::TextKind::Query;
    assert_eq!(
        old.tokenize(q, kind).unwrap(),
        crate::encoder().tokenize(q, kind).unwrap()
    );
    assert_eq!(
        old.embed(q, kind).unwrap().vector,
        crate::encoder().embed(q, kind).unwrap().vector
    );
}

/// Rewrites the pack in `dir` as a version 1 pack: rows in id order, no row
/// order and no block index, as packs were imported before rows were grouped.
fn write_as_id_ordered_v1(dir: &std::path::Path) {
    use crossfind::format::sha256_hex;
    use crossfind::format::tensors::{TensorFile, TensorFileWriter};
    use crossfind::model::pack::BLOCKS_FILE;
    let pack = Pack::read_dir(dir).unwrap();
    let order = pack
        .row_order()
        .unwrap()
        .expect("the default pack groups its rows");
    let mut m = pack.manifest.clone();
    let e = &m.embeddings;
    let rb = e.dtype.row_bytes(m.arch.hidden);
    let mut stored = Vec::new();
    for name in &e.shards {
        let tf = TensorFile::parse(name, pack.bytes(name).unwrap()).unwrap();
        stored.extend_from_slice(tf.raw("rows").unwrap().1);
    }
    let mut by_id = Vec::with_capacity(stored.len());
    for &r in &order.stored {
        by_id.extend_from_slice(&stored[r as usize * rb..][..rb]);
    }
    for (name, rows) in e
        .shards
        .clone()
        .iter()
        .zip(by_id.chunks(e.rows_per_shard * rb))
    {
        let mut w = TensorFileWriter::default();
        w.push_raw("rows", e.dtype, rows.len() / rb, m.arch.hidden, rows);
        let bytes = w.finish();
        let f = m.files.iter_mut().find(|f| f.name == *name).unwrap();
        f.sha256 = sha256_hex(&bytes);
        f.bytes = bytes.len() as u64;
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    m.version = 1;
    m.embeddings.order = None;
    m.embeddings.blocks = None;
    m.files.retain(|f| f.name != BLOCKS_FILE);
    std::fs::write(
        dir.join("pack.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn version_1_pack_with_rows_in_id_order_is_the_same_model() {
    let d = pack_copy();
    write_as_id_ordered_v1(d.path());
    let old = Encoder::from_pack(Pack::read_dir(d.path()).unwrap()).unwrap();
    // bundles indexed with either pack match the other: same model, same id
    assert_eq!(
        old.manifest().pack_id(),
        crate::encoder().manifest().pack_id()
    );
    let kind = crossfind::TextKind::Query;
    for q in [
        "I need help con mi cuenta",
        "パスワードを忘れた",
        "Как сбросить пароль?",
    ] {
        assert_eq!(
            old.embed(q, kind).unwrap().vector,
            crate::encoder().embed(q, kind).unwrap().vector,
            "{q}"
        );
    }
}

#[test]
fn rows_ordered_unlike_the_vocabulary_are_refused() {
    // the vocabulary of the pack edited so that its computed order changes
    let d = pack_copy();
    edit_manifest(d.path(), |m| {
        m.embeddings.order.as_mut().unwrap().digest = "0000000000000000".into()
    });
    assert_error(
        &load_err(d.path()),
        "corrupt_file",
        "import the model again",
    );
}

#[test]
fn pack_id_covers_everything_that_changes_a_vector() {
    let m = crate::encoder().manifest().clone();
    let id = m.pack_id();
    type Edit = fn(&mut crossfind::PackManifest);
    let edits: [(&str, Edit); 7] = [
        ("query prefix", |m| {
            m.profile.query_prefix = "search: ".into()
        }),
        ("passage prefix", |m| m.profile.passage_prefix.clear()),
        ("pooling", |m| {
            m.profile.pooling = crossfind::model::pack::Pooling::Cls
        }),
        ("normalisation", |m| m.profile.normalize = false),
        ("token budget", |m| m.profile.max_tokens = 256),
        ("heads", |m| m.arch.heads = 6),
        ("layer norm epsilon", |m| m.arch.layer_norm_eps = 1e-6),
    ];
    for (what, edit) in edits {
        let mut other = m.clone();
        edit(&mut other);
        assert_ne!(other.pack_id(), id, "changing the {what} kept the pack id");
    }
    // what changes no number keeps it
    let mut renamed = m.clone();
    renamed.model.id = "my-copy".into();
    renamed.model.source = "elsewhere".into();
    assert_eq!(renamed.pack_id(), id);
}

#[test]
fn bundle_is_refused_by_a_pack_with_another_query_prefix() {
    // The golden bundle beside a copy of its pack whose query prefix was
    // edited: same files, so the old id matched and rankings changed
    // silently; now search stops and says to re-index.
    let d = copy_dir(&golden_dir());
    let mdir = d.path().join("model");
    std::fs::create_dir(&mdir).unwrap();
    for e in std::fs::read_dir(crate::model_dir()).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "pack.json" {
            std::os::unix::fs::symlink(e.path(), mdir.join(e.file_name())).unwrap();
        }
    }
    let mut m = crate::encoder().manifest().clone();
    let search = |d: &std::path::Path| search_cli(d, &[], "forgot my password");
    std::fs::write(
        mdir.join("pack.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    assert_ok(&search(d.path()));
    m.profile.query_prefix = "passage: ".into();
    std::fs::write(
        mdir.join("pack.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    let err = assert_fails(&search(d.path()));
    assert!(err.contains("re-run `crossfind index`"), "{err}");
}
