//! Branch-free f32 `exp` and `ln` that the compiler can vectorise (the pMFM's fused CPU kernel
//! calls them ~27 million times per simulated series). Cephes-style range reduction and minimax
//! polynomials; accurate to a few ulp over the ranges the pMFM visits (tested against std).
//! They live here, next to the peak, because their measured rate ([`transcendental_rate`]) is
//! part of the floor a benchmark states.

use std::time::Instant;

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// e^r for r in the reduced range [−ln2/2, ln2/2] (degree-7 minimax polynomial, Cephes);
/// [`exp_f32`] scales it by 2ⁿ.
#[inline(always)]
pub fn exp_reduced(r: f32) -> f32 {
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5.000_000_1e-1;
    p * r * r + r + 1.0
}

/// e^x for f32, clamped to the finite range (x ≤ −87.3 → ≈ 0, x ≥ 88 → e^88).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // Comparisons rather than `clamp` and bit arithmetic rather than `as i32` for 2ⁿ: both
    // vectorise (`clamp` and the saturating cast compiled to scalar code); NaN stays NaN.
    let x = if x < -87.3 {
        -87.3
    } else if x > 88.0 {
        88.0
    } else {
        x
    };
    // floor(·+½) rather than round(): it maps to one vector instruction.
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let er = exp_reduced(r);
    // n is an integer in [−126, 127]: adding 1.5·2²³ puts it in the low mantissa bits.
    let n_bits = (n + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000);
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    er * scale
}

/// ln x for finite x > 0 (f32). Non-positive or non-finite input gives NaN, like std.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    // Mantissa in [0.5, 1)
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    // Map to [√½, √2) for the polynomial
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= small as i32;
    m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let p = 7.037_683_6e-2_f32;
    let p = p * m - 1.151_461e-1;
    let p = p * m + 1.167_699_8e-1;
    let p = p * m - 1.242_014_1e-1;
    let p = p * m + 1.424_932_3e-1;
    let p = p * m - 1.666_805_8e-1;
    let p = p * m + 2.000_071_4e-1;
    let p = p * m - 2.499_999_4e-1;
    let p = p * m + 3.333_333e-1;
    let y = p * m * z;
    let ef = e as f32;
    let r = y + ef * LN2_LO - 0.5 * z + m + ef * LN2_HI;
    if x > 0.0 && x.is_finite() {
        r
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    }
}

/// Measured rate of [`exp_f32`] and [`ln_f32`] evaluations per second on all rayon threads at
/// once, vectorised for the widest instruction set present (best of 3 passes over 4096 values
/// in L1, alternating exp and ln as the hemodynamic step does).
pub fn transcendental_rate() -> f64 {
    let per_thread = rayon::broadcast(|_| {
        let mut x: Vec<f32> = (0..4096).map(|k| 0.5 + (k % 97) as f32 * 0.01).collect();
        let reps = 400;
        let run = |x: &mut [f32]| {
            let t = Instant::now();
            for _ in 0..reps {
                exp_ln_pass(x);
            }
            t.elapsed().as_secs_f64()
        };
        run(&mut x);
        let best = (0..3).map(|_| run(&mut x)).fold(f64::INFINITY, f64::min);
        std::hint::black_box(&x);
        (2 * reps * x.len()) as f64 / best
    });
    per_thread.iter().sum()
}

/// x ← exp(ln(x)·0.999) elementwise (stays in range pass after pass), with the widest build
/// this CPU runs (the same one the fused pMFM step uses).
fn exp_ln_pass(x: &mut [f32]) {
    use crate::SimdBuild;
    match crate::CpuFeatures::detect().widest_build() {
        // SAFETY: the CPU supports the features the function is compiled for.
        #[cfg(target_arch = "x86_64")]
        SimdBuild::Avx512 => unsafe { exp_ln_pass_avx512(x) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        SimdBuild::Avx2 => unsafe { exp_ln_pass_avx2(x) },
        _ => exp_ln_pass_portable(x),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn exp_ln_pass_avx512(x: &mut [f32]) {
    exp_ln_pass_portable(x);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_ln_pass_avx2(x: &mut [f32]) {
    exp_ln_pass_portable(x);
}

#[inline(always)]
fn exp_ln_pass_portable(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = exp_f32(ln_f32(*v) * 0.999);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_std() {
        let mut worst = 0;
        for k in 0..200_000 {
            let x = -80.0 + 160.0 * k as f32 / 200_000.0;
            worst = worst.max(ulps(exp_f32(x), (x as f64).exp() as f32));
        }
        assert!(worst <= 3, "worst {worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) < 1e-37);
    }

    #[test]
    fn ln_is_within_a_few_ulp_of_std() {
        let mut worst = 0;
        let mut x = 1e-30f32;
        while x < 1e30 {
            worst = worst.max(ulps(ln_f32(x), (x as f64).ln() as f32));
            x *= 1.000_37;
        }
        assert!(worst <= 3, "worst {worst} ulp");
        assert_eq!(ln_f32(1.0), 0.0);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
    }
}
