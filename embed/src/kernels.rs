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
//! Two kernels exist: a portable one (plain Rust, whatever the compiler makes
//! of it) and one using AVX2 and FMA through `pulp`'s safe intrinsics,
//! chosen at run time. The AVX2 one multiplies unsigned weight codes (0..=15)
//! by signed activation codes with `vpmaddubsw` and adds the "−8" part
//! afterwards as `−8 · scale_x · Σ code_x` per block, which it precomputes
//! when quantising (see [`QuantizedRows`]).

use crate::format::{half_to_f32, BLOCK, BLOCK_BYTES};

/// Output rows handled together by the AVX2 kernel (each weight row's block
/// is loaded once per tile and used for `TILE_TOKENS` tokens).
const TILE_ROWS: usize = 4;
/// Tokens handled together by the AVX2 kernel.
const TILE_TOKENS: usize = 2;
/// Scale arrays are padded to a multiple of this many blocks so the "−8"
/// correction can be summed eight blocks at a time.
const SCALE_PAD: usize = 8;

/// A weight matrix of 4-bit codes: `rows` outputs by `cols` inputs.
#[derive(Debug)]
pub(crate) struct Q4Matrix {
    pub rows: usize,
    pub cols: usize,
    /// `rows × cols/32` blocks, row-major; in each, byte `j` holds the code of
    /// input `j` in its low nibble and of input `j + 16` in its high nibble.
    codes: Vec<[u8; 16]>,
    /// One scale per block, same order as `codes`.
    scales: Vec<f32>,
}

impl Q4Matrix {
    /// Splits the file's interleaved blocks (half scale + 16 code bytes).
    pub(crate) fn from_file(raw: &[u8], rows: usize, cols: usize) -> Self {
        let blocks = rows * cols / BLOCK;
        debug_assert_eq!(raw.len(), blocks * BLOCK_BYTES);
        let mut codes = Vec::with_capacity(blocks);
        let mut scales = Vec::with_capacity(blocks);
        for b in raw.chunks_exact(BLOCK_BYTES) {
            scales.push(half_to_f32(u16::from_le_bytes([b[0], b[1]])));
            let mut c = [0u8; 16];
            c.copy_from_slice(&b[2..]);
            codes.push(c);
        }
        Q4Matrix {
            rows,
            cols,
            codes,
            scales,
        }
    }

    fn blocks_per_row(&self) -> usize {
        self.cols / BLOCK
    }
}

/// Dequantises one 4-bit row from the file layout (used for the word
/// embedding table, which is only ever read a row at a time).
pub(crate) fn dequantize_row(raw: &[u8], out: &mut [f32]) {
    for (b, o) in raw.chunks_exact(BLOCK_BYTES).zip(out.chunks_exact_mut(BLOCK)) {
        let d = half_to_f32(u16::from_le_bytes([b[0], b[1]]));
        for (j, &byte) in b[2..].iter().enumerate() {
            o[j] = ((byte & 0x0f) as i32 - 8) as f32 * d;
            o[j + 16] = ((byte >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Activations of several tokens, quantised to signed bytes in blocks of 32.
#[derive(Debug, Default)]
pub(crate) struct QuantizedRows {
    tokens: usize,
    cols: usize,
    /// `tokens × cols/32` blocks of codes.
    codes: Vec<[i8; 32]>,
    /// Per token, `padded(cols/32)` scales (zeros in the padding).
    scales: Vec<f32>,
    /// Per token, `padded(cols/32)` values `−8 · scale · Σ codes` of each
    /// block: the weight codes' offset of 8, folded into the activations.
    offsets: Vec<f32>,
}

fn padded(blocks: usize) -> usize {
    blocks.div_ceil(SCALE_PAD) * SCALE_PAD
}

impl QuantizedRows {
    /// Quantises `x` (`tokens × cols`, row-major), replacing the contents.
    pub(crate) fn quantize(&mut self, x: &[f32], cols: usize) {
        debug_assert_eq!(cols % BLOCK, 0);
        let tokens = x.len() / cols;
        let nb = cols / BLOCK;
        let np = padded(nb);
        self.tokens = tokens;
        self.cols = cols;
        self.codes.clear();
        self.codes.resize(tokens * nb, [0; 32]);
        self.scales.clear();
        self.scales.resize(tokens * np, 0.0);
        self.offsets.clear();
        self.offsets.resize(tokens * np, 0.0);
        for t in 0..tokens {
            let row = &x[t * cols..(t + 1) * cols];
            let codes = &mut self.codes[t * nb..(t + 1) * nb];
            let scales = &mut self.scales[t * np..t * np + nb];
            let offsets = &mut self.offsets[t * np..t * np + nb];
            for (b, block) in row.chunks_exact(BLOCK).enumerate() {
                let (scale, sum) = quantize_block(block.try_into().unwrap(), &mut codes[b]);
                scales[b] = scale;
                offsets[b] = -8.0 * scale * sum as f32;
            }
        }
    }
}

/// One block: scale = max|x| / 127, codes = round_half_even(x · (1/scale)),
/// clamped to i8. Returns the scale and the sum of the codes. The order of
/// operations (reciprocal first, then multiply) follows the reference, so
/// the codes come out identical for identical inputs.
#[inline(always)]
fn quantize_block(x: &[f32; 32], out: &mut [i8; 32]) -> (f32, i32) {
    let mut amax = 0.0f32;
    for v in x {
        amax = amax.max(v.abs());
    }
    let scale = amax / 127.0;
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    let mut sum = 0i32;
    for (o, v) in out.iter_mut().zip(x) {
        let q = (v * inv).round_ties_even().clamp(-128.0, 127.0) as i8;
        *o = q;
        sum += q as i32;
    }
    (scale, sum)
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

/// Per-thread buffers of the matrix kernel (the expanded weight tile).
#[derive(Debug, Default)]
pub(crate) struct MatmulScratch {
    wide: Vec<[u8; 32]>,
    signed: Vec<[i8; 32]>,
    scales: Vec<f32>,
}

/// `out[t][r] = bias[r] + Σ W[r][·]·x[t][·]` for every token of `x`.
pub(crate) fn matmul(
    kernel: Kernel,
    w: &Q4Matrix,
    bias: &[f32],
    x: &QuantizedRows,
    out: &mut [f32],
    scratch: &mut MatmulScratch,
) {
    assert_eq!(x.cols, w.cols);
    assert_eq!(bias.len(), w.rows);
    assert_eq!(out.len(), x.tokens * w.rows);
    match kernel {
        Kernel::Portable => matmul_portable(w, bias, x, out, scratch),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2(simd) => avx2::matmul(simd, w, bias, x, out, scratch),
    }
}

/// The straightforward kernel: weight codes widened to signed bytes
/// (`code − 8`), exact integer block sums, scaled and added in f32.
fn matmul_portable(
    w: &Q4Matrix,
    bias: &[f32],
    x: &QuantizedRows,
    out: &mut [f32],
    scratch: &mut MatmulScratch,
) {
    let nb = w.blocks_per_row();
    let np = padded(nb);
    let rows = w.rows;
    scratch.signed.clear();
    scratch.signed.resize(nb, [0; 32]);
    for r in 0..rows {
        let wcodes = &w.codes[r * nb..(r + 1) * nb];
        let wscales = &w.scales[r * nb..(r + 1) * nb];
        for (dst, src) in scratch.signed.iter_mut().zip(wcodes) {
            for j in 0..16 {
                dst[j] = (src[j] & 0x0f) as i8 - 8;
                dst[j + 16] = (src[j] >> 4) as i8 - 8;
            }
        }
        for t in 0..x.tokens {
            let codes = &x.codes[t * nb..(t + 1) * nb];
            let scales = &x.scales[t * np..t * np + nb];
            let mut acc = 0.0f32;
            for b in 0..nb {
                let dot: i32 = scratch.signed[b]
                    .iter()
                    .zip(&codes[b])
                    .map(|(&a, &c)| a as i32 * c as i32)
                    .sum();
                acc += wscales[b] * scales[b] * dot as f32;
            }
            out[t * rows + r] = bias[r] + acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use core::arch::x86_64::{__m256, __m256i};
    use pulp::bytemuck::cast;
    use pulp::x86::V3;

    pub(super) fn matmul(
        simd: V3,
        w: &Q4Matrix,
        bias: &[f32],
        x: &QuantizedRows,
        out: &mut [f32],
        scratch: &mut MatmulScratch,
    ) {
        simd.vectorize(Job {
            simd,
            w,
            bias,
            x,
            out,
            scratch,
        })
    }

    struct Job<'a> {
        simd: V3,
        w: &'a Q4Matrix,
        bias: &'a [f32],
        x: &'a QuantizedRows,
        out: &'a mut [f32],
        scratch: &'a mut MatmulScratch,
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
                scratch,
            } = self;
            let nb = w.blocks_per_row();
            let np = padded(nb);
            let rows = w.rows;
            assert_eq!(rows % TILE_ROWS, 0);
            scratch.wide.clear();
            scratch.wide.resize(TILE_ROWS * nb, [0; 32]);
            scratch.scales.clear();
            scratch.scales.resize(TILE_ROWS * np, 0.0);
            for r0 in (0..rows).step_by(TILE_ROWS) {
                // Widen this tile's weight codes to one byte each, in input
                // order, and gather its scales (padded with zeros).
                for i in 0..TILE_ROWS {
                    let src = &w.codes[(r0 + i) * nb..(r0 + i + 1) * nb];
                    for (dst, s) in scratch.wide[i * nb..(i + 1) * nb].iter_mut().zip(src) {
                        for j in 0..16 {
                            dst[j] = s[j] & 0x0f;
                            dst[j + 16] = s[j] >> 4;
                        }
                    }
                    scratch.scales[i * np..i * np + nb]
                        .copy_from_slice(&w.scales[(r0 + i) * nb..(r0 + i + 1) * nb]);
                }
                let tile = Tile {
                    wide: &scratch.wide,
                    wscales: &scratch.scales,
                    nb,
                    np,
                };
                let mut t = 0;
                while t + TILE_TOKENS <= x.tokens {
                    let y = tile.run::<TILE_TOKENS>(simd, x, t);
                    store(&y, out, bias, rows, r0, t);
                    t += TILE_TOKENS;
                }
                while t < x.tokens {
                    let y = tile.run::<1>(simd, x, t);
                    store(&y, out, bias, rows, r0, t);
                    t += 1;
                }
            }
        }
    }

    #[inline(always)]
    fn store<const C: usize>(
        y: &[[f32; C]; TILE_ROWS],
        out: &mut [f32],
        bias: &[f32],
        rows: usize,
        r0: usize,
        t0: usize,
    ) {
        for c in 0..C {
            let o = &mut out[(t0 + c) * rows + r0..(t0 + c) * rows + r0 + TILE_ROWS];
            for (i, o) in o.iter_mut().enumerate() {
                *o = bias[r0 + i] + y[i][c];
            }
        }
    }

    struct Tile<'a> {
        wide: &'a [[u8; 32]],
        wscales: &'a [f32],
        nb: usize,
        np: usize,
    }

    impl Tile<'_> {
        /// Dot products of this tile's `TILE_ROWS` rows with tokens
        /// `t0..t0 + C`, without bias.
        #[inline(always)]
        fn run<const C: usize>(&self, simd: V3, x: &QuantizedRows, t0: usize) -> [[f32; C]; TILE_ROWS] {
            let (nb, np) = (self.nb, self.np);
            let ones = simd.avx._mm256_set1_epi16(1);
            let zero = simd.avx._mm256_setzero_ps();
            let mut acc = [[zero; C]; TILE_ROWS];
            let codes: [&[[i8; 32]]; C] =
                core::array::from_fn(|c| &x.codes[(t0 + c) * nb..(t0 + c + 1) * nb]);
            let scales: [&[f32]; C] =
                core::array::from_fn(|c| &x.scales[(t0 + c) * np..(t0 + c + 1) * np]);
            let offsets: [&[f32]; C] =
                core::array::from_fn(|c| &x.offsets[(t0 + c) * np..(t0 + c + 1) * np]);
            let wide: [&[[u8; 32]]; TILE_ROWS] =
                core::array::from_fn(|i| &self.wide[i * nb..(i + 1) * nb]);
            let wscales: [&[f32]; TILE_ROWS] =
                core::array::from_fn(|i| &self.wscales[i * np..(i + 1) * np]);
            for b in 0..nb {
                let a: [__m256i; C] = core::array::from_fn(|c| cast(codes[c][b]));
                let da: [__m256; C] = core::array::from_fn(|c| simd.avx._mm256_set1_ps(scales[c][b]));
                for i in 0..TILE_ROWS {
                    let wv: __m256i = cast(wide[i][b]);
                    let dw = simd.avx._mm256_set1_ps(wscales[i][b]);
                    for c in 0..C {
                        let pairs = simd.avx2._mm256_maddubs_epi16(wv, a[c]);
                        let quads = simd.avx2._mm256_madd_epi16(pairs, ones);
                        let f = simd.avx._mm256_cvtepi32_ps(quads);
                        let s = simd.avx._mm256_mul_ps(dw, da[c]);
                        acc[i][c] = simd.fma._mm256_fmadd_ps(f, s, acc[i][c]);
                    }
                }
            }
            // The "−8" part: Σ_b scale_w[b] · offset_x[b], eight blocks at a time
            // (all lanes are summed below, so their order does not matter).
            for b8 in (0..np).step_by(SCALE_PAD) {
                for i in 0..TILE_ROWS {
                    let ws: [f32; 8] = wscales[i][b8..b8 + 8].try_into().unwrap();
                    let ws: __m256 = cast(ws);
                    for c in 0..C {
                        let off: [f32; 8] = offsets[c][b8..b8 + 8].try_into().unwrap();
                        acc[i][c] = simd.fma._mm256_fmadd_ps(ws, cast(off), acc[i][c]);
                    }
                }
            }
            core::array::from_fn(|i| core::array::from_fn(|c| hsum(simd, acc[i][c])))
        }
    }

    #[inline(always)]
    fn hsum(simd: V3, v: __m256) -> f32 {
        let lo = simd.avx._mm256_castps256_ps128(v);
        let hi = simd.avx._mm256_extractf128_ps::<1>(v);
        let s = simd.sse._mm_add_ps(lo, hi);
        let s = simd.sse._mm_add_ps(s, simd.sse._mm_movehl_ps(s, s));
        let s = simd.sse._mm_add_ss(s, simd.sse._mm_shuffle_ps::<0b01>(s, s));
        simd.sse._mm_cvtss_f32(s)
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
    fn by_definition(raw: &[u8], rows: usize, cols: usize, x: &QuantizedRows, bias: &[f32]) -> Vec<f64> {
        let nb = cols / BLOCK;
        let np = padded(nb);
        let mut out = vec![0f64; x.tokens * rows];
        for t in 0..x.tokens {
            for r in 0..rows {
                let mut w = vec![0f32; cols];
                dequantize_row(&raw[r * nb * BLOCK_BYTES..(r + 1) * nb * BLOCK_BYTES], &mut w);
                let mut acc = bias[r] as f64;
                for b in 0..nb {
                    let mut s = 0f64;
                    for j in 0..BLOCK {
                        s += w[b * BLOCK + j] as f64 * x.codes[t * nb + b][j] as f64;
                    }
                    acc += s * x.scales[t * np + b] as f64;
                }
                out[t * rows + r] = acc;
            }
        }
        out
    }

    #[test]
    fn quantize_block_matches_the_rule() {
        let mut x = [0f32; 32];
        x[0] = 1.27;
        x[1] = -0.635; // exactly half of the max: -63.5 rounds to even, -64
        x[2] = 0.005; // 0.5 after scaling: rounds to 0
        x[3] = 0.015; // 1.5: rounds to 2
        let mut q = [0i8; 32];
        let (scale, sum) = quantize_block(&x, &mut q);
        assert_eq!(scale, 1.27 / 127.0);
        assert_eq!(q[0], 127);
        assert_eq!(&q[1..4], &[-64, 0, 2]);
        assert_eq!(sum, q.iter().map(|&v| v as i32).sum::<i32>());
        // An all-zero block has scale 0 and zero codes.
        let (scale, sum) = quantize_block(&[0.0; 32], &mut q);
        assert_eq!((scale, sum), (0.0, 0));
        assert!(q.iter().all(|&v| v == 0));
    }

    #[test]
    fn kernels_agree_with_the_definition() {
        let mut n = Noise(0x9e37_79b9_7f4a_7c15);
        for &(rows, cols, tokens) in &[(8, 64, 1), (12, 384, 5), (16, 96, 3), (4, 1536, 2)] {
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
                matmul(k, &w, &bias, &q, &mut out, &mut MatmulScratch::default());
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
