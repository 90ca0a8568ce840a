//! Bundles whose files are also stored gzip-compressed (`format::encoding`):
//! what `crossfind index` writes, that the native reader reads a bundle of
//! compressed forms only and answers the same, that damage to a compressed
//! form is an error naming it, and that a plain bundle of the previous
//! version still loads.

use std::path::{Path, PathBuf};

use crossfind::format::encoding::decode;
use crossfind::format::{sha256_hex, Encoded};
use crossfind::search::Bundle;
use serde_json::Value;

use crate::{assert_error, assert_fails, assert_ok, index_with, model_dir, search_cli, stderr};

/// A site big enough for its shards to be worth compressing: 40 pages in
/// two languages of a few help-centre paragraphs each.
fn site(dir: &Path) -> PathBuf {
    let topics = [
        ("password", "contraseña"),
        ("invoice", "factura"),
        ("refund", "reembolso"),
        ("account", "cuenta"),
        ("shipping", "envío"),
    ];
    let mut lines = String::new();
    for i in 0..20 {
        let (en, es) = topics[i % topics.len()];
        let text_en = format!(
            "How to manage your {en} (guide {i}).\n\n## Before you start {{#before}}\nCheck that your {en} details are up to date and that you can read the email we send. \
             The {en} page lists every step, and support answers within one working day.\n\n## Steps {{#steps}}\nOpen the settings, choose {en}, then follow the instructions on screen. \
             If the {en} change does not show after ten minutes, sign out and sign in again."
        );
        let text_es = format!(
            "Cómo gestionar tu {es} (guía {i}).\n\n## Antes de empezar {{#antes}}\nComprueba que los datos de tu {es} están al día y que puedes leer el correo que enviamos. \
             La página de {es} enumera cada paso y el soporte responde en un día laborable.\n\n## Pasos {{#pasos}}\nAbre la configuración, elige {es} y sigue las instrucciones. \
             Si el cambio de {es} no aparece tras diez minutos, cierra la sesión y vuelve a entrar."
        );
        for (lang, title, text) in [
            ("en", format!("Manage your {en} {i}"), text_en),
            ("es", format!("Gestionar tu {es} {i}"), text_es),
        ] {
            lines.push_str(
                &serde_json::json!({
                    "id": format!("{lang}-{i}"),
                    "lang": lang,
                    "title": title,
                    "url": format!("/{lang}/{i}.html"),
                    "group": format!("g{i}"),
                    "text": text,
                })
                .to_string(),
            );
            lines.push('\n');
        }
    }
    let path = dir.join("site.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

/// The site indexed into `<dir>/b`.
fn indexed(dir: &Path) -> PathBuf {
    let out = dir.join("b");
    let o = index_with(&site(dir), &out, &dir.join("report.txt"), &[]);
    assert_ok(&o);
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `(plain name, content bytes, content sha256, encoded form)` of every
/// entry of a manifest's list.
fn entries(list: &Value) -> Vec<(String, u64, String, Option<Encoded>)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["bytes"].as_u64().unwrap(),
                e["sha256"].as_str().unwrap().to_string(),
                e.get("encoded")
                    .map(|v| serde_json::from_value(v.clone()).unwrap()),
            )
        })
        .collect()
}

/// Checks each compressed form in `dir` against its listing: the stored
/// bytes against `encoded`, what they decode to against the content.
fn check_forms(dir: &Path, list: &[(String, u64, String, Option<Encoded>)]) -> usize {
    let mut n = 0;
    for (name, bytes, sha, enc) in list {
        let Some(enc) = enc else { continue };
        assert_eq!(enc.name, format!("{name}.gz"));
        let stored = std::fs::read(dir.join(&enc.name)).unwrap();
        assert_eq!(stored.len() as u64, enc.bytes, "{}", enc.name);
        assert_eq!(sha256_hex(&stored), enc.sha256, "{}", enc.name);
        assert!(enc.bytes < bytes * 95 / 100, "{} saves under 5 %", enc.name);
        let content = decode(enc, &stored, *bytes).unwrap();
        assert_eq!(&sha256_hex(&content), sha, "{}", enc.name);
        assert_eq!(
            content,
            std::fs::read(dir.join(name)).unwrap(),
            "{name}: the plain file beside it differs"
        );
        n += 1;
    }
    n
}

#[test]
fn index_stores_gzip_forms_beside_the_files_that_compress_and_lists_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = indexed(tmp.path());
    let manifest = json(&out.join("manifest.json"));
    assert_eq!(manifest["version"], 3);
    let shards = entries(&manifest["shards"]);
    let compressed = check_forms(&out, &shards);
    assert!(
        compressed >= 3,
        "docs, lexical and fragment shards compress: {shards:?}"
    );

    let model = out.join("model");
    let pack = json(&model.join("pack.json"));
    assert_eq!(pack["version"], 3);
    let files = entries(&pack["files"]);
    check_forms(&model, &files);
    let encoded = |n: &str| files.iter().find(|f| f.0 == n).unwrap().3.is_some();
    assert!(encoded("vocab.bin"), "vocab.bin compresses well");
    for (name, ..) in files.iter().filter(|f| f.0.starts_with("emb-0")) {
        assert!(!encoded(name), "{name}: row shards are read by byte range");
    }
    assert!(!encoded("tokenizer.json"), "the browser never loads it");
    // the copy is the same pack: compressed forms change no id
    let source =
        crossfind::PackManifest::parse(&std::fs::read(model_dir().join("pack.json")).unwrap())
            .unwrap();
    let copy =
        crossfind::PackManifest::parse(&std::fs::read(model.join("pack.json")).unwrap()).unwrap();
    assert_eq!(copy.pack_id(), source.pack_id());
    assert_eq!(manifest["model"]["pack_id"], source.pack_id());

    // the offline copy keeps the compressed forms, as stored
    let offline = json(&out.join("offline.json"));
    let listed: Vec<&str> = offline["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for (name, _, _, enc) in shards.iter() {
        let want = enc.as_ref().map_or(name.clone(), |e| e.name.clone());
        assert!(listed.contains(&want.as_str()), "{want} not in {listed:?}");
    }
    assert!(listed.contains(&"model/vocab.bin.gz") && !listed.contains(&"model/vocab.bin"));
    for f in offline["files"].as_array().unwrap() {
        if f.get("start").is_some() {
            continue;
        }
        let bytes = std::fs::read(out.join(f["name"].as_str().unwrap())).unwrap();
        assert_eq!(sha256_hex(&bytes), f["sha256"].as_str().unwrap(), "{f}");
    }

    // indexing again writes the same bytes and leaves no file unlisted
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let o = index_with(&site(tmp.path()), &out, &tmp.path().join("report.txt"), &[]);
    assert_ok(&o);
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    let mut known: Vec<String> = ["manifest.json", "offline.json", "model"]
        .map(String::from)
        .to_vec();
    for (name, _, _, enc) in &shards {
        known.push(name.clone());
        known.extend(enc.iter().map(|e| e.name.clone()));
    }
    for e in std::fs::read_dir(&out).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(known.contains(&n), "{n} is not listed");
    }
}

/// `crossfind search --json` of a few queries, as text.
fn answers(dir: &Path) -> Vec<String> {
    ["forgot my password", "reembolso de una factura", "shipping"]
        .iter()
        .map(|q| {
            let o = search_cli(dir, &["--json"], q);
            assert_ok(&o);
            String::from_utf8(o.stdout).unwrap()
        })
        .collect()
}

/// Deletes every plain file of `dir` that a list gives a compressed form of.
fn keep_only_compressed(dir: &Path, list: &[(String, u64, String, Option<Encoded>)]) -> usize {
    let mut n = 0;
    for (name, ..) in list.iter().filter(|f| f.3.is_some()) {
        std::fs::remove_file(dir.join(name)).unwrap();
        n += 1;
    }
    n
}

#[test]
fn index_json_names_version_3_and_the_gzip_forms_when_files_compress() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let o = index_with(
        &site(tmp.path()),
        &out,
        &tmp.path().join("report.txt"),
        &["--json", "--quiet"],
    );
    assert_ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let manifest = json(&out.join("manifest.json"));
    // (a small site's lexical index is in one piece: version 3)
    assert_eq!(manifest["version"], crossfind::bundle::BUNDLE_VERSION_GZIP);
    assert_eq!(v["bundle_version"], manifest["version"]);
    let forms = manifest["shards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("encoded").is_some())
        .count() as u64;
    assert!(
        v["files"]["gzip"]["files"].as_u64().unwrap() >= forms,
        "{v}"
    );
}

#[test]
fn a_bundle_of_compressed_forms_only_reads_natively_and_answers_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let out = indexed(tmp.path());
    let plain_answers = answers(&out);
    let shards = entries(&json(&out.join("manifest.json"))["shards"]);
    let files = entries(&json(&out.join("model/pack.json"))["files"]);
    assert!(keep_only_compressed(&out, &shards) >= 3);
    assert!(keep_only_compressed(&out.join("model"), &files) >= 1);
    let b = Bundle::read_dir(&out).expect("the compressed forms are read");
    assert_eq!(b.docs.pages.len(), 40);
    assert!(b.fragments.iter().all(Option::is_some));
    assert_eq!(answers(&out), plain_answers);
}

#[test]
fn damaged_compressed_forms_are_errors_that_name_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = indexed(tmp.path());
    let manifest = json(&out.join("manifest.json"));
    let docs = entries(&manifest["shards"])
        .into_iter()
        .find(|s| s.0.starts_with("docs."))
        .unwrap();
    let gz_name = docs
        .3
        .as_ref()
        .expect("the docs shard compresses")
        .name
        .clone();
    let gz = out.join(&gz_name);
    let good = std::fs::read(&gz).unwrap();

    // a flipped byte in the compressed data
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x10;
    std::fs::write(&gz, &bad).unwrap();
    let e = Bundle::read_dir(&out)
        .err()
        .expect("a damaged form is refused");
    assert_error(&e, "corrupt_file", &gz_name);
    assert!(e.to_string().contains("not valid gzip data"), "{e}");
    let err = assert_fails(&search_cli(&out, &[], "password"));
    assert!(err.contains(&gz_name), "{err}");

    // cut short
    std::fs::write(&gz, &good[..good.len() - 9]).unwrap();
    let e = Bundle::read_dir(&out).err().unwrap();
    assert_error(&e, "corrupt_file", &gz_name);

    // the plain file under the compressed name
    std::fs::copy(out.join(&docs.0), &gz).unwrap();
    let e = Bundle::read_dir(&out).err().unwrap();
    assert_error(&e, "corrupt_file", "no gzip header");

    // valid gzip of other content: the content checksum catches it
    std::fs::write(
        &gz,
        crossfind::format::encoding::gzip(&vec![b' '; docs.1 as usize]),
    )
    .unwrap();
    let e = Bundle::read_dir(&out).err().unwrap();
    assert_error(&e, "checksum_mismatch", &docs.0);

    // a damaged vocab.bin.gz stops the model, naming it
    std::fs::write(&gz, &good).unwrap();
    let vocab = out.join("model/vocab.bin.gz");
    let v = std::fs::read(&vocab).unwrap();
    std::fs::write(&vocab, &v[..v.len() / 2]).unwrap();
    let err = assert_fails(&search_cli(&out, &[], "password"));
    assert!(
        err.contains("vocab.bin.gz") && err.contains("not valid gzip data"),
        "{err}"
    );
    assert!(
        !err.contains("panicked"),
        "{}",
        stderr(&search_cli(&out, &[], "x"))
    );
}

#[test]
fn a_plain_bundle_of_the_previous_version_still_loads() {
    // What `crossfind index` wrote before compressed forms: version 2, no
    // `encoded`, no .gz files.
    let tmp = tempfile::tempdir().unwrap();
    let out = indexed(tmp.path());
    let with_forms = answers(&out);
    for (file, list, version) in [
        (out.join("manifest.json"), "shards", 2),
        (out.join("model/pack.json"), "files", 2),
    ] {
        let mut m = json(&file);
        m["version"] = version.into();
        for e in m[list].as_array_mut().unwrap() {
            if let Some(enc) = e.as_object_mut().unwrap().remove("encoded") {
                let dir = file.parent().unwrap();
                std::fs::remove_file(dir.join(enc["name"].as_str().unwrap())).unwrap();
            }
        }
        std::fs::write(&file, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }
    assert!(!std::fs::read_dir(&out).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".gz")));
    assert_eq!(answers(&out), with_forms);
}
