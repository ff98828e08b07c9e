//! The numeric kernels of the encoder: GEMM through the `gemm` crate (the one candle uses), and
//! fused element-wise passes written so LLVM vectorises them (branch-free, explicit accumulators).
//!
//! `gemm::gemm` is an `unsafe fn` over raw pointers and strides; [`matmul`] is the one safe
//! wrapper, and it checks that every matrix it is given fits inside its slice.
#![allow(unsafe_code)]

pub(crate) use gemm::Parallelism;

/// A row-major matrix view: `rows × cols`, element `(r, c)` at `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A dense row-major matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a dense `rows × cols` row-major matrix (no copy).
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self { data, rows: cols, cols: rows, row_stride: 1, col_stride: cols }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }
}

/// `out = accumulate·out + scale·(a × b)` for a dense row-major `out` with `out_stride` between rows.
///
/// Panics if a view does not fit its slice or the shapes disagree: both are programming errors.
pub(crate) fn matmul(
    out: &mut [f32],
    out_stride: usize,
    a: View<'_>,
    b: View<'_>,
    scale: f32,
    accumulate: bool,
    par: Parallelism,
) {
    assert_eq!(a.cols, b.rows, "inner dimensions");
    assert!(a.fits() && b.fits(), "operand views exceed their slices");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(m == 0 || n == 0 || (m - 1) * out_stride + n <= out.len(), "output view exceeds its slice");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: every index gemm touches is (r * stride + c * stride) for r < rows, c < cols of one
    // of the three views, all checked above to lie inside their slices; `out` is a unique borrow.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            scale,
            false,
            false,
            false,
            par,
        );
    }
}

/// e^x for f32, accurate to ~2 ulp on [-87, 88] (Cody-Waite reduction, degree-6 polynomial).
/// Branch-free so that loops over it vectorise; `f32::exp` is a libm call that does not.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // n = round(x / ln 2) by the magic-number trick (SSE2 has no vector round).
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.166_666_67 + r * (0.041_666_5 + r * (0.008_333_5 + r * 0.001_388_9)))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// GELU with the exact erf form the model was trained with: `0.5·x·(1 + erf(x/√2))`.
/// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), not the tanh approximation.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * exp(-z * z);
    let erf = if x < 0.0 { -erf_abs } else { erf_abs };
    0.5 * x * (1.0 + erf)
}

/// In place: `x = gelu(x)`.
pub(crate) fn gelu_in_place(xs: &mut [f32]) {
    for x in xs {
        *x = gelu(*x);
    }
}

/// Sum with eight independent accumulators, so it vectorises (float addition is not associative,
/// so LLVM will not reorder a plain sequential sum).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Softmax over one row, in place.
pub(crate) fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for x in row.iter_mut() {
        *x = exp(*x - max);
    }
    let inv = 1.0 / sum(row);
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// `x = LayerNorm(x + residual)` per row of width `gamma.len()`.
pub(crate) fn add_layer_norm(x: &mut [f32], residual: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32) {
    let width = gamma.len();
    for (r, row) in x.chunks_exact_mut(width).enumerate() {
        if let Some(res) = residual {
            for (a, b) in row.iter_mut().zip(&res[r * width..(r + 1) * width]) {
                *a += b;
            }
        }
        let mean = sum(row) / width as f32;
        let mut sq = [0f32; 8];
        for c in row.chunks_exact(8) {
            for i in 0..8 {
                let d = c[i] - mean;
                sq[i] += d * d;
            }
        }
        let var = sq.iter().sum::<f32>() / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *x = (*x - mean) * inv * g + b;
        }
    }
}

/// Fills each row of `out` (width `bias.len()`) with `bias`, ready for an accumulating matmul.
pub(crate) fn fill_rows(out: &mut [f32], bias: &[f32]) {
    for row in out.chunks_exact_mut(bias.len()) {
        row.copy_from_slice(bias);
    }
}

/// GFLOP/s of `[rows × 384] · [384 × 1536]`, the encoder's largest GEMM, best of `repeats`.
pub(crate) fn measure_gflops(threads: usize, rows: usize, repeats: usize) -> f64 {
    let a: Vec<f32> = (0..rows * 384).map(|i| (i % 17) as f32 * 0.01).collect();
    let w: Vec<f32> = (0..1536 * 384).map(|i| (i % 13) as f32 * 0.01).collect();
    let mut out = vec![0f32; rows * 1536];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().expect("rayon pool");
    let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    let mut best = f64::MAX;
    for _ in 0..repeats.max(1) {
        let start = std::time::Instant::now();
        pool.install(|| {
            matmul(&mut out, 1536, View::dense(&a, rows, 384), View::transposed(&w, 1536, 384), 1.0, false, par)
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * rows as f64 * 384.0 * 1536.0 / best / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_gelu_match_libm() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            let (fast, exact) = (exp(x), x.exp());
            assert!(((fast - exact) / exact).abs() < 2e-6, "exp({x}) = {fast} vs {exact}");
            if x.abs() > 6.0 {
                continue; // the series reference below loses precision past here
            }
            let g = gelu(x);
            let exact = 0.5 * x as f64 * (1.0 + erf64(x as f64 / std::f64::consts::SQRT_2));
            assert!((g as f64 - exact).abs() < 3e-6, "gelu({x}) = {g} vs {exact}");
        }
    }

    /// erf by its Taylor series in f64: accurate to ~1e-8 for |x| <= 4.3, a reference only.
    fn erf64(x: f64) -> f64 {
        let mut term = x;
        let mut total = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn matmul_with_transposed_weights_and_bias() {
        // a: 2×3, w: 2×3 (a Linear weight, out×in), out = a·wᵀ + bias.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0, 0.0, -1.0, 0.5, 0.5, 0.5];
        let mut out = [0.0; 4];
        fill_rows(&mut out, &[10.0, 20.0]);
        matmul(&mut out, 2, View::dense(&a, 2, 3), View::transposed(&w, 2, 3), 1.0, true, Parallelism::None);
        assert_eq!(out, [8.0, 23.0, 8.0, 27.5]);
    }

    #[test]
    fn softmax_and_layer_norm() {
        let mut row = [1.0, 2.0, 3.0];
        softmax_in_place(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((row[2] - 0.665_240_9).abs() < 1e-5);
        let mut x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        add_layer_norm(&mut x, None, &[1.0; 8], &[0.0; 8], 1e-12);
        assert!(sum(&x).abs() < 1e-5);
        assert!((x.iter().map(|v| v * v).sum::<f32>() / 8.0 - 1.0).abs() < 1e-4);
    }
}
