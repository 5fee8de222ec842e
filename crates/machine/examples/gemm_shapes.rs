//! Rates of the h·Wᵀ product ([B, M]·[M, N] with W stored [N, M]) computed in several ways:
//! `cargo run --release -p machine --example gemm_shapes [-- B M N]` (defaults 100 200 40000).
use rayon::prelude::*;
use std::time::Instant;

fn best(f: &mut dyn FnMut()) -> f64 {
    f();
    (0..8)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

#[allow(clippy::too_many_arguments)]
unsafe fn g(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dcs: isize,
    drs: isize,
    lhs: *const f32,
    lcs: isize,
    lrs: isize,
    rhs: *const f32,
    rcs: isize,
    rrs: isize,
    par: gemm::Parallelism,
) {
    gemm::gemm(
        m, n, k, dst, dcs, drs, false, lhs, lcs, lrs, rhs, rcs, rrs, 0.0f32, 1.0f32, false, false,
        false, par,
    );
}

/// The operands of x[B, N] = h[B, M] · Wᵀ (W stored [N, M]), as addresses so that the
/// closures timed on rayon threads can share them.
struct Product {
    b: usize,
    m: usize,
    n: usize,
    hp: usize,
    wp: usize,
    xp: usize,
}

impl Product {
    /// (a) dst[B, N] = h · Wᵀ, gemm m = B, n = N (current), over columns n0..n1 of dst.
    unsafe fn h_wt(&self, n0: usize, n1: usize, par: gemm::Parallelism) {
        let (b, m, n) = (self.b, self.m, self.n);
        g(
            b,
            n1 - n0,
            m,
            (self.xp as *mut f32).add(n0),
            1,
            n as isize,
            self.hp as *const f32,
            1,
            m as isize,
            (self.wp as *const f32).add(n0 * m),
            m as isize,
            1,
            par,
        )
    }

    /// (b) dstᵀ[N, B] = W · hᵀ, gemm m = N, n = B, dst strides swapped, rows n0..n1 of W.
    unsafe fn w_ht(&self, n0: usize, n1: usize, par: gemm::Parallelism) {
        let (b, m, n) = (self.b, self.m, self.n);
        g(
            n1 - n0,
            b,
            m,
            (self.xp as *mut f32).add(n0),
            n as isize,
            1,
            (self.wp as *const f32).add(n0 * m),
            1,
            m as isize,
            self.hp as *const f32,
            m as isize,
            1,
            par,
        )
    }

    /// N split in `parts` slabs, one serial product per slab on rayon.
    fn in_slabs(&self, parts: usize, one: unsafe fn(&Self, usize, usize, gemm::Parallelism)) {
        let per = self.n.div_ceil(parts);
        (0..parts).into_par_iter().for_each(|p| {
            let (n0, n1) = (p * per, ((p + 1) * per).min(self.n));
            if n0 < n1 {
                unsafe { one(self, n0, n1, gemm::Parallelism::None) }
            }
        })
    }
}

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let (b, m, n) = (
        *a.first().unwrap_or(&100),
        *a.get(1).unwrap_or(&200),
        *a.get(2).unwrap_or(&40000),
    );
    let h: Vec<f32> = (0..b * m).map(|k| (k % 17) as f32 * 0.1 - 0.8).collect();
    let w: Vec<f32> = (0..n * m).map(|k| (k % 13) as f32 * 0.1 - 0.6).collect();
    let mut x = vec![0.0f32; b * n];
    let flop = 2.0 * (b * m * n) as f64;
    let threads = rayon::current_num_threads();
    let p = Product {
        b,
        m,
        n,
        hp: h.as_ptr() as usize,
        wp: w.as_ptr() as usize,
        xp: x.as_mut_ptr() as usize,
    };
    let report = |name: &str, s: f64| println!("{name:<52} {:.1} GFLOP/s", flop / s / 1e9);
    let rayon = gemm::Parallelism::Rayon(0);
    report(
        "a: m=B n=N, Rayon(0)",
        best(&mut || unsafe { p.h_wt(0, n, rayon) }),
    );
    report(
        "b: m=N n=B (W·hᵀ into the same dst), Rayon(0)",
        best(&mut || unsafe { p.w_ht(0, n, rayon) }),
    );
    for parts in [threads, 4 * threads, 16 * threads] {
        report(
            &format!("c: m=B n=N/{parts} slabs, serial each"),
            best(&mut || p.in_slabs(parts, Product::h_wt)),
        );
        report(
            &format!("d: m=N/{parts} n=B slabs (W·hᵀ), serial each"),
            best(&mut || p.in_slabs(parts, Product::w_ht)),
        );
    }
    std::hint::black_box(&x);
}
