//! Step 6 of indexing: the embedding rows the site's languages need
//! offline (`bundle::OfflineRows`), as byte ranges of the bundle's copy of
//! the pack.

use std::path::Path;

use crate::bundle::{ByteRange, OfflineRows};
use crate::error::{Error, Result};
use crate::format::fs::io;
use crate::format::sha256_hex;
use crate::model::roworder::groups_for_languages;
use crate::model::PackManifest;

/// The row byte ranges a site in `langs` keeps offline; `None` when the
/// pack's rows are in id order (every group is everywhere).
pub(super) fn offline_rows<'a>(
    pack: &PackManifest,
    langs: impl IntoIterator<Item = &'a String>,
    model_dir: &Path,
) -> Result<Option<OfflineRows>> {
    let Some(order) = &pack.embeddings.order else {
        return Ok(None);
    };
    let groups = groups_for_languages(langs.into_iter().map(String::as_str));
    let spans: Vec<(usize, usize)> = order
        .groups
        .iter()
        .filter(|g| groups.contains(&g.name.as_str()))
        .map(|g| (g.start, g.end))
        .collect();
    let Some(ranges) = pack.row_byte_ranges(&spans) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ranges.len());
    let mut open: Option<(String, Vec<u8>)> = None;
    for (file, start, end) in ranges {
        if open.as_ref().is_none_or(|(f, _)| *f != file) {
            let path = model_dir.join(&file);
            open = Some((file.clone(), std::fs::read(&path).map_err(io(&path))?));
        }
        let bytes = &open.as_ref().expect("just opened").1;
        let slice = bytes.get(start as usize..end as usize).ok_or_else(|| {
            Error::corrupt(
                &file,
                format!("is shorter than the rows it should hold ({end} bytes)"),
            )
        })?;
        out.push(ByteRange {
            sha256: sha256_hex(slice),
            file,
            start,
            end,
        });
    }
    Ok(Some(OfflineRows {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ranges: out,
    }))
}
