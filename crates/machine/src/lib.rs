//! What this machine can do, measured, so that every floor a benchmark prints is stated against
//! it: the SIMD features in use ([`CpuFeatures`], and the [`SimdBuild`] a multi-versioned
//! kernel runs), the FMA peak from a measured clock
//! ([`FmaPeak`]), the rate of the one strided f32 GEMM the host kernels share ([`product`],
//! [`gemm_rate`]), and the memory bandwidth of a streaming pass ([`triad_bandwidth`]);
//! [`Baseline`] is all of it in the block a benchmark prints first.
//!
//! The peak follows the usual definition, cores × FMA units × f32 lanes × 2 flop × clock, with
//! the clock and the number of FMA units measured rather than looked up: the clock from a chain
//! of dependent integer additions (one cycle each on every x86-64 core), the units from the
//! throughput of independent vector FMAs divided by that clock.

mod bandwidth;
mod dense;
pub mod fastmath;
mod peak;

pub use bandwidth::{triad_bandwidth, TRIAD_LEN};
pub use dense::{gemm_rate, product, product_serial, View};
pub use peak::{measure_fma_peak, FmaPeak};

use std::fmt;

/// Which build of a multi-versioned kernel runs: the same source compiled with AVX-512F (16
/// lanes of f32), with AVX2 + FMA (8 lanes), or without extra target features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdBuild {
    Avx512,
    Avx2,
    Portable,
}

/// SIMD features of this CPU that the kernels dispatch on at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    pub avx2: bool,
    pub fma: bool,
    pub avx512f: bool,
}

impl CpuFeatures {
    /// Detects the features with `is_x86_feature_detected!` (all false elsewhere).
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Self {
                avx2: std::is_x86_feature_detected!("avx2"),
                fma: std::is_x86_feature_detected!("fma"),
                avx512f: std::is_x86_feature_detected!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self {
                avx2: false,
                fma: false,
                avx512f: false,
            }
        }
    }

    /// f32 lanes of the widest FMA vector present: 16 (AVX-512), 8 (AVX2 + FMA), or 0 (no x86
    /// FMA; the portable code paths run).
    pub fn fma_lanes(&self) -> usize {
        if self.avx512f && self.fma {
            16
        } else if self.avx2 && self.fma {
            8
        } else {
            0
        }
    }

    /// The widest build of a kernel compiled for several instruction sets that this CPU can
    /// run: AVX-512 needs AVX-512F with AVX2 and FMA (the features such builds enable), AVX2
    /// needs AVX2 and FMA.
    pub fn widest_build(&self) -> SimdBuild {
        if self.avx512f && self.avx2 && self.fma {
            SimdBuild::Avx512
        } else if self.avx2 && self.fma {
            SimdBuild::Avx2
        } else {
            SimdBuild::Portable
        }
    }

    /// Every build this CPU can run, widest first (the widest, the narrower x86 ones, portable):
    /// what tests that compare builds bit for bit iterate over.
    pub fn runnable_builds(&self) -> Vec<SimdBuild> {
        let all = [SimdBuild::Avx512, SimdBuild::Avx2, SimdBuild::Portable];
        let first = all
            .iter()
            .position(|b| *b == self.widest_build())
            .unwrap_or(2);
        all[first..].to_vec()
    }

    /// Name of the widest vector unit present.
    pub fn widest(&self) -> &'static str {
        match self.fma_lanes() {
            16 => "AVX-512 (16 f32 lanes)",
            8 => "AVX2 + FMA (8 f32 lanes)",
            _ => "no x86 FMA (portable code)",
        }
    }
}

impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "AVX2 {}, FMA {}, AVX-512F {}; widest in use: {}",
            yes(self.avx2),
            yes(self.fma),
            yes(self.avx512f),
            self.widest()
        )
    }
}

/// One line naming the CPU (from `/proc/cpuinfo` where it exists).
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// What a benchmark states first: CPU, features in use, threads, the FMA peak and how it was
/// derived, a large square f32 GEMM against that peak, and the memory bandwidth.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub cpu: String,
    pub threads: usize,
    pub features: CpuFeatures,
    pub peak: Option<FmaPeak>,
    /// Side of the square product and its measured rate (flop/s).
    pub square_gemm: (usize, f64),
    /// Triad bandwidth over arrays far larger than the caches, all threads (bytes/s).
    pub memory_bandwidth: f64,
}

impl Baseline {
    /// Measures everything (about 1.5–2.5 s).
    pub fn measure() -> Self {
        let n = 2048;
        Self {
            cpu: cpu_name(),
            threads: rayon::current_num_threads(),
            features: CpuFeatures::detect(),
            peak: measure_fma_peak(),
            square_gemm: (n, gemm_rate(n, n, n, false)),
            memory_bandwidth: triad_bandwidth(TRIAD_LEN, 5),
        }
    }

    /// "r GFLOP/s (p% of the FMA peak)" for a rate in flop/s.
    pub fn rate(&self, flops: f64) -> String {
        match &self.peak {
            Some(p) => format!(
                "{:.1} GFLOP/s ({:.0}% of the FMA peak)",
                flops / 1e9,
                100.0 * flops / p.peak_flops
            ),
            None => format!("{:.1} GFLOP/s", flops / 1e9),
        }
    }
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "machine: {}, {} rayon threads", self.cpu, self.threads)?;
        writeln!(f, "cpu features: {}", self.features)?;
        match &self.peak {
            Some(p) => writeln!(f, "{p}")?,
            None => writeln!(f, "FMA peak: not measured (no x86-64 FMA)")?,
        }
        let (n, rate) = self.square_gemm;
        writeln!(
            f,
            "f32 GEMM {n}×{n}×{n} (gemm crate, all threads): {}",
            self.rate(rate)
        )?;
        write!(
            f,
            "memory bandwidth: {:.1} GB/s (triad a = b + s·c over 3 × {} MB of f64, all threads, \
             24 B per element, best of 5)",
            self.memory_bandwidth / 1e9,
            TRIAD_LEN * 8 / 1_000_000
        )
    }
}
