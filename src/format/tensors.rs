//! The tensor file: a small JSON table of contents followed by raw
//! little-endian data. Used for a pack's encoder weights, word embedding row
//! shards and language basis, and for a bundle's vectors shard.
//!
//! Layout: `b"CFTN"`, u32 version, u32 header length, header JSON, zero padding
//! to a 16-byte boundary, then the data area. Offsets in the header are
//! relative to the data area. Every tensor is a matrix of `rows` x `cols`
//! stored row by row, so that a single row can be decoded (or, later, fetched)
//! on its own.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"CFTN";
const VERSION: u32 = 1;
/// Blocks of the 4-bit format hold 32 weights.
pub const Q4_BLOCK: usize = 32;

/// How a tensor's rows are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    /// Plain f32.
    F32,
    /// int8 with one f32 scale per row, stored `[scale: f32][cols x i8]` per row.
    I8Row,
    /// 4-bit blocks of 32 values: `[scale: f16][16 bytes of nibbles]`, value = (nibble - 8) * scale.
    /// Byte j of a block holds value j in its low nibble and value j + 16 in its high nibble.
    Q4_0,
}

impl DType {
    /// Bytes one row of `cols` values takes.
    pub fn row_bytes(self, cols: usize) -> usize {
        match self {
            DType::F32 => cols * 4,
            DType::I8Row => 4 + cols,
            DType::Q4_0 => cols / Q4_BLOCK * 18,
        }
    }

    /// At least one column (a zero-byte row cannot be walked), few enough
    /// that [`row_bytes`](Self::row_bytes) cannot overflow, and whole blocks.
    fn check_cols(self, cols: usize) -> bool {
        cols > 0
            && cols <= usize::MAX / 8
            && match self {
                DType::Q4_0 => cols.is_multiple_of(Q4_BLOCK),
                _ => true,
            }
    }

    /// Decodes one row into `out` (whose length is the row's column count).
    pub fn decode_row(self, row: &[u8], out: &mut [f32]) {
        match self {
            DType::F32 => {
                for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            DType::I8Row => {
                let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]);
                for (o, &q) in out.iter_mut().zip(&row[4..]) {
                    *o = (q as i8) as f32 * scale;
                }
            }
            DType::Q4_0 => {
                for (block, o) in row.chunks_exact(18).zip(out.chunks_exact_mut(Q4_BLOCK)) {
                    let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                    for j in 0..16 {
                        let q = block[2 + j];
                        o[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
                        o[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
                    }
                }
            }
        }
    }
}

/// Single to IEEE half precision, rounding to nearest even.
#[cfg(not(target_arch = "wasm32"))]
pub fn f32_to_f16(x: f32) -> u16 {
    // round to nearest even; the norms are finite and non-negative
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut h = m >> shift;
        if rest > half || (rest == half && h & 1 == 1) {
            h += 1;
        }
        return sign | h as u16;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// IEEE half to single precision.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // subnormal: man x 2^-24; shift the mantissa up to the implicit bit
            let mut shifts = 0u32;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                shifts += 1;
            }
            sign | ((127 - 14 - shifts) << 23) | ((m & 0x3ff) << 13)
        }
    } else if exp == 31 {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// Quantises f32 rows to [`DType::I8Row`] (symmetric, per-row absmax).
pub fn quantize_i8_rows(values: &[f32], cols: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / cols.max(1) * (cols + 4));
    for row in values.chunks_exact(cols) {
        let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend(
            row.iter()
                .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8),
        );
    }
    out
}

/// One entry of a tensor file's table of contents.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: DType,
    pub rows: usize,
    pub cols: usize,
    pub offset: u64,
}

impl TensorInfo {
    pub fn byte_len(&self) -> usize {
        self.rows * self.dtype.row_bytes(self.cols)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    tensors: Vec<TensorInfo>,
}

/// A parsed, validated tensor file borrowing its bytes.
pub struct TensorFile<'a> {
    file: String,
    data: &'a [u8],
    /// Where `data` starts in the file.
    data_start: usize,
    tensors: Vec<TensorInfo>,
}

impl<'a> TensorFile<'a> {
    /// Parses and bounds-checks `bytes` (named `file` in errors).
    pub fn parse(file: &str, bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 12 || &bytes[..4] != MAGIC {
            return Err(Error::corrupt(
                file,
                "not a crossfind tensor file (bad magic)",
            ));
        }
        let version = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        if version != VERSION {
            return Err(Error::Version {
                file: file.to_string(),
                found: version,
                supported: VERSION,
            });
        }
        let hlen = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let hend = 12usize
            .checked_add(hlen)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| Error::corrupt(file, "truncated header"))?;
        let header: Header = serde_json::from_slice(&bytes[12..hend])
            .map_err(|e| Error::corrupt(file, format!("bad header: {e}")))?;
        let data_start = hend.div_ceil(16) * 16;
        let data = bytes.get(data_start..).unwrap_or(&[]);
        for t in &header.tensors {
            if !t.dtype.check_cols(t.cols) {
                return Err(Error::corrupt(
                    file,
                    format!(
                        "tensor {} has {} columns (none, too many, or not whole blocks)",
                        t.name, t.cols
                    ),
                ));
            }
            let len = t
                .rows
                .checked_mul(t.dtype.row_bytes(t.cols))
                .ok_or_else(|| Error::corrupt(file, format!("tensor {} is too large", t.name)))?;
            let end = (t.offset as usize).checked_add(len);
            if end.is_none_or(|e| e > data.len()) {
                return Err(Error::corrupt(
                    file,
                    format!(
                        "tensor {} runs past the end of the file (file truncated?)",
                        t.name
                    ),
                ));
            }
        }
        Ok(TensorFile {
            file: file.to_string(),
            data,
            data_start: data_start.min(bytes.len()),
            tensors: header.tensors,
        })
    }

    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::corrupt(&self.file, format!("tensor `{name}` is missing")))
    }

    /// Where tensor `name`'s data starts in the file's bytes.
    pub fn byte_offset(&self, name: &str) -> Result<usize> {
        let t = self.info(name)?;
        Ok(self.data_start + t.offset as usize)
    }

    /// The raw bytes of a tensor.
    pub fn raw(&self, name: &str) -> Result<(&TensorInfo, &'a [u8])> {
        let t = self.info(name)?;
        let start = t.offset as usize;
        Ok((t, &self.data[start..start + t.byte_len()]))
    }

    /// Decodes a whole tensor to f32, checking its shape.
    pub fn f32(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
        let (t, raw) = self.raw(name)?;
        if t.rows != rows || t.cols != cols {
            return Err(Error::corrupt(
                &self.file,
                format!(
                    "tensor `{name}` is {}x{}, expected {rows}x{cols}",
                    t.rows, t.cols
                ),
            ));
        }
        let mut out = vec![0f32; rows * cols];
        let rb = t.dtype.row_bytes(cols);
        for (row, o) in raw.chunks_exact(rb).zip(out.chunks_exact_mut(cols)) {
            t.dtype.decode_row(row, o);
        }
        Ok(out)
    }
}

/// Builds a tensor file in memory.
#[derive(Default)]
pub struct TensorFileWriter {
    tensors: Vec<TensorInfo>,
    data: Vec<u8>,
}

impl TensorFileWriter {
    /// Appends a tensor whose rows are already encoded as `dtype`.
    pub fn push_raw(&mut self, name: &str, dtype: DType, rows: usize, cols: usize, raw: &[u8]) {
        assert_eq!(
            raw.len(),
            rows * dtype.row_bytes(cols),
            "tensor {name}: wrong byte length"
        );
        while !self.data.len().is_multiple_of(16) {
            self.data.push(0);
        }
        self.tensors.push(TensorInfo {
            name: name.to_string(),
            dtype,
            rows,
            cols,
            offset: self.data.len() as u64,
        });
        self.data.extend_from_slice(raw);
    }

    /// Appends an f32 tensor.
    pub fn push_f32(&mut self, name: &str, rows: usize, cols: usize, values: &[f32]) {
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_raw(name, DType::F32, rows, cols, &raw);
    }

    pub fn finish(self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            tensors: self.tensors,
        })
        .expect("header serialises");
        let mut out = Vec::with_capacity(16 + header.len() + self.data.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        while out.len() % 16 != 0 {
            out.push(0);
        }
        out.extend_from_slice(&self.data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values_decode_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
    }

    #[test]
    fn int8_rows_round_trip_within_half_a_step() {
        let vals: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) / 7.0).collect();
        let raw = quantize_i8_rows(&vals, 32);
        let mut out = vec![0f32; 64];
        for (r, o) in raw.chunks_exact(36).zip(out.chunks_exact_mut(32)) {
            DType::I8Row.decode_row(r, o);
        }
        for (row_in, row_out) in vals.chunks(32).zip(out.chunks(32)) {
            let step = row_in.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (a, b) in row_in.iter().zip(row_out) {
                assert!((a - b).abs() <= step / 2.0 + 1e-6);
            }
        }
    }

    #[test]
    fn zero_or_huge_column_counts_are_corrupt() {
        // Found by `cargo fuzz run tensors`: a 0-column f32 tensor passed
        // parse and made `f32()` walk rows of zero bytes (a panic); a column
        // count near usize::MAX wrapped `row_bytes` to a few bytes.
        for (dtype, cols) in [
            ("f32", 0u64),
            ("i8_row", 0),
            ("q4_0", 0),
            ("f32", u64::MAX / 4 + 1),
            ("i8_row", u64::MAX - 3),
        ] {
            let header = format!(
                r#"{{"tensors":[{{"name":"t","dtype":"{dtype}","rows":2,"cols":{cols},"offset":0}}]}}"#
            );
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&VERSION.to_le_bytes());
            bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
            bytes.extend_from_slice(header.as_bytes());
            bytes.resize(bytes.len().div_ceil(16) * 16 + 64, 0);
            let err = TensorFile::parse("t.bin", &bytes).err().unwrap();
            assert_eq!(err.code(), "corrupt_file", "{dtype} x {cols}");
        }
    }

    #[test]
    fn truncated_tensor_file_is_reported_not_read() {
        let mut w = TensorFileWriter::default();
        w.push_f32("a", 2, 3, &[1.0; 6]);
        let bytes = w.finish();
        assert!(TensorFile::parse("x.bin", &bytes).is_ok());
        let err = TensorFile::parse("x.bin", &bytes[..bytes.len() - 1])
            .err()
            .unwrap();
        assert!(err.to_string().contains("x.bin"), "{err}");
        assert_eq!(err.code(), "corrupt_file");
    }
}
