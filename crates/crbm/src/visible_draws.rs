//! Exact Bernoulli draws of one visible row, v_i = 1 iff u_i < sigmoid(g_i + x_i): the h → v
//! sampling of [`crate::gibbs`].
//!
//! u_i = (k_i + f_i)/256: k_i is the next 8 bits of a 64-bit draw (one draw serves 8 units, in
//! unit order) and f_i ∈ [0, 1) is drawn (24 more bits) only when the bucket alone cannot
//! decide. Since sigmoid is monotone, `a < logit(k/256)` decides v = 0 and
//! `a ≥ logit((k+1)/256)` decides v = 1 by table look-up; only when sigmoid(a) falls in u's own
//! bucket (~1 unit in 256) is f drawn and compared with the exact f64 sigmoid. The result
//! depends on the random bits only.
//!
//! The portable build is that definition, one unit at a time. The x86 builds decide the 8 units
//! of one 64-bit draw together (two 8-lane table gathers and two compares, AVX2, used on AVX-512
//! CPUs too) and then take the group's fine draws in unit order, so they consume the random
//! stream exactly as the definition does and give the same rows (tested).

use rand::RngCore;

/// `logit(k/256)` for k = 0..=256 (−∞ and +∞ at the ends), in f32.
pub(crate) fn logit_table() -> [f32; 257] {
    let mut t = [0f32; 257];
    for (k, x) in t.iter_mut().enumerate() {
        *x = match k {
            0 => f32::NEG_INFINITY,
            256 => f32::INFINITY,
            _ => {
                let p = k as f64 / 256.0;
                (p / (1.0 - p)).ln() as f32
            }
        };
    }
    t
}

/// One row's Bernoulli draw: pre-activations `x` and fields `g` (same length) against the
/// logit table of [`logit_table`].
pub(crate) struct BernoulliRow<'a> {
    pub x: &'a [f32],
    pub g: &'a [f32],
    pub table: &'a [f32; 257],
}

/// Which units of an 8-unit group the bucket decides to be on, and which need the fine draw
/// (bit l = unit l of the group).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GroupDecision {
    on: u32,
    undecided: u32,
}

impl BernoulliRow<'_> {
    /// The active indices (increasing), drawn with `build` (one the CPU supports).
    pub fn sample(&self, build: machine::SimdBuild, rng: &mut impl RngCore) -> Vec<u32> {
        use machine::SimdBuild;
        match build {
            // SAFETY: `build` is one the CPU supports (CpuFeatures::widest_build or narrower);
            // both x86 builds use the AVX2 gathers, which AVX-512 CPUs have.
            #[cfg(target_arch = "x86_64")]
            SimdBuild::Avx512 | SimdBuild::Avx2 => unsafe { self.sample_avx2(rng) },
            _ => self.sample_scalar(rng),
        }
    }

    /// The definition, one unit at a time: a new 64-bit draw every 8 units, its bytes in order,
    /// a fine draw as soon as a unit's bucket cannot decide (the portable build).
    fn sample_scalar(&self, rng: &mut impl RngCore) -> Vec<u32> {
        let mut active = Vec::new();
        let (mut bits, mut left) = (0u64, 0u32);
        for (i, (&x, &g)) in self.x.iter().zip(self.g).enumerate() {
            if left == 0 {
                bits = rng.next_u64();
                left = 8;
            }
            let k = (bits & 0xFF) as usize;
            bits >>= 8;
            left -= 1;
            let a = x + g;
            if a < self.table[k] {
                continue;
            }
            if a >= self.table[k + 1] || fine_draw_is_on(k as u32, a, rng) {
                active.push(i as u32);
            }
        }
        active
    }

    /// The grouped draw: one 64-bit draw per group of 8 units, the group's bucket decisions
    /// with two 8-lane gathers, then its on units and fine draws in unit order. A last partial
    /// group is decided on zero-padded lanes and the padding masked off.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sample_avx2(&self, rng: &mut impl RngCore) -> Vec<u32> {
        let n = self.x.len().min(self.g.len());
        let mut active = Vec::new();
        for c in (0..n).step_by(8) {
            let bits = rng.next_u64();
            let w = (n - c).min(8);
            // SAFETY (both calls): this function runs with AVX2 enabled.
            let d = if w == 8 {
                let x: &[f32; 8] = self.x[c..c + 8].try_into().expect("8 lanes");
                let g: &[f32; 8] = self.g[c..c + 8].try_into().expect("8 lanes");
                unsafe { decide_avx2(self.table, x, g, bits) }
            } else {
                let (mut x, mut g) = ([0f32; 8], [0f32; 8]);
                x[..w].copy_from_slice(&self.x[c..c + w]);
                g[..w].copy_from_slice(&self.g[c..c + w]);
                unsafe { decide_avx2(self.table, &x, &g, bits) }
            };
            let valid = (1u32 << w) - 1;
            let (on, mut todo) = (d.on & valid, (d.on | d.undecided) & valid);
            while todo != 0 {
                let l = todo.trailing_zeros();
                todo &= todo - 1;
                let i = c + l as usize;
                if on >> l & 1 == 1 || {
                    let k = (bits >> (8 * l)) & 0xFF;
                    fine_draw_is_on(k as u32, self.x[i] + self.g[i], rng)
                } {
                    active.push(i as u32);
                }
            }
        }
        active
    }
}

/// The bucket decisions of 8 units with pre-activations `x` and fields `g` against `table`,
/// for the 8 bytes of `bits`: two 8-lane gathers and the scalar compares (ordered, so a NaN
/// pre-activation is undecided and its fine draw says off).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn decide_avx2(table: &[f32; 257], x: &[f32; 8], g: &[f32; 8], bits: u64) -> GroupDecision {
    use std::arch::x86_64::*;
    let k = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bits as i64));
    // SAFETY: k ≤ 255, so k and k + 1 index the 257-entry table; x and g hold 8 lanes.
    let (lo, hi, x, g) = unsafe {
        (
            _mm256_i32gather_ps::<4>(table.as_ptr(), k),
            _mm256_i32gather_ps::<4>(table.as_ptr().add(1), k),
            _mm256_loadu_ps(x.as_ptr()),
            _mm256_loadu_ps(g.as_ptr()),
        )
    };
    let a = _mm256_add_ps(x, g);
    let off = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(a, lo)) as u32;
    let on_raw = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(a, hi)) as u32;
    let on = on_raw & !off;
    GroupDecision {
        on,
        undecided: !(off | on) & 0xFF,
    }
}

/// The fine draw of an undecided unit: 24 more bits f, on iff (k + f/2²⁴) < 256·sigmoid(a).
#[inline(always)]
fn fine_draw_is_on(k: u32, a: f32, rng: &mut impl RngCore) -> bool {
    let fine = (rng.next_u32() >> 8) as f64 * (1.0 / 16_777_216.0);
    (k as f64 + fine) < 256.0 * crate::layers::bernoulli::sigmoid(a as f64)
}

#[cfg(test)]
mod tests {
    use machine::SimdBuild;

    use super::*;
    use crate::gibbs::tests::RateRamp;
    use crate::rng::lane_rng;

    fn builds() -> Vec<machine::SimdBuild> {
        machine::CpuFeatures::detect().runnable_builds()
    }

    #[test]
    fn bernoulli_rows_have_the_right_rates() {
        let ramp = RateRamp {
            n: 4000,
            from: -6.0,
            span: 12.0,
            field: 0.5,
            reps: 400,
            seed: 1,
            pool: 100,
        };
        let table = logit_table();
        for build in builds() {
            ramp.check(|x, g, rng| {
                BernoulliRow {
                    x,
                    g,
                    table: &table,
                }
                .sample(build, rng)
            });
        }
    }

    /// Every build draws the rows of the one-unit-at-a-time definition (the portable build,
    /// whose law `bernoulli_rows_have_the_right_rates` checks), bit for bit, from the same
    /// streams: rows whose length is not a multiple of 8, inputs at and around the table's
    /// entries (where the fine draw decides), ±∞ and NaN.
    #[test]
    fn every_build_draws_the_definitions_rows() {
        let table = logit_table();
        for n in [1usize, 7, 8, 13, 64, 1001] {
            let mut x: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.377).sin() * 7.0).collect();
            for (i, v) in x.iter_mut().enumerate() {
                match i % 11 {
                    3 => *v = table[(i * 37) % 255 + 1],
                    5 => *v = f32::INFINITY,
                    7 => *v = f32::NEG_INFINITY,
                    9 => *v = f32::NAN,
                    _ => {}
                }
            }
            let g: Vec<f32> = (0..n)
                .map(|i| if i % 11 == 3 { 0.0 } else { 0.25 })
                .collect();
            let row = BernoulliRow {
                x: &x,
                g: &g,
                table: &table,
            };
            for rep in 0..20 {
                let expect = row.sample(SimdBuild::Portable, &mut lane_rng(5, rep, n as u64));
                assert!(expect.len() >= n / 11, "the +∞ units are on");
                for build in builds() {
                    let got = row.sample(build, &mut lane_rng(5, rep, n as u64));
                    assert_eq!(got, expect, "n {n}, rep {rep}, {build:?}");
                }
            }
        }
    }
}
