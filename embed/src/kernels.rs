//! The integer matrix product at the heart of every layer, and the 8-bit
//! quantisation of activations that feeds it.
//!
//! A linear layer computes `y[t][r] = bias[r] + Σ_i W[r][i] · x[t][i]`. The
//! reference engine never dequantises `W`: it quantises each token's input
//! `x[t]` to signed bytes in blocks of 32 (one f32 scale per block, the block's
//! largest magnitude mapping to 127, rounding half to even), and sums, block
//! by block,
//!
//! ```text
//! scale_w[r][b] · scale_x[t][b] · Σ_j (code_w[r][b][j] − 8) · code_x[t][b][j]
//! ```
//!
//! where `code_w` is the unsigned 4-bit weight code. The inner sum is an exact
//! integer, so every kernel here returns the same values up to the order of
//! the f32 additions; matching the reference to a cosine of 0.999 needs these
//! integer codes, not a float approximation of the weights.
//!
//! # Layout and the AVX2 kernel
//!
//! `vpmaddubsw` multiplies unsigned by signed bytes and adds neighbouring
//! pairs into 16-bit lanes. Here the unsigned side is the activations, stored
//! offset by 128 (`code_x + 128`, 0..=255), and the signed side the weights
//! (`code_w − 8`, −8..=7); the offset comes back out exactly as
//! `−128 · Σ_j (code_w − 8)`, a per-row-block constant folded into
//! [`Q4Matrix`] when loading.
//!
//! Weights are stored for eight output rows at a time: one 32-byte vector
//! holds four consecutive inputs of each of the eight rows. Broadcasting four
//! activation bytes of one token and multiplying by that vector gives, in
//! 16-bit lanes `2m` and `2m + 1`, row `m`'s partial sums; eight such steps
//! cover a block of 32 inputs (at most 8 · 2 · 255 · 8 = 32640 per lane, so
//! no 16-bit overflow), and one `vpmaddwd` folds the lane pairs into the eight
//! rows' exact block sums. The float work per block is then three vector
//! instructions for eight outputs, and no horizontal sums are needed at all.

use crate::format::{half_to_f32, BLOCK, BLOCK_BYTES};
use crate::mathfn::round_to_int;

/// Output rows stored and computed together (one 256-bit vector of f32).
pub(crate) const ROW_GROUP: usize = 8;
/// Inputs covered by one broadcast of activation bytes.
const STEP: usize = 4;
/// Steps per block.
const STEPS: usize = BLOCK / STEP;
/// Row groups the AVX2 kernel runs together (sharing each broadcast of
/// activation bytes).
const GROUPS_PER_PASS: usize = 4;
/// Tokens the AVX2 kernel runs together (sharing each weight vector load).
const TOKENS_PER_PASS: usize = 1;

/// A weight matrix of 4-bit codes, `rows` outputs by `cols` inputs, in the
/// interleaved layout described in the module docs.
#[derive(Debug)]
pub(crate) struct Q4Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Per row group, per block, per step: `code − 8` of the four inputs of
    /// each of the eight rows (row `m` at bytes `4m..4m + 4`).
    packed: Vec<[i8; 32]>,
    /// Per row group, per block: the eight rows' scales.
    scales: Vec<[f32; ROW_GROUP]>,
    /// Per row group, per block: `−128 · scale · Σ_j (code_j − 8)` of the
    /// eight rows, which removes the activations' offset of 128.
    offsets: Vec<[f32; ROW_GROUP]>,
}

impl Q4Matrix {
    /// Rearranges the file's blocks (half scale + 16 code bytes, byte `j`
    /// holding input `j` in its low nibble and `j + 16` in its high one).
    /// `rows` must be a multiple of [`ROW_GROUP`].
    pub(crate) fn from_file(raw: &[u8], rows: usize, cols: usize) -> Self {
        assert_eq!(rows % ROW_GROUP, 0);
        let nb = cols / BLOCK;
        debug_assert_eq!(raw.len(), rows * nb * BLOCK_BYTES);
        let block = |r: usize, b: usize| {
            let at = (r * nb + b) * BLOCK_BYTES;
            let raw = &raw[at..at + BLOCK_BYTES];
            let scale = half_to_f32(u16::from_le_bytes([raw[0], raw[1]]));
            let mut codes = [0i8; BLOCK];
            for (j, &byte) in raw[2..].iter().enumerate() {
                codes[j] = (byte & 0x0f) as i8 - 8;
                codes[j + 16] = (byte >> 4) as i8 - 8;
            }
            (scale, codes)
        };
        let groups = rows / ROW_GROUP;
        let mut packed = Vec::with_capacity(groups * nb * STEPS);
        let mut scales = Vec::with_capacity(groups * nb);
        let mut offsets = Vec::with_capacity(groups * nb);
        for g in 0..groups {
            for b in 0..nb {
                let rowblocks: [(f32, [i8; BLOCK]); ROW_GROUP] =
                    core::array::from_fn(|m| block(g * ROW_GROUP + m, b));
                for s in 0..STEPS {
                    let mut v = [0i8; 32];
                    for (m, (_, codes)) in rowblocks.iter().enumerate() {
                        v[STEP * m..STEP * (m + 1)]
                            .copy_from_slice(&codes[STEP * s..STEP * (s + 1)]);
                    }
                    packed.push(v);
                }
                scales.push(core::array::from_fn(|m| rowblocks[m].0));
                offsets.push(core::array::from_fn(|m| {
                    let (scale, codes) = &rowblocks[m];
                    let sum: i32 = codes.iter().map(|&c| c as i32).sum();
                    -128.0 * scale * sum as f32
                }));
            }
        }
        Q4Matrix {
            rows,
            cols,
            packed,
            scales,
            offsets,
        }
    }

    fn blocks_per_row(&self) -> usize {
        self.cols / BLOCK
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.packed.capacity() * 32
            + (self.scales.capacity() + self.offsets.capacity()) * 4 * ROW_GROUP
    }
}

/// Dequantises one 4-bit row from the file layout (used for the word
/// embedding table, which is only ever read a row at a time).
pub(crate) fn dequantize_row(raw: &[u8], out: &mut [f32]) {
    for (b, o) in raw
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let d = half_to_f32(u16::from_le_bytes([b[0], b[1]]));
        for (j, &byte) in b[2..].iter().enumerate() {
            o[j] = ((byte & 0x0f) as i32 - 8) as f32 * d;
            o[j + 16] = ((byte >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Activations of several tokens, quantised to bytes in blocks of 32.
#[derive(Debug, Default)]
pub(crate) struct QuantizedRows {
    tokens: usize,
    cols: usize,
    /// `tokens × cols/32` blocks of `code + 128`.
    codes: Vec<[u8; BLOCK]>,
    /// `tokens × cols/32` scales.
    scales: Vec<f32>,
}

impl QuantizedRows {
    /// Quantises `x` (`tokens × cols`, row-major), replacing the contents.
    #[inline(always)]
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize) {
        debug_assert_eq!(cols % BLOCK, 0);
        let tokens = x.len() / cols;
        self.tokens = tokens;
        self.cols = cols;
        let blocks = tokens * cols / BLOCK;
        // Every entry is overwritten below.
        self.codes.resize(blocks, [0; BLOCK]);
        self.scales.resize(blocks, 0.0);
        for ((block, codes), scale) in x
            .chunks_exact(BLOCK)
            .zip(self.codes.iter_mut())
            .zip(self.scales.iter_mut())
        {
            *scale = quantize_block(block.try_into().unwrap(), codes);
        }
    }
}

/// One block: scale = max|x| / 127, code = round_half_even(x · (1/scale))
/// clamped to −128..=127, stored as `code + 128`. Returns the scale. The
/// order of operations (reciprocal first, then multiply) follows the
/// reference, so the codes come out identical for identical inputs.
///
/// Written without float comparisons or float-to-int casts (both of which
/// carry NaN rules that keep the compiler from vectorising): the largest
/// magnitude is the largest of the sign-cleared bit patterns, and rounding
/// uses the 1.5 · 2^23 trick, reading the integer off the sum's low bits.
#[inline(always)]
fn quantize_block(x: &[f32; BLOCK], out: &mut [u8; BLOCK]) -> f32 {
    let mut amax_bits = 0u32;
    for v in x {
        amax_bits = amax_bits.max(v.to_bits() & 0x7fff_ffff);
    }
    let scale = f32::from_bits(amax_bits) / 127.0;
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    for (o, v) in out.iter_mut().zip(x) {
        let q = round_to_int(v * inv).clamp(-128, 127);
        *o = (q + 128) as u8;
    }
    scale
}

/// Which matrix kernel this CPU runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kernel {
    /// Plain Rust, any CPU.
    Portable,
    /// AVX2 + FMA (x86-64-v3), detected at run time.
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

impl Kernel {
    /// The fastest kernel this CPU supports.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            return Kernel::Avx2(simd);
        }
        Kernel::Portable
    }

    /// Runs `f` compiled with this kernel's CPU features enabled, so that the
    /// float loops inside (layer norm, GELU, softmax) are vectorised for it.
    /// `f` and what it calls should be `#[inline(always)]` for that to work;
    /// otherwise they simply run as baseline code.
    #[inline(always)]
    pub(crate) fn run<R>(self, f: impl FnOnce() -> R) -> R {
        match self {
            Kernel::Portable => f(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(simd) => simd.vectorize(f),
        }
    }
}

/// `out[t][r] = bias[r] + Σ W[r][·]·x[t][·]` for every token of `x`.
pub(crate) fn matmul(
    kernel: Kernel,
    w: &Q4Matrix,
    bias: &[f32],
    x: &QuantizedRows,
    out: &mut [f32],
) {
    assert_eq!(x.cols, w.cols);
    assert_eq!(bias.len(), w.rows);
    assert_eq!(out.len(), x.tokens * w.rows);
    match kernel {
        Kernel::Portable => matmul_portable(w, bias, x, out),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2(simd) => avx2::matmul(simd, w, bias, x, out),
    }
}

/// The same arithmetic in plain Rust.
fn matmul_portable(w: &Q4Matrix, bias: &[f32], x: &QuantizedRows, out: &mut [f32]) {
    let nb = w.blocks_per_row();
    let rows = w.rows;
    for g in 0..rows / ROW_GROUP {
        let packed = &w.packed[g * nb * STEPS..(g + 1) * nb * STEPS];
        for t in 0..x.tokens {
            let codes = &x.codes[t * nb..(t + 1) * nb];
            let mut acc = [0f32; ROW_GROUP];
            for b in 0..nb {
                let mut sums = [0i32; ROW_GROUP];
                for s in 0..STEPS {
                    let wv = &packed[b * STEPS + s];
                    let a = &codes[b][STEP * s..STEP * (s + 1)];
                    for (m, sum) in sums.iter_mut().enumerate() {
                        for i in 0..STEP {
                            *sum += a[i] as i32 * wv[STEP * m + i] as i32;
                        }
                    }
                }
                let (ws, off) = (&w.scales[g * nb + b], &w.offsets[g * nb + b]);
                let da = x.scales[t * nb + b];
                for m in 0..ROW_GROUP {
                    acc[m] += (sums[m] as f32 * ws[m] + off[m]) * da;
                }
            }
            let o = &mut out[t * rows + g * ROW_GROUP..t * rows + (g + 1) * ROW_GROUP];
            for m in 0..ROW_GROUP {
                o[m] = bias[g * ROW_GROUP + m] + acc[m];
            }
        }
    }
}

/// One head's attention for one query: `out = softmax(scale · q·kⱼ) · vⱼ`
/// over the rows of `keys` and `values` (each row `stride` wide, the head's
/// columns starting at `col`). `scores` is scratch.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    kernel: Kernel,
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    stride: usize,
    col: usize,
    scale: f32,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let len = keys.len() / stride;
    scores.resize(len, 0.0);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2(simd) if query.len() == 32 => {
            avx2::attend(simd, query, keys, values, stride, col, scale, scores, out)
        }
        _ => attend_portable(query, keys, values, stride, col, scale, scores, out),
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attend_portable(
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    stride: usize,
    col: usize,
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let dh = query.len();
    for (j, s) in scores.iter_mut().enumerate() {
        let k = &keys[j * stride + col..j * stride + col + dh];
        let dot: f32 = query.iter().zip(k).map(|(a, b)| a * b).sum();
        *s = dot * scale;
    }
    crate::mathfn::softmax(scores);
    out.fill(0.0);
    for (j, &p) in scores.iter().enumerate() {
        crate::mathfn::axpy(p, &values[j * stride + col..j * stride + col + dh], out);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use core::arch::x86_64::{__m256, __m256i};
    use pulp::bytemuck::cast;
    use pulp::x86::V3;

    pub(super) fn matmul(simd: V3, w: &Q4Matrix, bias: &[f32], x: &QuantizedRows, out: &mut [f32]) {
        simd.vectorize(Job {
            simd,
            w,
            bias,
            x,
            out,
        })
    }

    struct Job<'a> {
        simd: V3,
        w: &'a Q4Matrix,
        bias: &'a [f32],
        x: &'a QuantizedRows,
        out: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Job<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Job {
                simd,
                w,
                bias,
                x,
                out,
            } = self;
            let groups = w.rows / ROW_GROUP;
            let mut g = 0;
            while g + GROUPS_PER_PASS <= groups {
                pass::<GROUPS_PER_PASS, TOKENS_PER_PASS>(simd, w, bias, x, out, g);
                g += GROUPS_PER_PASS;
            }
            while g < groups {
                pass::<1, TOKENS_PER_PASS>(simd, w, bias, x, out, g);
                g += 1;
            }
        }
    }

    #[inline(always)]
    fn load8(s: &[f32]) -> __m256 {
        let a: [f32; 8] = s[..8].try_into().unwrap();
        cast(a)
    }

    /// [`super::attend`] for a head width of 32: the query stays in four
    /// registers, four keys are scored at a time (their four sums gathered
    /// with horizontal adds), and the output accumulates in registers.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn attend(
        simd: V3,
        query: &[f32],
        keys: &[f32],
        values: &[f32],
        stride: usize,
        col: usize,
        scale: f32,
        scores: &mut [f32],
        out: &mut [f32],
    ) {
        let q: [__m256; 4] = core::array::from_fn(|i| load8(&query[8 * i..]));
        let row = |buf: &'_ [f32], j: usize| -> [__m256; 4] {
            let r = &buf[j * stride + col..j * stride + col + 32];
            core::array::from_fn(|i| load8(&r[8 * i..]))
        };
        let dot = |k: [__m256; 4]| {
            let mut a = simd.avx._mm256_mul_ps(q[0], k[0]);
            for i in 1..4 {
                a = simd.fma._mm256_fmadd_ps(q[i], k[i], a);
            }
            a
        };
        let len = scores.len();
        let mut j = 0;
        while j + 4 <= len {
            let d: [__m256; 4] = core::array::from_fn(|u| dot(row(keys, j + u)));
            let h01 = simd.avx._mm256_hadd_ps(d[0], d[1]);
            let h23 = simd.avx._mm256_hadd_ps(d[2], d[3]);
            let h = simd.avx._mm256_hadd_ps(h01, h23);
            let four = simd.sse._mm_add_ps(
                simd.avx._mm256_castps256_ps128(h),
                simd.avx._mm256_extractf128_ps::<1>(h),
            );
            let four: [f32; 4] = cast(four);
            for (s, v) in scores[j..j + 4].iter_mut().zip(four) {
                *s = v * scale;
            }
            j += 4;
        }
        while j < len {
            let v: [f32; 8] = cast(dot(row(keys, j)));
            scores[j] = v.iter().sum::<f32>() * scale;
            j += 1;
        }
        crate::mathfn::softmax(scores);
        let mut acc = [simd.avx._mm256_setzero_ps(); 4];
        for (j, &p) in scores.iter().enumerate() {
            let p = simd.avx._mm256_set1_ps(p);
            let v = row(values, j);
            for i in 0..4 {
                acc[i] = simd.fma._mm256_fmadd_ps(p, v[i], acc[i]);
            }
        }
        for (o, a) in out.chunks_exact_mut(8).zip(acc) {
            o.copy_from_slice(&cast::<__m256, [f32; 8]>(a));
        }
    }

    /// Row groups `g0..g0 + V`, for every token, `TT` tokens at a time
    /// (each weight vector loaded once is used for `TT` tokens).
    #[inline(always)]
    fn pass<const V: usize, const TT: usize>(
        simd: V3,
        w: &Q4Matrix,
        bias: &[f32],
        x: &QuantizedRows,
        out: &mut [f32],
        g0: usize,
    ) {
        let nb = w.blocks_per_row();
        let rows = w.rows;
        let ones = simd.avx._mm256_set1_epi16(1);
        let packed: [&[[i8; 32]]; V] =
            core::array::from_fn(|v| &w.packed[(g0 + v) * nb * STEPS..(g0 + v + 1) * nb * STEPS]);
        let scales: [&[[f32; 8]]; V] =
            core::array::from_fn(|v| &w.scales[(g0 + v) * nb..(g0 + v + 1) * nb]);
        let offsets: [&[[f32; 8]]; V] =
            core::array::from_fn(|v| &w.offsets[(g0 + v) * nb..(g0 + v + 1) * nb]);
        let bias: [__m256; V] = core::array::from_fn(|v| {
            let b: [f32; 8] = bias[(g0 + v) * ROW_GROUP..(g0 + v + 1) * ROW_GROUP]
                .try_into()
                .unwrap();
            cast(b)
        });
        let mut t0 = 0;
        while t0 < x.tokens {
            if t0 + TT > x.tokens {
                // The last few tokens, one at a time.
                for t in t0..x.tokens {
                    tile::<V, 1>(
                        simd, nb, rows, ones, &packed, &scales, &offsets, &bias, x, out, g0, t,
                    );
                }
                break;
            }
            tile::<V, TT>(
                simd, nb, rows, ones, &packed, &scales, &offsets, &bias, x, out, g0, t0,
            );
            t0 += TT;
        }
    }

    /// Row groups `g0..g0 + V` times tokens `t0..t0 + TT`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile<const V: usize, const TT: usize>(
        simd: V3,
        nb: usize,
        rows: usize,
        ones: __m256i,
        packed: &[&[[i8; 32]]; V],
        scales: &[&[[f32; 8]]; V],
        offsets: &[&[[f32; 8]]; V],
        bias: &[__m256; V],
        x: &QuantizedRows,
        out: &mut [f32],
        g0: usize,
        t0: usize,
    ) {
        let codes: [&[[u8; BLOCK]]; TT] =
            core::array::from_fn(|u| &x.codes[(t0 + u) * nb..(t0 + u + 1) * nb]);
        let da: [&[f32]; TT] =
            core::array::from_fn(|u| &x.scales[(t0 + u) * nb..(t0 + u + 1) * nb]);
        let mut acc: [[__m256; V]; TT] = [*bias; TT];
        for b in 0..nb {
            let mut lanes = [[simd.avx._mm256_setzero_si256(); V]; TT];
            for s in 0..STEPS {
                let bc: [__m256i; TT] = core::array::from_fn(|u| {
                    let a = &codes[u][b];
                    let four =
                        i32::from_le_bytes([a[4 * s], a[4 * s + 1], a[4 * s + 2], a[4 * s + 3]]);
                    simd.avx._mm256_set1_epi32(four)
                });
                for v in 0..V {
                    let wv: __m256i = cast(packed[v][b * STEPS + s]);
                    for u in 0..TT {
                        let prod = simd.avx2._mm256_maddubs_epi16(bc[u], wv);
                        lanes[u][v] = simd.avx2._mm256_add_epi16(lanes[u][v], prod);
                    }
                }
            }
            for u in 0..TT {
                let dab = simd.avx._mm256_set1_ps(da[u][b]);
                for v in 0..V {
                    let sums = simd
                        .avx
                        ._mm256_cvtepi32_ps(simd.avx2._mm256_madd_epi16(lanes[u][v], ones));
                    let scaled =
                        simd.fma
                            ._mm256_fmadd_ps(sums, cast(scales[v][b]), cast(offsets[v][b]));
                    acc[u][v] = simd.fma._mm256_fmadd_ps(scaled, dab, acc[u][v]);
                }
            }
        }
        for (u, acc) in acc.iter().enumerate() {
            let at = (t0 + u) * rows + g0 * ROW_GROUP;
            for (o, a) in out[at..at + V * ROW_GROUP]
                .chunks_exact_mut(ROW_GROUP)
                .zip(acc)
            {
                o.copy_from_slice(&cast::<__m256, [f32; 8]>(*a));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random stream (xorshift), for test data.
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn float(&mut self) -> f32 {
            (self.next() % 2001) as f32 / 1000.0 - 1.0
        }
    }

    fn random_matrix(rows: usize, cols: usize, n: &mut Noise) -> (Vec<u8>, Q4Matrix) {
        let mut raw = Vec::new();
        for _ in 0..rows * cols / BLOCK {
            // Scales between 2^-8 and 2^-5 as halves: exponent 7..=10.
            let h: u16 = (((7 + n.next() % 4) as u16) << 10) | (n.next() % 1024) as u16;
            raw.extend_from_slice(&h.to_le_bytes());
            for _ in 0..16 {
                raw.push(n.next() as u8);
            }
        }
        let m = Q4Matrix::from_file(&raw, rows, cols);
        (raw, m)
    }

    /// Reference result in f64 straight from the definition.
    fn by_definition(
        raw: &[u8],
        rows: usize,
        cols: usize,
        x: &QuantizedRows,
        bias: &[f32],
    ) -> Vec<f64> {
        let nb = cols / BLOCK;
        let mut out = vec![0f64; x.tokens * rows];
        for t in 0..x.tokens {
            for r in 0..rows {
                let mut w = vec![0f32; cols];
                dequantize_row(
                    &raw[r * nb * BLOCK_BYTES..(r + 1) * nb * BLOCK_BYTES],
                    &mut w,
                );
                let mut acc = bias[r] as f64;
                for b in 0..nb {
                    let mut s = 0f64;
                    for j in 0..BLOCK {
                        let code = x.codes[t * nb + b][j] as i32 - 128;
                        s += w[b * BLOCK + j] as f64 * code as f64;
                    }
                    acc += s * x.scales[t * nb + b] as f64;
                }
                out[t * rows + r] = acc;
            }
        }
        out
    }

    #[test]
    fn attention_kernels_agree() {
        let mut n = Noise(42);
        let stride = 96;
        for len in [1, 3, 4, 7, 13] {
            let keys: Vec<f32> = (0..len * stride).map(|_| n.float()).collect();
            let values: Vec<f32> = (0..len * stride).map(|_| n.float()).collect();
            let q: Vec<f32> = (0..32).map(|_| 3.0 * n.float()).collect();
            let mut want = vec![0f32; 32];
            let mut scores = vec![0f32; len];
            attend_portable(&q, &keys, &values, stride, 32, 0.17, &mut scores, &mut want);
            // Straight from the definition, in f64.
            let dots: Vec<f64> = (0..len)
                .map(|j| {
                    (0..32)
                        .map(|e| q[e] as f64 * keys[j * stride + 32 + e] as f64)
                        .sum::<f64>()
                        * 0.17
                })
                .collect();
            let m = dots.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = dots.iter().map(|d| (d - m).exp()).sum();
            for e in 0..32 {
                let v: f64 = (0..len)
                    .map(|j| (dots[j] - m).exp() / z * values[j * stride + 32 + e] as f64)
                    .sum();
                assert!((want[e] as f64 - v).abs() < 1e-5, "portable len {len}");
            }
            let mut got = vec![0f32; 32];
            let mut scratch = Vec::new();
            attend(
                Kernel::detect(),
                &q,
                &keys,
                &values,
                stride,
                32,
                0.17,
                &mut scratch,
                &mut got,
            );
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "len {len}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn quantize_block_matches_the_rule() {
        let mut x = [0f32; 32];
        x[0] = 1.27;
        x[1] = -0.635; // exactly half of the max: -63.5 rounds to even, -64
        x[2] = 0.005; // 0.5 after scaling: rounds to 0
        x[3] = 0.015; // 1.5: rounds to 2
        x[4] = -1.27;
        let mut q = [0u8; 32];
        let scale = quantize_block(&x, &mut q);
        assert_eq!(scale, 1.27 / 127.0);
        let codes: Vec<i32> = q.iter().map(|&c| c as i32 - 128).collect();
        assert_eq!(&codes[..6], &[127, -64, 0, 2, -127, 0]);
        // An all-zero block has scale 0 and zero codes.
        assert_eq!(quantize_block(&[0.0; 32], &mut q), 0.0);
        assert!(q.iter().all(|&v| v == 128));
    }

    #[test]
    fn kernels_agree_with_the_definition() {
        let mut n = Noise(0x9e37_79b9_7f4a_7c15);
        for &(rows, cols, tokens) in &[(8, 64, 1), (48, 384, 5), (16, 96, 3), (40, 1536, 2)] {
            let (raw, w) = random_matrix(rows, cols, &mut n);
            let xs: Vec<f32> = (0..tokens * cols).map(|_| n.float()).collect();
            let bias: Vec<f32> = (0..rows).map(|_| n.float()).collect();
            let mut q = QuantizedRows::default();
            q.quantize(&xs, cols);
            let want = by_definition(&raw, rows, cols, &q, &bias);
            let mut kernels = vec![Kernel::Portable];
            if !matches!(Kernel::detect(), Kernel::Portable) {
                kernels.push(Kernel::detect());
            }
            for k in kernels {
                let mut out = vec![0f32; tokens * rows];
                matmul(k, &w, &bias, &q, &mut out);
                for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (1.0 + want.abs());
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "{k:?} {rows}x{cols} t={tokens} at {i}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
