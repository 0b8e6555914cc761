//! The loaded model and the encoder's forward pass.
//!
//! A batch of windows (each `<s>` + up to 510 content tokens + `</s>`) is run
//! as one token matrix: the token-wise steps (linear layers, layer norms,
//! GELU) see all tokens at once, so each layer's weights are streamed through
//! the cache once per batch (and thread), not once per text; attention runs
//! within each window only.
//!
//! With several threads the tokens are split into contiguous ranges, one per
//! thread. Everything but attention is token-wise, and attention needs only
//! the keys and values of the whole window, so a layer costs one
//! synchronisation: each thread, for its own tokens, runs attention and the
//! rest of layer `l`, then the query/key/value projections of layer `l + 1`;
//! then all threads meet, so that the next step sees every token's keys and
//! values.

use std::ops::Range;

use crate::format::{self, malformed, Cursor, Directory, Shape};
use crate::kernels::{self, matmul, Kernel, Q4Matrix, QuantizedRows};
use crate::mathfn;
use crate::tokenizer::Tokenizer;
use crate::EmbedError;

/// Below this many tokens per thread, extra threads cost more than they save.
const MIN_TOKENS_PER_THREAD: usize = 4;

#[derive(Debug)]
pub(crate) struct Linear {
    w: Q4Matrix,
    b: Vec<f32>,
}

#[derive(Debug)]
pub(crate) struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

#[derive(Debug)]
pub(crate) struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_norm: Norm,
}

/// Everything read from the model file.
#[derive(Debug)]
pub(crate) struct Weights {
    pub shape: Shape,
    pub eps: f32,
    pub tokenizer: Tokenizer,
    /// The word-embedding table in the file's 4-bit layout (rows of
    /// `hidden / 32` blocks of 18 bytes).
    words: Vec<u8>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    pub kernel: Kernel,
}

impl Weights {
    pub(crate) fn parse(mut file: Vec<u8>) -> Result<Self, EmbedError> {
        let len = file.len();
        let mut c = Cursor::new(&file);
        let (shape, eps) = format::read_header(&mut c)?;
        let tokenizer = Tokenizer::read(&mut c)?;
        if tokenizer.len() > shape.vocab {
            return Err(malformed(format!(
                "{} pieces but only {} embedding rows",
                tokenizer.len(),
                shape.vocab
            )));
        }
        let entries = format::read_directory(&mut c, len)?;
        let dir = Directory {
            entries,
            file: &file,
        };
        let h = shape.hidden;
        let word_range = dir.q4("emb.word", shape.vocab, h)?;
        let linear = |name: &str, rows: usize, cols: usize| -> Result<Linear, EmbedError> {
            let r = dir.q4(&format!("{name}.w"), rows, cols)?;
            Ok(Linear {
                w: Q4Matrix::from_file(&dir.file[r], rows, cols),
                b: dir.floats(&format!("{name}.b"), rows)?,
            })
        };
        let norm = |name: &str| -> Result<Norm, EmbedError> {
            Ok(Norm {
                w: dir.floats(&format!("{name}.w"), h)?,
                b: dir.floats(&format!("{name}.b"), h)?,
            })
        };
        let mut layers = Vec::with_capacity(shape.layers);
        for l in 0..shape.layers {
            layers.push(Layer {
                q: linear(&format!("l{l}.q"), h, h)?,
                k: linear(&format!("l{l}.k"), h, h)?,
                v: linear(&format!("l{l}.v"), h, h)?,
                attn_out: linear(&format!("l{l}.ao"), h, h)?,
                attn_norm: norm(&format!("l{l}.aln"))?,
                ffn_in: linear(&format!("l{l}.fi"), shape.ffn, h)?,
                ffn_out: linear(&format!("l{l}.fo"), h, shape.ffn)?,
                ffn_norm: norm(&format!("l{l}.oln"))?,
            });
        }
        let positions = dir.floats("emb.pos", shape.positions * h)?;
        let token_type = dir.floats("emb.type", shape.token_types * h)?;
        let emb_norm = norm("emb.ln")?;
        // Keep only the word table of the file image: cut after it, move it
        // to the front, give the rest back.
        file.truncate(word_range.end);
        file.drain(..word_range.start);
        file.shrink_to_fit();
        Ok(Weights {
            shape,
            eps,
            tokenizer,
            words: file,
            positions,
            token_type,
            emb_norm,
            layers,
            kernel: Kernel::detect(),
        })
    }

    /// Bytes of memory held by the weights (for reporting).
    pub(crate) fn heap_bytes(&self) -> usize {
        let lin = |l: &Linear| l.w.heap_bytes() + l.b.len() * 4;
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                lin(&l.q)
                    + lin(&l.k)
                    + lin(&l.v)
                    + lin(&l.attn_out)
                    + lin(&l.ffn_in)
                    + lin(&l.ffn_out)
                    + 4 * 4 * self.shape.hidden
            })
            .sum();
        self.words.capacity() + self.positions.len() * 4 + layers
    }
}

/// A run of windows to encode together: token ids, positions, and for every
/// window the range of its tokens.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub ids: Vec<u32>,
    pub positions: Vec<u32>,
    pub windows: Vec<Range<usize>>,
    /// For every token, the index of its window.
    window_of: Vec<u32>,
}

impl Batch {
    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.positions.clear();
        self.windows.clear();
        self.window_of.clear();
    }

    pub(crate) fn tokens(&self) -> usize {
        self.ids.len()
    }

    /// Appends one window: `bos`, `content`, `eos`.
    pub(crate) fn push_window(&mut self, bos: u32, content: &[u32], eos: u32) {
        let start = self.ids.len();
        let w = self.windows.len() as u32;
        self.ids.push(bos);
        self.ids.extend_from_slice(content);
        self.ids.push(eos);
        let n = self.ids.len() - start;
        self.positions.extend(0..n as u32);
        self.window_of.extend(std::iter::repeat_n(w, n));
        self.windows.push(start..self.ids.len());
    }
}

/// Buffers for one forward pass, reusable across calls.
#[derive(Debug, Default)]
pub(crate) struct ForwardScratch {
    hidden: Vec<f32>,
    keys: Vec<f32>,
    values: Vec<f32>,
    next_keys: Vec<f32>,
    next_values: Vec<f32>,
    threads: Vec<ThreadScratch>,
}

/// Buffers owned by one worker thread, sized for its share of tokens.
#[derive(Debug, Default)]
struct ThreadScratch {
    queries: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    wide: Vec<f32>,
    quantized: QuantizedRows,
    scores: Vec<f32>,
}

/// Splits `0..n` into `parts` contiguous, nearly equal ranges.
fn split_even(n: usize, parts: usize) -> Vec<Range<usize>> {
    (0..parts)
        .map(|i| (n * i / parts)..(n * (i + 1) / parts))
        .collect()
}

/// Cuts `buf` (rows of `width`) into the mutable pieces for `parts`.
fn split_rows<'a>(
    mut buf: &'a mut [f32],
    parts: &[Range<usize>],
    width: usize,
) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let (head, tail) = buf.split_at_mut(p.len() * width);
        out.push(head);
        buf = tail;
    }
    out
}

/// What one thread works on during one step.
struct Share<'a> {
    tokens: Range<usize>,
    hidden: &'a mut [f32],
    next_keys: &'a mut [f32],
    next_values: &'a mut [f32],
    scratch: &'a mut ThreadScratch,
}

/// Read-only context of one step.
struct Step<'a> {
    w: &'a Weights,
    batch: &'a Batch,
    keys: &'a [f32],
    values: &'a [f32],
    /// The layer whose attention and feed-forward part runs, or `None` for
    /// the embedding step.
    layer: Option<usize>,
}

impl Weights {
    /// Runs the encoder over `batch`; returns the mean of the last hidden
    /// states over each window's tokens (specials included), not normalised.
    pub(crate) fn forward(
        &self,
        batch: &Batch,
        threads: usize,
        s: &mut ForwardScratch,
    ) -> Vec<[f32; crate::EMBEDDING_DIM]> {
        let h = self.shape.hidden;
        let t = batch.tokens();
        let threads = threads.clamp(1, (t / MIN_TOKENS_PER_THREAD).max(1));
        let parts = split_even(t, threads);
        // Every element of these is written before it is read, so stale
        // contents from an earlier call are harmless and need no zeroing.
        for buf in [
            &mut s.hidden,
            &mut s.keys,
            &mut s.values,
            &mut s.next_keys,
            &mut s.next_values,
        ] {
            buf.resize(t * h, 0.0);
        }
        s.threads
            .resize_with(threads.max(s.threads.len()), ThreadScratch::default);

        for layer in std::iter::once(None).chain((0..self.shape.layers).map(Some)) {
            let step = Step {
                w: self,
                batch,
                keys: &s.keys,
                values: &s.values,
                layer,
            };
            let hidden = split_rows(&mut s.hidden, &parts, h);
            let nk = split_rows(&mut s.next_keys, &parts, h);
            let nv = split_rows(&mut s.next_values, &parts, h);
            let shares = parts
                .iter()
                .cloned()
                .zip(hidden)
                .zip(nk.into_iter().zip(nv))
                .zip(s.threads.iter_mut())
                .map(
                    |(((tokens, hidden), (next_keys, next_values)), scratch)| Share {
                        tokens,
                        hidden,
                        next_keys,
                        next_values,
                        scratch,
                    },
                );
            if threads == 1 {
                for share in shares {
                    step.run(share);
                }
            } else {
                let step = &step;
                std::thread::scope(|scope| {
                    let mut shares: Vec<Share<'_>> = shares.collect();
                    let mine = shares.remove(0);
                    for share in shares {
                        scope.spawn(move || step.run(share));
                    }
                    step.run(mine);
                });
            }
            std::mem::swap(&mut s.keys, &mut s.next_keys);
            std::mem::swap(&mut s.values, &mut s.next_values);
        }

        batch
            .windows
            .iter()
            .map(|w| {
                let mut acc = [0f32; crate::EMBEDDING_DIM];
                for t in w.clone() {
                    for (a, v) in acc.iter_mut().zip(&s.hidden[t * h..(t + 1) * h]) {
                        *a += v;
                    }
                }
                let inv = 1.0 / w.len() as f32;
                acc.iter_mut().for_each(|a| *a *= inv);
                acc
            })
            .collect()
    }
}

impl Step<'_> {
    fn run(&self, share: Share<'_>) {
        let kernel = self.w.kernel;
        kernel.run(
            #[inline(always)]
            || self.run_features(share),
        )
    }

    #[inline(always)]
    fn run_features(&self, share: Share<'_>) {
        let w = self.w;
        let kernel = w.kernel;
        let h = w.shape.hidden;
        let Share {
            tokens,
            hidden,
            next_keys,
            next_values,
            scratch: ts,
        } = share;
        let n = tokens.len();
        match self.layer {
            None => self.embed_tokens(tokens.clone(), hidden),
            Some(l) => {
                let layer = &w.layers[l];
                ts.context.resize(n * h, 0.0);
                self.attention(tokens.clone(), ts);
                ts.quantized.quantize(&ts.context, h);
                ts.projected.resize(n * h, 0.0);
                let lin = &layer.attn_out;
                matmul(kernel, &lin.w, &lin.b, &ts.quantized, &mut ts.projected);
                for (row, res) in hidden.chunks_exact_mut(h).zip(ts.projected.chunks_exact(h)) {
                    mathfn::add_layer_norm(
                        row,
                        Some(res),
                        &layer.attn_norm.w,
                        &layer.attn_norm.b,
                        w.eps,
                    );
                }
                ts.quantized.quantize(hidden, h);
                ts.wide.resize(n * w.shape.ffn, 0.0);
                let lin = &layer.ffn_in;
                matmul(kernel, &lin.w, &lin.b, &ts.quantized, &mut ts.wide);
                mathfn::gelu_in_place(&mut ts.wide);
                ts.quantized.quantize(&ts.wide, w.shape.ffn);
                let lin = &layer.ffn_out;
                matmul(kernel, &lin.w, &lin.b, &ts.quantized, &mut ts.projected);
                for (row, res) in hidden.chunks_exact_mut(h).zip(ts.projected.chunks_exact(h)) {
                    mathfn::add_layer_norm(
                        row,
                        Some(res),
                        &layer.ffn_norm.w,
                        &layer.ffn_norm.b,
                        w.eps,
                    );
                }
            }
        }
        // Projections for the next layer's attention.
        let next = self.layer.map_or(0, |l| l + 1);
        if let Some(layer) = w.layers.get(next) {
            ts.quantized.quantize(hidden, h);
            ts.queries.resize(n * h, 0.0);
            matmul(
                kernel,
                &layer.q.w,
                &layer.q.b,
                &ts.quantized,
                &mut ts.queries,
            );
            matmul(kernel, &layer.k.w, &layer.k.b, &ts.quantized, next_keys);
            matmul(kernel, &layer.v.w, &layer.v.b, &ts.quantized, next_values);
        }
    }

    /// Word + position + token-type embeddings, then layer norm.
    #[inline(always)]
    fn embed_tokens(&self, tokens: Range<usize>, hidden: &mut [f32]) {
        let w = self.w;
        let h = w.shape.hidden;
        let row_bytes = h / format::BLOCK * format::BLOCK_BYTES;
        for (t, row) in tokens.zip(hidden.chunks_exact_mut(h)) {
            let id = self.batch.ids[t] as usize;
            kernels::dequantize_row(&w.words[id * row_bytes..(id + 1) * row_bytes], row);
            let p = self.batch.positions[t] as usize;
            let pos = &w.positions[p * h..(p + 1) * h];
            for ((r, p), ty) in row.iter_mut().zip(pos).zip(&w.token_type[..h]) {
                *r += p + ty;
            }
            mathfn::add_layer_norm(row, None, &w.emb_norm.w, &w.emb_norm.b, w.eps);
        }
    }

    /// Scaled dot-product attention of this share's tokens over the keys and
    /// values of their own window, into `ts.context`.
    #[inline(always)]
    fn attention(&self, tokens: Range<usize>, ts: &mut ThreadScratch) {
        let shape = self.w.shape;
        let h = shape.hidden;
        let dh = h / shape.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        for q in tokens.clone() {
            let win = &self.batch.windows[self.batch.window_of[q] as usize];
            let keys = &self.keys[win.start * h..win.end * h];
            let values = &self.values[win.start * h..win.end * h];
            let local = q - tokens.start;
            for head in 0..shape.heads {
                let cols = local * h + head * dh..local * h + (head + 1) * dh;
                kernels::attend(
                    self.w.kernel,
                    &ts.queries[cols.clone()],
                    keys,
                    values,
                    h,
                    head * dh,
                    scale,
                    &mut ts.scores,
                    &mut ts.context[cols],
                );
            }
        }
    }
}
