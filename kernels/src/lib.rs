//! The arithmetic of Whisper's forward pass, written so that every CPU gives
//! the same bits.
//!
//! A float sum depends on its order. Libraries that pick a kernel by the CPU
//! at run time (AVX2 or AVX-512 widths, cache-sized blocks, a thread count)
//! sum in different orders on different machines, and a model's text can
//! change with them. Here the order is part of the algorithm, never of the
//! machine:
//!
//! - a dot product keeps [`LANES`] partial sums, element `i` going to lane
//!   `i % LANES` in increasing `i`, each step one fused multiply-add; the
//!   lanes are then added in one fixed tree, and the last `n % LANES`
//!   elements in order;
//! - a weighted sum of rows (attention's values) adds row after row;
//! - `exp`, `erf` and `sqrt` come from the `libm` crate (or are exact), not
//!   the platform's maths library, whose variants differ by CPU.
//!
//! How many outputs one pass computes, how work is split between threads
//! and which vector width the compiler uses change nothing: each output is
//! computed by the same operations in the same order. The kernels are
//! compiled twice, once with AVX2 and FMA, and picked at run time; the
//! fused multiply-add is one correctly rounded operation in both, in
//! hardware or in the C library's `fmaf`, so both give the same bits (the
//! second only slowly, on CPUs older than 2013).
//!
//! In WebAssembly (the browser app) each fused multiply-add is a multiply
//! then an add instead, on SIMD128 lanes (hand-written micro-kernels):
//! the same order, so the same bits in every browser on every machine, but
//! not native's bits (see `MulAdd`).

#![deny(unsafe_code)]
#![warn(missing_docs)]

use rayon::prelude::*;

/// One step of every sum here: `self * b + c`.
///
/// Natively a fused multiply-add, rounded once (in hardware, or the C
/// library's exact `fmaf`). wasm32 has no fused multiply-add instruction,
/// and an exact one in software costs about 30 times a vector multiply and
/// add, so there it is a multiply then an add, each rounded: the page's
/// bits are the same on every machine and browser (wasm's float operations
/// are IEEE 754's), but not native's.
trait MulAdd {
    fn madd(self, b: f32, c: f32) -> f32;
}

impl MulAdd for f32 {
    #[inline(always)]
    fn madd(self, b: f32, c: f32) -> f32 {
        #[cfg(not(target_arch = "wasm32"))]
        return self.mul_add(b, c);
        #[cfg(target_arch = "wasm32")]
        return self * b + c;
    }
}

/// Partial sums a dot product keeps.
pub const LANES: usize = 8;

/// Below this many multiply-adds a product runs on the calling thread.
const PARALLEL_WORK: usize = 1 << 18;

/// Weights in 8 bits: blocks of [`Q8_BLOCK`] values sharing one scale (the
/// layout of ggml's q8_0, with `f32` scales), for the layers a decoder step
/// reads whole.
pub const Q8_BLOCK: usize = 32;

/// A weight matrix `[outputs, inputs]`, row-major.
#[derive(Clone)]
pub enum Weights {
    /// Floats.
    F32(Vec<f32>),
    /// 8-bit values and a scale per block of [`Q8_BLOCK`] along a row
    /// (made by [`Weights::quantize`] only).
    Q8(Q8),
}

/// 8-bit weights: values in -127..=127, row-major, and a scale per block.
#[derive(Clone)]
pub struct Q8 {
    q: Vec<i8>,
    scale: Vec<f32>,
    inputs: usize,
}

impl Weights {
    /// 8-bit weights of `w` (`inputs` a row, a multiple of [`Q8_BLOCK`]):
    /// each block scaled by its largest magnitude over 127, rounded to
    /// nearest. The dequantised weight is `q as f32 * scale`.
    pub fn quantize(w: &[f32], inputs: usize) -> Option<Weights> {
        if inputs == 0 || !inputs.is_multiple_of(Q8_BLOCK) || !w.len().is_multiple_of(inputs) {
            return None;
        }
        let (q, scale) = quantize_blocks(w);
        Some(Weights::Q8(Q8 { q, scale, inputs }))
    }
}

/// `y[t][o] = b[o] + x[t] · w[o]` for `rows` rows of `x` (`inputs` wide):
/// `y` is `[rows, outputs]`. With 8-bit weights, each row of `x` is made 8
/// bits too (blocks of [`Q8_BLOCK`], as the weights) and each group of four
/// products summed as integers, exactly; only the groups' scaled sums are
/// floats, in [`LANES`] lanes.
pub fn linear(x: &[f32], inputs: usize, w: &Weights, bias: Option<&[f32]>, y: &mut [f32]) {
    let rows = x.len() / inputs.max(1);
    if rows == 0 {
        return;
    }
    let outputs = y.len() / rows;
    debug_assert_eq!(rows * outputs, y.len());
    if let Weights::Q8(q) = w {
        // Made for rows of another width: a caller's bug, never the data's.
        assert_eq!(q.inputs, inputs, "8-bit weights made for other rows");
    }
    let xq = match w {
        Weights::F32(_) => None,
        Weights::Q8(_) => Some(quantize_blocks(x)),
    };
    // Rows `r0..r1`, outputs `first..` as wide as `y` holds.
    let tile = |r0: usize, r1: usize, first: usize, y: &mut [f32]| {
        let width = y.len() / (r1 - r0);
        match (w, &xq) {
            (Weights::Q8(Q8 { q, scale, .. }), Some((xq, xd))) => tile_q8(
                &xq[r0 * inputs..r1 * inputs],
                &xd[r0 * inputs / Q8_BLOCK..r1 * inputs / Q8_BLOCK],
                inputs,
                (q, scale),
                bias,
                first,
                y,
                width,
            ),
            (Weights::F32(w), _) => tile_rows(
                &x[r0 * inputs..r1 * inputs],
                inputs,
                w,
                bias,
                first,
                y,
                width,
            ),
            // `xq` is made whenever the weights are 8-bit.
            (Weights::Q8(_), None) => {}
        }
    };
    let work = rows * outputs * inputs;
    let threads = rayon::current_num_threads();
    if work < PARALLEL_WORK || threads == 1 {
        tile(0, rows, 0, y);
    } else if rows >= 2 * threads {
        // Each task a run of rows, all outputs.
        let per = rows.div_ceil(2 * threads).max(1);
        y.par_chunks_mut(per * outputs)
            .enumerate()
            .for_each(|(i, y)| tile(i * per, i * per + y.len() / outputs, 0, y));
    } else {
        // Few rows (a decoder step): each task a run of outputs, row by row.
        let per = outputs.div_ceil(2 * threads).next_multiple_of(8);
        for (r, yr) in y.chunks_exact_mut(outputs).enumerate() {
            yr.par_chunks_mut(per)
                .enumerate()
                .for_each(|(i, y)| tile(r, r + 1, i * per, y));
        }
    }
}

/// Outputs `first..first + width` of every row of 8-bit `xq` (scales `xd`)
/// against 8-bit weights, into `y` (`[rows, width]`).
#[allow(clippy::too_many_arguments)] // reason: one tile's inputs, weights and place, as `tile_rows` plus the scales
fn tile_q8(
    xq: &[i8],
    xd: &[f32],
    inputs: usize,
    (wq, wd): (&[i8], &[f32]),
    bias: Option<&[f32]>,
    first: usize,
    y: &mut [f32],
    width: usize,
) {
    const R: usize = 4;
    let rows = xq.len() / inputs;
    let blocks = inputs / Q8_BLOCK;
    #[cfg(target_arch = "x86_64")]
    let avx = fma();
    let mut o = 0;
    while o < width {
        let n = R.min(width - o);
        let at = first + o;
        let row = |k: usize| at + k.min(n - 1);
        let q: [&[i8]; R] = std::array::from_fn(|k| &wq[row(k) * inputs..(row(k) + 1) * inputs]);
        let d: [&[f32]; R] = std::array::from_fn(|k| &wd[row(k) * blocks..(row(k) + 1) * blocks]);
        for r in 0..rows {
            let (xr, dr) = (
                &xq[r * inputs..(r + 1) * inputs],
                &xd[r * blocks..(r + 1) * blocks],
            );
            #[cfg(target_arch = "x86_64")]
            let sums = if avx {
                // SAFETY: `fma()` said the CPU has AVX2 and FMA.
                #[allow(unsafe_code)]
                // reason: the AVX2 and FMA micro-kernel, on a CPU checked to have both
                unsafe {
                    dots_q8_avx(xr, dr, q, d)
                }
            } else {
                dots_q8(xr, dr, q, d)
            };
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            let sums = if simd() {
                simd128::dots_q8(xr, dr, q, d)
            } else {
                dots_q8(xr, dr, q, d)
            };
            #[cfg(not(any(
                target_arch = "x86_64",
                all(target_arch = "wasm32", target_feature = "simd128")
            )))]
            let sums = dots_q8(xr, dr, q, d);
            let mut eight = [0.0f32; 8];
            eight[..R].copy_from_slice(&sums);
            put(y, r * width + o, n, &eight, bias, at);
        }
        o += n;
    }
}

/// `N` dot products of 8-bit blocks: in block `b`, lane `l` is the integer
/// sum of elements `4l..4l + 4` (exact), added to the lane's float sum as
/// one multiply-add ([`MulAdd`]) by the product of the two scales; then the lanes'
/// fixed tree.
#[inline(always)]
fn dots_q8<const N: usize>(xq: &[i8], xd: &[f32], wq: [&[i8]; N], wd: [&[f32]; N]) -> [f32; N] {
    let mut acc = [[0.0f32; LANES]; N];
    for (b, xb) in xq.chunks_exact(Q8_BLOCK).enumerate() {
        for k in 0..N {
            let wb = &wq[k][b * Q8_BLOCK..(b + 1) * Q8_BLOCK];
            let d = xd[b] * wd[k][b];
            for (lane, (x4, w4)) in acc[k]
                .iter_mut()
                .zip(xb.chunks_exact(4).zip(wb.chunks_exact(4)))
            {
                let s: i32 = x4
                    .iter()
                    .zip(w4)
                    .map(|(x, w)| i32::from(*x) * i32::from(*w))
                    .sum();
                *lane = d.madd(s as f32, *lane);
            }
        }
    }
    std::array::from_fn(|k| reduce(&acc[k]))
}

/// [`dots_q8`] with AVX2 and FMA: `|x|` times `w` signed as `x` (the same
/// integer products), pairs then fours summed as integers, the same fused
/// multiply-adds per lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)] // reason: unaligned vector loads, each inside the slices it reads (checked below)
fn dots_q8_avx<const N: usize>(xq: &[i8], xd: &[f32], wq: [&[i8]; N], wd: [&[f32]; N]) -> [f32; N] {
    use std::arch::x86_64::{
        __m256, __m256i, _mm256_cvtepi32_ps, _mm256_fmadd_ps, _mm256_loadu_si256,
        _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_set1_epi16, _mm256_set1_ps,
        _mm256_setzero_ps, _mm256_sign_epi8, _mm256_storeu_ps,
    };
    let blocks = xd.len();
    assert!(xq.len() == blocks * Q8_BLOCK);
    assert!(wq.iter().all(|w| w.len() == xq.len()) && wd.iter().all(|d| d.len() == blocks));
    let ones = _mm256_set1_epi16(1);
    let mut acc: [__m256; N] = [_mm256_setzero_ps(); N];
    for b in 0..blocks {
        // SAFETY: block `b` is inside `xq` (checked above): 32 bytes.
        let xv = unsafe { _mm256_loadu_si256(xq.as_ptr().add(b * Q8_BLOCK).cast::<__m256i>()) };
        let ax = _mm256_sign_epi8(xv, xv);
        for k in 0..N {
            // SAFETY: block `b` is inside `wq[k]` (checked above).
            let wv =
                unsafe { _mm256_loadu_si256(wq[k].as_ptr().add(b * Q8_BLOCK).cast::<__m256i>()) };
            let pairs = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv, xv));
            let fours = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(xd[b] * wd[k][b]), fours, acc[k]);
        }
    }
    std::array::from_fn(|k| {
        let mut lanes = [0.0f32; LANES];
        // SAFETY: `lanes` holds LANES floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[k]) };
        reduce(&lanes)
    })
}

/// 8-bit values of `x` in blocks of [`Q8_BLOCK`] and each block's scale:
/// its largest magnitude over 127, values rounded to nearest.
fn quantize_blocks(x: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(x.len());
    let mut scale = Vec::with_capacity(x.len() / Q8_BLOCK);
    for block in x.chunks_exact(Q8_BLOCK) {
        let max = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = max / 127.0;
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        scale.push(d);
        q.extend(
            block
                .iter()
                .map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scale)
}

/// Outputs `first..first + width` of every row of `x` into `y` (`[rows, width]`).
fn tile_rows(
    x: &[f32],
    inputs: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    first: usize,
    y: &mut [f32],
    width: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked by `fma`), all the
        // function's target features need.
        #[allow(unsafe_code)]
        // reason: calling the AVX2 and FMA build, after checking the CPU has both
        return unsafe { tile_rows_fma(x, inputs, w, bias, first, y, width) };
    }
    tile_rows_with::<false>(x, inputs, w, bias, first, y, width)
}

/// Set: the kernels run their portable build even where the CPU has AVX2
/// and FMA, or wasm32 SIMD128 (as on a CPU without them; for tests: the
/// bits are the same).
static PORTABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs the portable build of every kernel from now on (`true`), or the
/// CPU's best again (`false`). The results are the same bits either way;
/// the portable build is slow on x86-64, where its fused multiply-adds are
/// the C library's. For tests and benchmarks.
pub fn set_portable(on: bool) {
    PORTABLE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Which build of the kernels runs: `"avx2+fma"`, `"simd128"` (wasm32) or
/// `"portable"`.
pub fn build() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if fma() {
        return "avx2+fma";
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd() {
        return "simd128";
    }
    "portable"
}

/// wasm32 built with SIMD128, unless [`set_portable`].
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn simd() -> bool {
    !PORTABLE.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(target_arch = "x86_64")]
fn fma() -> bool {
    !PORTABLE.load(std::sync::atomic::Ordering::Relaxed)
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn tile_rows_fma(
    x: &[f32],
    inputs: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    first: usize,
    y: &mut [f32],
    width: usize,
) {
    tile_rows_with::<true>(x, inputs, w, bias, first, y, width)
}

/// The product's tiles, with AVX2 and FMA's micro-kernel (`AVX`) or the
/// portable one: the same sums either way.
#[inline(always)]
fn tile_rows_with<const AVX: bool>(
    x: &[f32],
    inputs: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    first: usize,
    y: &mut [f32],
    width: usize,
) {
    const R: usize = 8;
    let rows = x.len() / inputs;
    let mut o = 0;
    while o < width {
        let n = R.min(width - o);
        let at = first + o;
        let block: [&[f32]; R] = std::array::from_fn(|k| {
            let r = at + k.min(n - 1);
            &w[r * inputs..(r + 1) * inputs]
        });
        let (lo, hi) = (
            [block[0], block[1], block[2], block[3]],
            [block[4], block[5], block[6], block[7]],
        );
        // Two rows at a time: eight independent sums keep the multiply-add
        // units busy; each sum is still [`dots`]'.
        let mut r = 0;
        while r + 2 <= rows {
            let (x0, x1) = (
                &x[r * inputs..(r + 1) * inputs],
                &x[(r + 1) * inputs..(r + 2) * inputs],
            );
            let ([a0, b0], [a1, b1]) = (
                dot2x4_with::<AVX>(x0, x1, lo),
                dot2x4_with::<AVX>(x0, x1, hi),
            );
            put(y, r * width + o, n, &cat(a0, a1), bias, at);
            put(y, (r + 1) * width + o, n, &cat(b0, b1), bias, at);
            r += 2;
        }
        if r < rows {
            let sums = dots_with::<AVX, R>(&x[r * inputs..(r + 1) * inputs], block);
            put(y, r * width + o, n, &sums, bias, at);
        }
        o += n;
    }
}

fn cat(a: [f32; 4], b: [f32; 4]) -> [f32; 8] {
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

/// [`dot2x4`], by the AVX2 and FMA micro-kernel when `AVX`.
#[inline(always)]
fn dot2x4_with<const AVX: bool>(x0: &[f32], x1: &[f32], w: [&[f32]; 4]) -> [[f32; 4]; 2] {
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: `AVX` is set only under a `fma()` check: the CPU has AVX2 and FMA.
        #[allow(unsafe_code)]
        // reason: the AVX2 and FMA micro-kernel, on a CPU checked to have both
        return unsafe { dot2x4_avx(x0, x1, w) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd() {
        return simd128::dot2x4(x0, x1, w);
    }
    dot2x4(x0, x1, w)
}

/// [`dots`], by the AVX2 and FMA micro-kernel when `AVX`.
#[inline(always)]
fn dots_with<const AVX: bool, const N: usize>(x: &[f32], w: [&[f32]; N]) -> [f32; N] {
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: `AVX` is set only under a `fma()` check: the CPU has AVX2 and FMA.
        #[allow(unsafe_code)]
        // reason: the AVX2 and FMA micro-kernel, on a CPU checked to have both
        return unsafe { dots_avx(x, w) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd() {
        return simd128::dots(x, w);
    }
    dots(x, w)
}

/// WebAssembly's SIMD128 micro-kernels: each of the [`LANES`] partial sums
/// is the same chain as the portable code's (a multiply then an add, as
/// [`MulAdd`] is in wasm32), on two 4-lane vectors, then the same tree and
/// tail.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use super::{LANES, reduce, tail};
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_store};

    /// Lanes `i..i + 8` of `x` as two vectors.
    #[inline(always)]
    fn load(x: &[f32], i: usize) -> [v128; 2] {
        let s = &x[i..i + LANES];
        // SAFETY: `s` holds 8 floats, the two unaligned 16-byte loads read
        // its first and second half (wasm's loads need no alignment).
        #[allow(unsafe_code)]
        // reason: vector loads inside a slice checked to hold them
        unsafe {
            [
                v128_load(s.as_ptr().cast()),
                v128_load(s.as_ptr().add(4).cast()),
            ]
        }
    }

    #[inline(always)]
    fn lanes(a: [v128; 2]) -> [f32; LANES] {
        let mut l = [0.0f32; LANES];
        // SAFETY: `l` holds 8 floats, the two stores write its halves.
        #[allow(unsafe_code)]
        // reason: vector stores inside an array of 8 floats
        unsafe {
            v128_store(l.as_mut_ptr().cast(), a[0]);
            v128_store(l.as_mut_ptr().add(4).cast(), a[1]);
        }
        l
    }

    #[inline(always)]
    fn step(a: &mut [v128; 2], x: &[v128; 2], w: &[v128; 2]) {
        a[0] = f32x4_add(f32x4_mul(x[0], w[0]), a[0]);
        a[1] = f32x4_add(f32x4_mul(x[1], w[1]), a[1]);
    }

    /// [`super::dots`] on SIMD128.
    pub(super) fn dots<const N: usize>(x: &[f32], w: [&[f32]; N]) -> [f32; N] {
        let n = x.len();
        assert!(w.iter().all(|r| r.len() == n));
        let full = n - n % LANES;
        let mut acc = [[f32x4_splat(0.0); 2]; N];
        let mut i = 0;
        while i < full {
            let xs = load(x, i);
            for (a, wk) in acc.iter_mut().zip(&w) {
                step(a, &xs, &load(wk, i));
            }
            i += LANES;
        }
        std::array::from_fn(|k| tail(reduce(&lanes(acc[k])), x, w[k], full))
    }

    /// [`super::dots_q8`] on SIMD128: in each block, the 8-bit values
    /// widened to 16 bits, products summed in pairs then fours as integers
    /// (exact, so the order is free), then the same multiply and add per
    /// lane.
    pub(super) fn dots_q8<const N: usize>(
        xq: &[i8],
        xd: &[f32],
        wq: [&[i8]; N],
        wd: [&[f32]; N],
    ) -> [f32; N] {
        use core::arch::wasm32::{
            f32x4_convert_i32x4, i16x8_extend_high_i8x16, i16x8_extend_low_i8x16, i32x4_add,
            i32x4_dot_i16x8, i32x4_shuffle,
        };
        const BLOCK: usize = super::Q8_BLOCK;
        // Sixteen 8-bit values as two vectors of 16 bits.
        let wide = |q: &[i8], at: usize| -> [v128; 2] {
            let s = &q[at..at + 16];
            // SAFETY: `s` holds 16 bytes, the one unaligned load reads them.
            #[allow(unsafe_code)]
            // reason: a vector load inside a slice checked to hold it
            let v = unsafe { v128_load(s.as_ptr().cast()) };
            [i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v)]
        };
        // The four sums of four products of sixteen values.
        let fours = |x: &[v128; 2], w: &[v128; 2]| -> v128 {
            let (p, q) = (i32x4_dot_i16x8(x[0], w[0]), i32x4_dot_i16x8(x[1], w[1]));
            i32x4_add(
                i32x4_shuffle::<0, 2, 4, 6>(p, q),
                i32x4_shuffle::<1, 3, 5, 7>(p, q),
            )
        };
        assert!(xq.len().is_multiple_of(BLOCK) && xd.len() == xq.len() / BLOCK);
        assert!(wq.iter().all(|r| r.len() == xq.len()) && wd.iter().all(|r| r.len() == xd.len()));
        let mut acc = [[f32x4_splat(0.0); 2]; N];
        for b in 0..xd.len() {
            let at = b * BLOCK;
            let (x0, x1) = (wide(xq, at), wide(xq, at + 16));
            for k in 0..N {
                let d = f32x4_splat(xd[b] * wd[k][b]);
                let s0 = f32x4_convert_i32x4(fours(&x0, &wide(wq[k], at)));
                let s1 = f32x4_convert_i32x4(fours(&x1, &wide(wq[k], at + 16)));
                acc[k][0] = f32x4_add(f32x4_mul(d, s0), acc[k][0]);
                acc[k][1] = f32x4_add(f32x4_mul(d, s1), acc[k][1]);
            }
        }
        std::array::from_fn(|k| reduce(&lanes(acc[k])))
    }

    /// [`super::dot2x4`] on SIMD128.
    pub(super) fn dot2x4(x0: &[f32], x1: &[f32], w: [&[f32]; 4]) -> [[f32; 4]; 2] {
        let n = x0.len();
        assert!(x1.len() == n && w.iter().all(|r| r.len() == n));
        let full = n - n % LANES;
        let mut acc = [[[f32x4_splat(0.0); 2]; 4]; 2];
        let mut i = 0;
        while i < full {
            let (a, b) = (load(x0, i), load(x1, i));
            for k in 0..4 {
                let wk = load(w[k], i);
                step(&mut acc[0][k], &a, &wk);
                step(&mut acc[1][k], &b, &wk);
            }
            i += LANES;
        }
        let mut out = [[0.0f32; 4]; 2];
        for (r, x) in [x0, x1].iter().enumerate() {
            for k in 0..4 {
                out[r][k] = tail(reduce(&lanes(acc[r][k])), x, w[k], full);
            }
        }
        out
    }
}

#[inline(always)]
fn put(y: &mut [f32], at: usize, n: usize, sums: &[f32; 8], bias: Option<&[f32]>, out: usize) {
    for k in 0..n {
        y[at + k] = match bias {
            Some(b) => sums[k] + b[out + k],
            None => sums[k],
        };
    }
}

/// `N` dot products of `x` with `w[k]`, each in the one fixed order.
#[inline(always)]
fn dots<const N: usize>(x: &[f32], w: [&[f32]; N]) -> [f32; N] {
    let n = x.len();
    let full = n - n % LANES;
    let mut acc = [[0.0f32; LANES]; N];
    let mut i = 0;
    while i < full {
        let xs = &x[i..i + LANES];
        for (a, wk) in acc.iter_mut().zip(&w) {
            let ws = &wk[i..i + LANES];
            for l in 0..LANES {
                a[l] = xs[l].madd(ws[l], a[l]);
            }
        }
        i += LANES;
    }
    std::array::from_fn(|k| tail(reduce(&acc[k]), x, w[k], full))
}

/// The sum `s` of the lanes, then the elements from `full` on, in order.
#[inline(always)]
fn tail(mut s: f32, x: &[f32], w: &[f32], full: usize) -> f32 {
    for j in full..x.len() {
        s = x[j].madd(w[j], s);
    }
    s
}

/// [`dots`] with AVX2 and FMA: the same chains of fused multiply-adds, lane
/// by lane, then the same tree and tail.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)] // reason: unaligned vector loads, each inside the slices it reads (checked below)
fn dots_avx<const N: usize>(x: &[f32], w: [&[f32]; N]) -> [f32; N] {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n = x.len();
    assert!(w.iter().all(|r| r.len() == n));
    let full = n - n % LANES;
    let mut acc: [__m256; N] = [_mm256_setzero_ps(); N];
    let mut i = 0;
    while i < full {
        // SAFETY: i + LANES <= full <= n, the length of every slice read.
        let a = unsafe { _mm256_loadu_ps(x.as_ptr().add(i)) };
        for k in 0..N {
            // SAFETY: as above.
            let wk = unsafe { _mm256_loadu_ps(w[k].as_ptr().add(i)) };
            acc[k] = _mm256_fmadd_ps(a, wk, acc[k]);
        }
        i += LANES;
    }
    std::array::from_fn(|k| {
        let mut lanes = [0.0f32; LANES];
        // SAFETY: `lanes` holds LANES floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[k]) };
        tail(reduce(&lanes), x, w[k], full)
    })
}

/// [`dots`] of four rows, for two rows of `x` at once (the same sums, in the same order).
#[inline(always)]
fn dot2x4(x0: &[f32], x1: &[f32], w: [&[f32]; 4]) -> [[f32; 4]; 2] {
    let n = x0.len();
    let full = n - n % LANES;
    let mut acc = [[[0.0f32; LANES]; 4]; 2];
    let mut i = 0;
    while i < full {
        let xs = [&x0[i..i + LANES], &x1[i..i + LANES]];
        for k in 0..4 {
            let ws = &w[k][i..i + LANES];
            for (a, xr) in acc.iter_mut().zip(&xs) {
                for l in 0..LANES {
                    a[k][l] = xr[l].madd(ws[l], a[k][l]);
                }
            }
        }
        i += LANES;
    }
    let mut out = [[0.0f32; 4]; 2];
    for (r, x) in [x0, x1].iter().enumerate() {
        for k in 0..4 {
            let mut s = reduce(&acc[r][k]);
            for j in full..n {
                s = x[j].madd(w[k][j], s);
            }
            out[r][k] = s;
        }
    }
    out
}

/// [`dot2x4`] with AVX2 and FMA: lane `l` of each sum is the same chain of
/// fused multiply-adds as in the portable code, then the same tree and tail.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)] // reason: unaligned vector loads, each inside the slices it reads (checked below)
fn dot2x4_avx(x0: &[f32], x1: &[f32], w: [&[f32]; 4]) -> [[f32; 4]; 2] {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n = x0.len();
    assert!(x1.len() == n && w.iter().all(|r| r.len() == n));
    let full = n - n % LANES;
    let mut acc: [[__m256; 4]; 2] = [[_mm256_setzero_ps(); 4]; 2];
    let mut i = 0;
    while i < full {
        // SAFETY: i + LANES <= full <= n, the length of every slice read.
        let (a0, a1) = unsafe {
            (
                _mm256_loadu_ps(x0.as_ptr().add(i)),
                _mm256_loadu_ps(x1.as_ptr().add(i)),
            )
        };
        for k in 0..4 {
            // SAFETY: as above.
            let wk = unsafe { _mm256_loadu_ps(w[k].as_ptr().add(i)) };
            acc[0][k] = _mm256_fmadd_ps(a0, wk, acc[0][k]);
            acc[1][k] = _mm256_fmadd_ps(a1, wk, acc[1][k]);
        }
        i += LANES;
    }
    let mut out = [[0.0f32; 4]; 2];
    for (r, x) in [x0, x1].iter().enumerate() {
        for k in 0..4 {
            let mut lanes = [0.0f32; LANES];
            // SAFETY: `lanes` holds LANES floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r][k]) };
            let mut s = reduce(&lanes);
            for j in full..n {
                s = x[j].madd(w[k][j], s);
            }
            out[r][k] = s;
        }
    }
    out
}

/// The lanes' sum, in one fixed tree.
#[inline(always)]
fn reduce(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// `y += a * x`, element by element (one multiply-add each, [`MulAdd`]).
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = a.madd(*x, *y);
    }
}

/// Layer normalisation of each `d`-wide row: mean and variance summed in
/// order, then `(x - mean) / sqrt(var + eps) * gamma + beta`.
pub fn layer_norm(x: &[f32], d: usize, gamma: &[f32], beta: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked by `fma`).
        #[allow(unsafe_code)]
        // reason: calling the AVX2 and FMA build, after checking the CPU has both
        return unsafe { layer_norm_fma(x, d, gamma, beta, y) };
    }
    layer_norm_any(x, d, gamma, beta, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn layer_norm_fma(x: &[f32], d: usize, gamma: &[f32], beta: &[f32], y: &mut [f32]) {
    layer_norm_any(x, d, gamma, beta, y)
}

#[inline(always)]
fn layer_norm_any(x: &[f32], d: usize, gamma: &[f32], beta: &[f32], y: &mut [f32]) {
    const EPS: f32 = 1e-5;
    for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        let mean = xr.iter().fold(0.0f32, |s, v| s + v) / d as f32;
        let var = xr.iter().fold(0.0f32, |s, v| {
            let c = v - mean;
            c.madd(c, s)
        }) / d as f32;
        let inv = 1.0 / (var + EPS).sqrt();
        for (((o, v), g), b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
            *o = ((v - mean) * inv).madd(*g, *b);
        }
    }
}

/// GELU with the error function, as Whisper was trained:
/// `x / 2 * (1 + erf(x / sqrt 2))`.
pub fn gelu(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + libm::erff(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// `e^x` for `x <= 0` (at least `e^-87` below that), in basic operations
/// only, so that it is the same on every CPU and vectorises: `x = n ln 2 +
/// r` with `|r| <= ln 2 / 2` (Cody and Waite's two-part `ln 2`), `e^r` by
/// its Taylor series to `r^7` (relative error under 1e-7), times `2^n`.
#[inline(always)]
pub fn exp_below_zero(x: f32) -> f32 {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    let x = x.clamp(-87.0, 0.0);
    let n = (x * std::f32::consts::LOG2_E).round();
    let r = n.madd(-LN2_LO, n.madd(-LN2_HI, x));
    let mut p: f32 = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.madd(r, c);
    }
    // n is in -126..=0: 2^n is a normal float.
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The sum, in order, of [`exp_below_zero`]`(v - max)` over `x` (`max` at
/// least every value): a softmax's denominator.
pub fn sum_exp_below(x: &[f32], max: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked by `fma`).
        #[allow(unsafe_code)]
        // reason: calling the AVX2 and FMA build, after checking the CPU has both
        return unsafe { sum_exp_below_fma(x, max) };
    }
    sum_exp_below_any(x, max)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sum_exp_below_fma(x: &[f32], max: f32) -> f32 {
    sum_exp_below_any(x, max)
}

#[inline(always)]
fn sum_exp_below_any(x: &[f32], max: f32) -> f32 {
    x.iter().fold(0.0f32, |s, v| s + exp_below_zero(v - max))
}

/// Softmax of `s` in place: max, `exp(v - max)` and their sum in order.
#[inline(always)]
fn softmax(s: &mut [f32]) {
    let max = s.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    for v in s.iter_mut() {
        *v = exp_below_zero(*v - max);
    }
    let sum = s.iter().fold(0.0f32, |a, v| a + v);
    let inv = 1.0 / sum;
    for v in s.iter_mut() {
        *v *= inv;
    }
}

/// Multi-head attention: for each query row `t` and head, softmax over keys
/// `0..=limit(t)` of `q·k * scale`, times the values. `q` is `[tq, d]`, `k`
/// and `v` `[tk, d]`, heads side by side along `d`; `y` is `[tq, d]`.
/// `causal_offset`: query `t` sees keys up to `offset + t` (`None`: all).
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d: usize,
    heads: usize,
    causal_offset: Option<usize>,
    y: &mut [f32],
) {
    let tq = q.len() / d;
    let tk = k.len() / d;
    let a = Attend {
        q,
        k,
        v,
        d,
        heads,
        causal_offset,
    };
    // Two query rows at a time where they see the same keys: each key and
    // value is read once for both; every sum is still the one row's.
    let per = if causal_offset.is_none() { 2 * d } else { d };
    if tq * tk * d < PARALLEL_WORK {
        let mut scores = Default::default();
        for (i, yr) in y.chunks_mut(per).enumerate() {
            a.rows(i * per / d, yr, &mut scores);
        }
    } else {
        y.par_chunks_mut(per)
            .enumerate()
            .for_each_init(Default::default, |scores, (i, yr)| {
                a.rows(i * per / d, yr, scores)
            });
    }
}

/// One attention: its inputs, shared by the rows.
struct Attend<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    d: usize,
    heads: usize,
    causal_offset: Option<usize>,
}

impl Attend<'_> {
    /// Rows `t..` of the output, as many as `yr` holds (one or two).
    fn rows(&self, t: usize, yr: &mut [f32], scores: &mut [Vec<f32>; 2]) {
        #[cfg(target_arch = "x86_64")]
        if fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked by `fma`).
            #[allow(unsafe_code)]
            // reason: calling the AVX2 and FMA build, after checking the CPU has both
            return unsafe { self.rows_fma(t, yr, scores) };
        }
        self.rows_with::<false>(t, yr, scores)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn rows_fma(&self, t: usize, yr: &mut [f32], scores: &mut [Vec<f32>; 2]) {
        self.rows_with::<true>(t, yr, scores)
    }

    #[inline(always)]
    fn rows_with<const AVX: bool>(&self, t: usize, yr: &mut [f32], scores: &mut [Vec<f32>; 2]) {
        let d = self.d;
        if yr.len() == 2 * d && self.causal_offset.is_none() {
            self.pair_with::<AVX>(t, yr, scores);
        } else {
            for (i, yr) in yr.chunks_exact_mut(d).enumerate() {
                self.row_with::<AVX>(t + i, yr, &mut scores[0]);
            }
        }
    }

    /// Keys row `t` sees.
    fn keys(&self, t: usize) -> usize {
        let tk = self.k.len() / self.d;
        self.causal_offset.map_or(tk, |o| (o + t + 1).min(tk))
    }

    #[inline(always)]
    fn row_with<const AVX: bool>(&self, t: usize, yr: &mut [f32], scores: &mut Vec<f32>) {
        let (d, dh) = (self.d, self.d / self.heads);
        let scale = 1.0 / (dh as f32).sqrt();
        let keys = self.keys(t);
        for h in 0..self.heads {
            let cols = h * dh..(h + 1) * dh;
            let qh = &self.q[t * d..][cols.clone()];
            scores.clear();
            let key = |s: usize| &self.k[s * d..][cols.clone()];
            let mut s = 0;
            while s + 8 <= keys {
                let eight = dots_with::<AVX, 8>(qh, std::array::from_fn(|j| key(s + j)));
                scores.extend(eight.iter().map(|v| v * scale));
                s += 8;
            }
            for s in s..keys {
                scores.push(dots_with::<AVX, 1>(qh, [key(s)])[0] * scale);
            }
            softmax(scores);
            let out = &mut yr[cols.clone()];
            out.fill(0.0);
            for (s, p) in scores.iter().enumerate() {
                axpy(*p, &self.v[s * d..][cols.clone()], out);
            }
        }
    }

    /// Rows `t` and `t + 1` (seeing the same keys): [`Self::row_with`]'s
    /// sums, with each key and value read once for both.
    #[inline(always)]
    fn pair_with<const AVX: bool>(&self, t: usize, yr: &mut [f32], scores: &mut [Vec<f32>; 2]) {
        let (d, dh) = (self.d, self.d / self.heads);
        let scale = 1.0 / (dh as f32).sqrt();
        let keys = self.keys(t);
        let (y0, y1) = yr.split_at_mut(d);
        let [s0, s1] = scores;
        for h in 0..self.heads {
            let cols = h * dh..(h + 1) * dh;
            let (q0, q1) = (
                &self.q[t * d..][cols.clone()],
                &self.q[(t + 1) * d..][cols.clone()],
            );
            s0.clear();
            s1.clear();
            let key = |s: usize| &self.k[s * d..][cols.clone()];
            let mut s = 0;
            while s + 4 <= keys {
                let [a, b] = dot2x4_with::<AVX>(q0, q1, std::array::from_fn(|j| key(s + j)));
                s0.extend(a.iter().map(|v| v * scale));
                s1.extend(b.iter().map(|v| v * scale));
                s += 4;
            }
            for s in s..keys {
                let [a, b] = dot2x4_with::<AVX>(q0, q1, [key(s); 4]);
                s0.push(a[0] * scale);
                s1.push(b[0] * scale);
            }
            softmax(s0);
            softmax(s1);
            let (o0, o1) = (&mut y0[cols.clone()], &mut y1[cols.clone()]);
            o0.fill(0.0);
            o1.fill(0.0);
            for (s, (p0, p1)) in s0.iter().zip(s1.iter()).enumerate() {
                let vs = &self.v[s * d..][cols.clone()];
                axpy(*p0, vs, o0);
                axpy(*p1, vs, o1);
            }
        }
    }
}

/// A 1-D convolution of width 3, padding 1, as `im2col` then [`linear`]:
/// `x` is `[time, channels]` (or, with `channels_first`, `[channels, stride]`
/// of which the first `time` columns), `w` `[outputs, channels, 3]`; the
/// result is `[time_out, outputs]`, `time_out = ceil(time / step)`.
#[allow(clippy::too_many_arguments)] // reason: one convolution's shape, spelled out; a struct would only rename them
pub fn conv3(
    x: &[f32],
    time: usize,
    channels: usize,
    channels_first: Option<usize>,
    step: usize,
    w: &Weights,
    bias: &[f32],
) -> Vec<f32> {
    let time_out = time.div_ceil(step);
    let width = 3 * channels;
    let mut col = vec![0.0f32; time_out * width];
    for (t, row) in col.chunks_exact_mut(width).enumerate() {
        for c in 0..channels {
            for k in 0..3 {
                let at = (t * step + k).checked_sub(1).filter(|&a| a < time);
                row[c * 3 + k] = match (at, channels_first) {
                    (Some(a), Some(stride)) => x[c * stride + a],
                    (Some(a), None) => x[a * channels + c],
                    (None, _) => 0.0,
                };
            }
        }
    }
    let outputs = bias.len();
    let mut y = vec![0.0f32; time_out * outputs];
    linear(&col, width, w, Some(bias), &mut y);
    y
}

#[cfg(test)]
mod tests {
    //! In wasm32 these run in headless chromium (`scripts/test`:
    //! wasm-bindgen-test-runner), SIMD128's build against the portable one.
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    fn data(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The order of [`dot`], written out one element at a time.
    fn dot_reference(x: &[f32], w: &[f32]) -> f32 {
        let full = x.len() - x.len() % LANES;
        let mut lanes = [0.0f32; LANES];
        for i in 0..full {
            lanes[i % LANES] = x[i].madd(w[i], lanes[i % LANES]);
        }
        let mut s = reduce(&lanes);
        for i in full..x.len() {
            s = x[i].madd(w[i], s);
        }
        s
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_product_s_bits_do_not_depend_on_rows_threads_or_tiles() {
        for (rows, inputs, outputs) in [(1, 384, 1536), (3, 37, 5), (40, 384, 384), (7, 64, 9)] {
            let x = data(rows * inputs, 1);
            let w = data(outputs * inputs, 2);
            let b = data(outputs, 3);
            let weights = Weights::F32(w.clone());
            let mut y = vec![0.0; rows * outputs];
            linear(&x, inputs, &weights, Some(&b), &mut y);
            let mut alone = vec![0.0; rows * outputs];
            // (wasm32 has one thread.)
            #[cfg(not(target_arch = "wasm32"))]
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            #[cfg(not(target_arch = "wasm32"))]
            pool.install(|| linear(&x, inputs, &weights, Some(&b), &mut alone));
            #[cfg(target_arch = "wasm32")]
            linear(&x, inputs, &weights, Some(&b), &mut alone);
            for r in 0..rows {
                for o in 0..outputs {
                    let want =
                        dot_reference(&x[r * inputs..][..inputs], &w[o * inputs..][..inputs])
                            + b[o];
                    assert_eq!(
                        y[r * outputs + o].to_bits(),
                        want.to_bits(),
                        "{rows}x{inputs}x{outputs} at {r},{o}"
                    );
                    assert_eq!(alone[r * outputs + o].to_bits(), want.to_bits());
                }
            }
            // Row by row gives the same bits as all rows at once.
            for r in 0..rows {
                let mut one = vec![0.0; outputs];
                linear(
                    &x[r * inputs..][..inputs],
                    inputs,
                    &weights,
                    Some(&b),
                    &mut one,
                );
                assert_eq!(one, y[r * outputs..][..outputs]);
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_portable_build_gives_the_avx2_build_s_bits() {
        // Widths with tails (203 = 25 * 8 + 3; heads of 36 = 4 * 8 + 4).
        let (rows, inputs, outputs) = (5, 203, 13);
        let x = data(rows * inputs, 6);
        let w = Weights::F32(data(outputs * inputs, 7));
        let w8 = Weights::quantize(&data(outputs * 192, 11), 192).unwrap();
        let (d, heads) = (72, 2);
        let (q, k, v) = (data(3 * d, 8), data(9 * d, 9), data(9 * d, 10));
        let run = || {
            let mut y = vec![0.0; rows * outputs];
            linear(&x, inputs, &w, None, &mut y);
            let mut y8 = vec![0.0; rows * outputs];
            linear(&x[..rows * 192], 192, &w8, None, &mut y8);
            y.extend(y8);
            y.push(sum_exp_below(&x, 1.0));
            let mut a = vec![0.0; 3 * d];
            attention(&q, &k, &v, d, heads, Some(4), &mut a);
            let mut b = vec![0.0; 3 * d];
            attention(&q, &k, &v, d, heads, None, &mut b);
            a.extend(b);
            let mut n = vec![0.0; x.len()];
            layer_norm(&x, inputs, &x[..inputs], &x[inputs..2 * inputs], &mut n);
            a.extend(n);
            (y, a, build())
        };
        let fast = run();
        set_portable(true);
        let slow = run();
        set_portable(false);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            assert_eq!(fast.2, "avx2+fma");
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        assert_eq!(fast.2, "simd128");
        assert_eq!(slow.2, "portable");
        assert_eq!(fast.0, slow.0);
        assert_eq!(fast.1, slow.1);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn eight_bit_products_sum_integer_blocks_exactly() {
        let (inputs, outputs) = (64, 6);
        let w = data(outputs * inputs, 4);
        let x = data(3 * inputs, 5);
        let q = Weights::quantize(&w, inputs).unwrap();
        let Weights::Q8(Q8 {
            q: wq, scale: wd, ..
        }) = &q
        else {
            unreachable!()
        };
        let (xq, xd) = quantize_blocks(&x);
        let mut y = vec![0.0; 3 * outputs];
        linear(&x, inputs, &q, None, &mut y);
        for r in 0..3 {
            for o in 0..outputs {
                let mut lanes = [0.0f32; LANES];
                for b in 0..inputs / Q8_BLOCK {
                    let d = xd[r * 2 + b] * wd[o * 2 + b];
                    for (l, lane) in lanes.iter_mut().enumerate() {
                        let s: i32 = (0..4)
                            .map(|j| {
                                let i = b * Q8_BLOCK + 4 * l + j;
                                i32::from(xq[r * inputs + i]) * i32::from(wq[o * inputs + i])
                            })
                            .sum();
                        *lane = d.madd(s as f32, *lane);
                    }
                }
                assert_eq!(y[r * outputs + o].to_bits(), reduce(&lanes).to_bits());
                // And close to the float product.
                let exact: f32 = (0..inputs)
                    .map(|i| x[r * inputs + i] * w[o * inputs + i])
                    .sum();
                assert!(
                    (y[r * outputs + o] - exact).abs() < 0.05,
                    "{} {exact}",
                    y[r * outputs + o]
                );
            }
        }
        assert!(Weights::quantize(&w, 33).is_none());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn attention_weighs_values_by_the_softmax_of_scores() {
        // One head, two keys: the query matches the first.
        let q = [10.0, 0.0];
        let k = [1.0, 0.0, 0.0, 1.0];
        let v = [1.0, 2.0, 3.0, 4.0];
        let mut y = [0.0; 2];
        attention(&q, &k, &v, 2, 1, None, &mut y);
        let p0 = 1.0 / (1.0 + (-10.0f32 / 2f32.sqrt()).exp());
        assert!((y[0] - (p0 + 3.0 * (1.0 - p0))).abs() < 1e-5, "{y:?}");
        // Causal: the first query sees only the first key.
        attention(&q, &k, &v, 2, 1, Some(0), &mut y);
        assert_eq!(y, [1.0, 2.0]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn attention_s_bits_do_not_depend_on_how_rows_are_grouped() {
        let (d, heads) = (64, 2);
        for (tq, tk) in [(5, 9), (6, 30), (3, 700)] {
            let (q, k, v) = (data(tq * d, 12), data(tk * d, 13), data(tk * d, 14));
            let mut all = vec![0.0; tq * d];
            attention(&q, &k, &v, d, heads, None, &mut all);
            for t in 0..tq {
                let mut one = vec![0.0; d];
                attention(&q[t * d..][..d], &k, &v, d, heads, None, &mut one);
                assert_eq!(one, all[t * d..][..d], "{tq} by {tk}, row {t}");
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_convolution_is_its_sum() {
        // One channel in, one out, weights [1, 2, 3], stride 1 and 2.
        let w = Weights::F32(vec![1.0, 2.0, 3.0]);
        let x = [1.0, 10.0, 100.0];
        assert_eq!(
            conv3(&x, 3, 1, None, 1, &w, &[0.5]),
            vec![32.5, 321.5, 210.5]
        );
        assert_eq!(conv3(&x, 3, 1, None, 2, &w, &[0.0]), vec![32.0, 210.0]);
        // Channels first, with a stride wider than the time used.
        let x = [1.0, 10.0, 100.0, 7.0];
        assert_eq!(
            conv3(&x, 3, 1, Some(4), 1, &w, &[0.0]),
            vec![32.0, 321.0, 210.0]
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn exp_below_zero_is_within_a_few_ulps_of_libm() {
        let mut worst = 0.0f64;
        for i in 0..=870_000 {
            let x = -(i as f32) * 1e-4;
            let (ours, want) = (f64::from(exp_below_zero(x)), f64::from(libm::expf(x)));
            worst = worst.max((ours - want).abs() / want);
        }
        assert!(worst < 3e-7, "relative error {worst:e}");
        assert_eq!(exp_below_zero(0.0), 1.0);
        assert!(exp_below_zero(-1e9) > 0.0 && exp_below_zero(-1e9) < 1e-37);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn layer_norm_and_gelu_are_what_they_say() {
        let mut y = [0.0; 4];
        layer_norm(&[1.0, 2.0, 3.0, 4.0], 4, &[1.0; 4], &[0.0; 4], &mut y);
        let s = (1.25f32 + 1e-5).sqrt();
        for (a, b) in y.iter().zip([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut g = [0.0, 1.0, -1.0];
        gelu(&mut g);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 0.841_344_7).abs() < 1e-6 && (g[2] + 0.158_655_3).abs() < 1e-6);
    }
}
