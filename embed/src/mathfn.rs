//! Float helpers written so the compiler can vectorise them: no calls into
//! the C library inside loops, branch-free bodies, fixed-size chunks.
//!
//! The reference engine calls the C library's `expf` and `erff`; the
//! approximations here are within a few units in the last place of those
//! (`exp`) or within 2e-7 absolute (`erf`), far below what the 8-bit
//! activation quantisation that follows every use resolves.

/// Width of the fixed-size chunks the loops below work on.
pub(crate) const LANES: usize = 8;

/// e^x for x in [-87, 88] (inputs outside are clamped; the softmax only
/// passes values ≤ 0, and GELU passes −x²).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part with few significant bits and the rest, so that
    // n · LN2_HIGH is exact.
    const LN2_HIGH: f32 = 0.693_145_75;
    const LN2_LOW: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let k = round_to_int(x * LOG2_E);
    let n = k as f32;
    let r = (x - n * LN2_HIGH) - n * LN2_LOW;
    // Taylor series to r^7 on |r| <= ln2/2: relative error < 3e-9 before
    // rounding.
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let two_n = f32::from_bits(((k + 127) as u32) << 23);
    p * two_n
}

/// The Gauss error function, by Abramowitz & Stegun 7.1.26
/// (absolute error below 1.5e-7).
#[inline(always)]
#[allow(clippy::excessive_precision)] // the published coefficients, as printed
pub(crate) fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_592;
    const A2: f32 = -0.284_496_736;
    const A3: f32 = 1.421_413_741;
    const A4: f32 = -1.453_152_027;
    const A5: f32 = 1.061_405_429;
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// GELU with the exact (erf) form, as BERT-style encoders use it.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Applies GELU in place.
#[inline(always)]
pub(crate) fn gelu_in_place(xs: &mut [f32]) {
    let mut chunks = xs.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for v in c {
            *v = gelu(*v);
        }
    }
    for v in chunks.into_remainder() {
        *v = gelu(*v);
    }
}

/// Σ xs, summed in `LANES` interleaved partial sums.
#[inline(always)]
pub(crate) fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

/// `y += a · x`.
#[inline(always)]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Layer normalisation of one row, in place, after adding `residual`:
/// `row = (row + residual − mean) / sqrt(var + eps) · weight + bias`.
#[inline(always)]
pub(crate) fn add_layer_norm(
    row: &mut [f32],
    residual: Option<&[f32]>,
    weight: &[f32],
    bias: &[f32],
    eps: f32,
) {
    if let Some(res) = residual {
        for (r, v) in row.iter_mut().zip(res) {
            *r += v;
        }
    }
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut acc = [0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            let d = v - mean;
            *a += d * d;
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    let var = (acc.iter().sum::<f32>() + tail) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((r, w), b) in row.iter_mut().zip(weight).zip(bias) {
        *r = (*r - mean) * inv * w + b;
    }
}

/// The largest value (of finite inputs), through an order-preserving map
/// of the bit patterns to integers, which vectorises.
#[inline(always)]
pub(crate) fn max(xs: &[f32]) -> f32 {
    let key = |v: f32| {
        let i = v.to_bits() as i32;
        i ^ ((i >> 31) & 0x7fff_ffff)
    };
    let m = xs.iter().fold(i32::MIN, |m, &v| m.max(key(v)));
    let i = m ^ ((m >> 31) & 0x7fff_ffff);
    f32::from_bits(i as u32)
}

/// Softmax of `xs` in place.
#[inline(always)]
pub(crate) fn softmax(xs: &mut [f32]) {
    let max = max(xs);
    for v in xs.iter_mut() {
        *v = exp(*v - max);
    }
    let inv = 1.0 / sum(xs);
    for v in xs.iter_mut() {
        *v *= inv;
    }
}

/// Rounds to the nearest integer, ties to even, for |v| < 2^22.
#[inline(always)]
pub(crate) fn round_to_int(v: f32) -> i32 {
    const ROUNDER: f32 = 12_582_912.0; // 1.5 · 2^23
    (v + ROUNDER).to_bits() as i32 - ROUNDER.to_bits() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_close_to_std() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let rel = ((exp(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn erf_is_close() {
        // Reference values of erf.
        for (x, want) in [
            (0.0f32, 0.0f64),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (-1.5, -0.966_105_146_475_310_7),
            (2.5, 0.999_593_047_982_555),
            (6.0, 1.0),
        ] {
            assert!((erf(x) as f64 - want).abs() < 3e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut row: Vec<f32> = (0..16).map(|i| i as f32).collect();
        add_layer_norm(&mut row, None, &[1.0; 16], &[0.0; 16], 1e-12);
        assert!(sum(&row).abs() < 1e-5);
        let var: f32 = row.iter().map(|v| v * v).sum::<f32>() / 16.0;
        assert!((var - 1.0).abs() < 1e-5);
    }

    #[test]
    fn max_of_mixed_signs() {
        assert_eq!(max(&[-3.0, -1.5, -7.0]), -1.5);
        assert_eq!(max(&[-3.0, 2.5, 0.0, -0.0, 1.0]), 2.5);
        assert_eq!(max(&[-0.0]), -0.0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut xs = vec![1.0, 2.0, 3.0, -50.0, 0.5];
        softmax(&mut xs);
        assert!((xs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(xs[2] > xs[1] && xs[1] > xs[0]);
    }
}
