//! Damaged or mismatched packs give errors that name the file, never garbage.

use crossfind::{Encoder, Pack};

use crate::pack_copy;

fn load_err(dir: &std::path::Path) -> crossfind::Error {
    match Pack::read_dir(dir).and_then(Encoder::from_pack) {
        Ok(_) => panic!("a damaged pack loaded"),
        Err(e) => e,
    }
}

#[test]
fn missing_shard_is_named() {
    let d = pack_copy();
    std::fs::remove_file(d.path().join("emb-007.bin")).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "missing_file");
    assert!(e.to_string().contains("emb-007.bin"), "{e}");
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
    let p = d.path().join("tokenizer.json");
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "checksum_mismatch");
    assert!(e.to_string().contains("tokenizer.json"), "{e}");
}

#[test]
fn pack_of_another_version_is_refused() {
    let d = pack_copy();
    let p = d.path().join("pack.json");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("\"version\": 1", "\"version\": 2", 1);
    std::fs::write(&p, text).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "version_mismatch");
    assert!(e.to_string().contains("version 2"), "{e}");
}

#[test]
fn missing_manifest_says_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "missing_file");
    assert!(e.to_string().contains("pack.json"), "{e}");
}

#[test]
fn pack_from_before_vocab_bin_loads_from_tokenizer_json_with_the_same_model_id() {
    let d = pack_copy();
    let mpath = d.path().join("pack.json");
    let mut manifest = crossfind::PackManifest::parse(&std::fs::read(&mpath).unwrap()).unwrap();
    let id_with = manifest.pack_id();
    manifest.files.retain(|f| f.name != "vocab.bin");
    std::fs::remove_file(d.path().join("vocab.bin")).unwrap();
    std::fs::write(&mpath, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    // bundles indexed with the old pack must keep matching the new one
    assert_eq!(manifest.pack_id(), id_with);
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
