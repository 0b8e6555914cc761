//! Reading the model file (see the crate docs and `README.md` for the layout).
//!
//! Every read goes through [`Cursor`], which checks bounds, so a truncated or
//! foreign file gives an [`EmbedError`] naming what was being read instead of
//! a panic. Nothing here trusts a count from the file before checking that the
//! bytes it implies are present.

use crate::EmbedError;

/// The four bytes a model file starts with.
pub(crate) const MAGIC: &[u8; 4] = b"E5S1";
/// The only file version this crate understands.
pub(crate) const VERSION: u32 = 1;
/// Weights are quantised in blocks of this many values sharing one scale.
pub(crate) const BLOCK: usize = 32;
/// Bytes of one 4-bit block in the file: a half-precision scale, then
/// 16 bytes holding 32 four-bit codes.
pub(crate) const BLOCK_BYTES: usize = 2 + BLOCK / 2;

/// Tensor element encodings used in the directory.
const DTYPE_F32: u8 = 0;
const DTYPE_Q4: u8 = 1;

/// Upper bounds on header values, so that a corrupt header cannot make the
/// loader allocate absurd amounts of memory before the size checks catch it.
const MAX_LAYERS: usize = 64;
const MAX_WIDTH: usize = 1 << 16;
const MAX_POSITIONS: usize = 1 << 16;
const MAX_VOCAB: usize = 1 << 22;

/// Bounds-checked little-endian reader over the file image.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// The next `n` bytes, or a `Truncated` error naming `what`.
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], EmbedError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(truncated(what, self.pos as u64, n as u64, self.buf.len())),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], EmbedError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, EmbedError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, EmbedError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, EmbedError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i32(&mut self, what: &str) -> Result<i32, EmbedError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, EmbedError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn f32(&mut self, what: &str) -> Result<f32, EmbedError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A non-negative `i32` count, bounded by `max`.
    pub(crate) fn count(&mut self, what: &str, max: usize) -> Result<usize, EmbedError> {
        let v = self.i32(what)?;
        if v < 0 || v as usize > max {
            return Err(malformed(format!("{what} is {v}, outside 0..={max}")));
        }
        Ok(v as usize)
    }
}

pub(crate) fn truncated(what: &str, start: u64, len: u64, file_len: usize) -> EmbedError {
    EmbedError::Truncated {
        what: what.to_string(),
        start,
        end: start.saturating_add(len),
        file_len: file_len as u64,
    }
}

pub(crate) fn malformed(msg: impl Into<String>) -> EmbedError {
    EmbedError::Malformed(msg.into())
}

/// Model dimensions from the file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Hidden width (384 for e5-small).
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    /// Width of the feed-forward layer (1536).
    pub ffn: usize,
    /// Rows of the word-embedding table (may exceed the tokenizer's pieces).
    pub vocab: usize,
    /// Position-embedding rows: the longest input, specials included.
    pub positions: usize,
    /// Token-type rows (only row 0 is used).
    pub token_types: usize,
}

/// The header: magic, version, shape, layer-norm epsilon, block size.
pub(crate) fn read_header(c: &mut Cursor<'_>) -> Result<(Shape, f32), EmbedError> {
    let len = c.buf.len();
    if len < 4 {
        return Err(truncated("magic", 0, 4, len));
    }
    let magic = c.array::<4>("magic")?;
    if &magic != MAGIC {
        return Err(EmbedError::BadMagic { found: magic });
    }
    let version = c.u32("version")?;
    if version != VERSION {
        return Err(EmbedError::UnsupportedVersion(version));
    }
    let hidden = c.count("hidden width", MAX_WIDTH)?;
    let layers = c.count("layer count", MAX_LAYERS)?;
    let heads = c.count("head count", MAX_WIDTH)?;
    let ffn = c.count("feed-forward width", MAX_WIDTH)?;
    let vocab = c.count("vocabulary rows", MAX_VOCAB)?;
    let positions = c.count("position rows", MAX_POSITIONS)?;
    let token_types = c.count("token-type rows", 1 << 10)?;
    let eps = c.f32("layer-norm epsilon")?;
    let block = c.count("quantisation block size", 1 << 16)?;
    if block != BLOCK {
        return Err(malformed(format!(
            "quantisation block size is {block}, this crate reads {BLOCK}"
        )));
    }
    let shape = Shape {
        hidden,
        layers,
        heads,
        ffn,
        vocab,
        positions,
        token_types,
    };
    if hidden != crate::EMBEDDING_DIM {
        return Err(malformed(format!(
            "hidden width is {hidden}, expected {}",
            crate::EMBEDDING_DIM
        )));
    }
    if heads == 0 || hidden % heads != 0 {
        return Err(malformed(format!(
            "{heads} heads do not divide width {hidden}"
        )));
    }
    if ffn == 0 || ffn % BLOCK != 0 || layers == 0 || token_types == 0 {
        return Err(malformed(format!("implausible shape {shape:?}")));
    }
    // Room for <s>, at least one content token and </s>.
    if positions < 3 {
        return Err(malformed(format!("only {positions} positions")));
    }
    if !(eps.is_finite() && eps > 0.0) {
        return Err(malformed(format!("layer-norm epsilon {eps}")));
    }
    Ok((shape, eps))
}

/// One entry of the tensor directory.
#[derive(Clone, Debug)]
pub(crate) struct TensorEntry {
    pub name: String,
    dtype: u8,
    /// Number of values (not bytes).
    count: usize,
    offset: usize,
    bytes: usize,
}

/// Reads the tensor directory and checks that every entry's bytes lie in the
/// file and agree with its type and value count.
pub(crate) fn read_directory(
    c: &mut Cursor<'_>,
    file_len: usize,
) -> Result<Vec<TensorEntry>, EmbedError> {
    let n = c.count("tensor count", 1 << 16)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let name_len = c.u16("tensor name length")? as usize;
        let name = c.take(name_len, "tensor name")?;
        let name = String::from_utf8_lossy(name).into_owned();
        let dtype = c.u8("tensor type")?;
        let count = c.u32("tensor value count")? as usize;
        let offset = c.u64("tensor offset")?;
        let bytes = c.u64("tensor byte length")?;
        let expect = match dtype {
            DTYPE_F32 => count as u64 * 4,
            DTYPE_Q4 if count % BLOCK == 0 => (count / BLOCK * BLOCK_BYTES) as u64,
            _ => {
                return Err(malformed(format!(
                    "tensor #{i} '{name}': type {dtype} with {count} values"
                )))
            }
        };
        if bytes != expect {
            return Err(malformed(format!(
                "tensor '{name}' says {bytes} bytes, its type and count need {expect}"
            )));
        }
        if offset.saturating_add(bytes) > file_len as u64 {
            return Err(truncated(
                &format!("tensor '{name}'"),
                offset,
                bytes,
                file_len,
            ));
        }
        out.push(TensorEntry {
            name,
            dtype,
            count,
            offset: offset as usize,
            bytes: bytes as usize,
        });
    }
    Ok(out)
}

/// Looks tensors up by name and checks their type and size.
pub(crate) struct Directory<'a> {
    pub entries: Vec<TensorEntry>,
    pub file: &'a [u8],
}

impl<'a> Directory<'a> {
    fn find(&self, name: &str) -> Result<&TensorEntry, EmbedError> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| malformed(format!("tensor '{name}' is missing")))
    }

    /// A float tensor of exactly `count` values, copied out (the file gives
    /// no alignment guarantee).
    pub(crate) fn floats(&self, name: &str, count: usize) -> Result<Vec<f32>, EmbedError> {
        let e = self.find(name)?;
        if e.dtype != DTYPE_F32 || e.count != count {
            return Err(malformed(format!(
                "tensor '{name}': expected {count} f32 values, found type {} with {}",
                e.dtype, e.count
            )));
        }
        let raw = &self.file[e.offset..e.offset + e.bytes];
        Ok(raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// A 4-bit tensor of `rows` x `cols`, returned as its byte range in the file.
    pub(crate) fn q4(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<std::ops::Range<usize>, EmbedError> {
        let e = self.find(name)?;
        if e.dtype != DTYPE_Q4 || e.count != rows * cols || cols % BLOCK != 0 {
            return Err(malformed(format!(
                "tensor '{name}': expected 4-bit {rows}x{cols}, found type {} with {} values",
                e.dtype, e.count
            )));
        }
        Ok(e.offset..e.offset + e.bytes)
    }
}

/// IEEE half precision to single precision (exact; handles subnormals,
/// infinities and NaN).
pub(crate) fn half_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal half: value = frac * 2^-24, exactly representable.
            let v = frac as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversion() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x3555), 0.333_251_95);
        assert_eq!(half_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(half_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert!(half_to_f32(0x7c00).is_infinite());
        assert!(half_to_f32(0x7e00).is_nan());
        assert_eq!(half_to_f32(0x7bff), 65504.0);
    }

    #[test]
    fn cursor_reports_truncation() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u16("a").unwrap(), 0x0201);
        let err = c.u32("the thing").unwrap_err().to_string();
        assert!(err.contains("the thing") && err.contains("2..6"), "{err}");
    }
}
