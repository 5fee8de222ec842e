//! The FMA peak of this machine: cores × FMA units × f32 lanes × 2 flop × clock, with the clock
//! and the units measured on every rayon thread at once (all cores busy, as in a benchmark).

use crate::CpuFeatures;
use std::fmt;
use std::time::Instant;

/// The measured FMA peak and its ingredients.
#[derive(Clone, Copy, Debug)]
pub struct FmaPeak {
    /// Cores used: the rayon threads, each pinned to work at once.
    pub cores: usize,
    /// f32 lanes of the widest FMA vector (8 AVX2, 16 AVX-512).
    pub lanes: usize,
    /// Clock (Hz), mean over the threads, from a dependent integer-add chain.
    pub clock_hz: f64,
    /// Independent vector FMAs retired per cycle and core, measured.
    pub fma_per_cycle: f64,
    /// FMA units of the widest vector width: `fma_per_cycle` rounded (a core that splits a
    /// 256- or 512-bit FMA over two half-width pipes counts one unit of the full width).
    pub units: usize,
    /// cores × units × lanes × 2 × clock (flop/s).
    pub peak_flops: f64,
    /// The independent-FMA loop's own rate on all cores (flop/s), for comparison.
    pub measured_flops: f64,
}

impl fmt::Display for FmaPeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FMA peak: {} cores × {} FMA unit(s) × {} f32 lanes × 2 flop × {:.2} GHz = {:.1} GFLOP/s \
             (clock measured with a chain of dependent integer adds, 1 cycle each; {:.2} vector FMAs \
             per cycle measured with 12 independent FMA chains per core, {:.1} GFLOP/s)",
            self.cores,
            self.units,
            self.lanes,
            self.clock_hz / 1e9,
            self.peak_flops / 1e9,
            self.fma_per_cycle,
            self.measured_flops / 1e9
        )
    }
}

/// Measures the FMA peak (about 0.5 s); `None` without x86-64 FMA.
pub fn measure_fma_peak() -> Option<FmaPeak> {
    let features = CpuFeatures::detect();
    let lanes = features.fma_lanes();
    if lanes == 0 {
        return None;
    }
    let cores = rayon::current_num_threads().max(1);
    // Every thread measures at once, so the clock is the all-core one.
    let clocks = rayon::broadcast(|_| best_of(3, || clock_once(20_000_000)));
    let clock_hz = clocks.iter().sum::<f64>() / clocks.len() as f64;
    let fmas = rayon::broadcast(|_| best_of(3, || fma_rate_once(lanes, 4_000_000)));
    let fma_per_s = fmas.iter().sum::<f64>() / fmas.len() as f64;
    let fma_per_cycle = fma_per_s / clock_hz;
    let units = (fma_per_cycle.round() as usize).max(1);
    Some(FmaPeak {
        cores,
        lanes,
        clock_hz,
        fma_per_cycle,
        units,
        peak_flops: cores as f64 * units as f64 * lanes as f64 * 2.0 * clock_hz,
        measured_flops: cores as f64 * fma_per_s * lanes as f64 * 2.0,
    })
}

fn best_of(runs: usize, f: impl Fn() -> f64) -> f64 {
    f(); // warm-up: the clock ramps up under load
    (0..runs).map(|_| f()).fold(0.0, f64::max)
}

/// Cycles per second from `adds` dependent integer additions (latency 1 cycle on x86-64).
fn clock_once(adds: u64) -> f64 {
    let iters = adds / 64;
    let t = Instant::now();
    add_chain(std::hint::black_box(iters));
    (iters * 64) as f64 / t.elapsed().as_secs_f64()
}

#[cfg(target_arch = "x86_64")]
fn add_chain(iters: u64) {
    if iters == 0 {
        return;
    }
    // SAFETY: register-only integer arithmetic and a backward branch; no memory or stack use.
    // The 64 adds form one dependency chain, so each iteration takes 64 cycles; the loop
    // counter runs on another ALU alongside. The addend is a register, not an immediate:
    // Intel cores since Golden Cove (Sapphire Rapids Xeons) fold chains of add-immediate at
    // rename and ran `add x, 1` ×64 four to five times faster than one per cycle (measured
    // 16 "GHz"), while register-register adds keep their 1-cycle latency (they agree with a
    // chain of 3-cycle `imul`s).
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 64",
            "add {x}, {y}",
            ".endr",
            "dec {n}",
            "jnz 2b",
            x = inout(reg) 0u64 => _,
            y = in(reg) std::hint::black_box(1u64),
            n = inout(reg) iters => _,
            options(nomem, nostack),
        );
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn add_chain(_iters: u64) {}

/// Vector FMAs per second of one thread, 12 independent chains (enough to cover latency 4–5
/// on two pipes).
fn fma_rate_once(lanes: usize, iters: u64) -> f64 {
    let t = Instant::now();
    let sink = fma_chains(lanes, std::hint::black_box(iters));
    let s = t.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    (iters * 12) as f64 / s
}

#[cfg(target_arch = "x86_64")]
fn fma_chains(lanes: usize, iters: u64) -> f32 {
    // SAFETY: the caller passes the lane count of `CpuFeatures::fma_lanes`, so the features each
    // function is compiled for are present.
    unsafe {
        if lanes == 16 {
            fma_chains_512(iters)
        } else {
            fma_chains_256(iters)
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_chains(_lanes: usize, _iters: u64) -> f32 {
    0.0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains_256(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm256_setzero_ps();
    for x in acc {
        s = _mm256_add_ps(s, x);
    }
    let mut out = [0.0f32; 8];
    _mm256_storeu_ps(out.as_mut_ptr(), s);
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn fma_chains_512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for x in acc {
        s = _mm512_add_ps(s, x);
    }
    _mm512_reduce_add_ps(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_consistent_with_its_ingredients() {
        let Some(p) = measure_fma_peak() else {
            return; // no x86 FMA: nothing to measure
        };
        // A plausible clock (a VM under load may run slow, never at kHz or THz).
        assert!(p.clock_hz > 2e8 && p.clock_hz < 1e10, "{p}");
        assert!(p.units >= 1 && p.units <= 4, "{p}");
        let derived = p.cores as f64 * p.units as f64 * p.lanes as f64 * 2.0 * p.clock_hz;
        assert!((derived - p.peak_flops).abs() < 1e-6 * derived);
    }
}
