//! Memory bandwidth of this machine: a STREAM-style triad (`a = b + s·c`) over f64 arrays far
//! larger than the caches, run by every rayon thread at once — the rate at which a pass that
//! streams its data from memory (a parameter update over millions of weights, a sampling pass
//! over activations written by a GEMM) can run at best.

use rayon::prelude::*;
use std::time::Instant;

/// Elements per array of the default probe: 3 arrays of 2²⁴ f64 (134 MB each), far above any cache.
pub const TRIAD_LEN: usize = 1 << 24;

/// Bytes per second of a triad over three arrays of `len` f64 each, best of `reps` passes after
/// one untimed pass, counting 24 bytes per element (two reads, one write; like STREAM, the
/// write-allocate read of `a` is not counted). `len` or `reps` of 0 give 0.
pub fn triad_bandwidth(len: usize, reps: usize) -> f64 {
    if len == 0 || reps == 0 {
        return 0.0;
    }
    let chunk = (len / (rayon::current_num_threads().max(1) * 8)).max(1 << 12);
    let mut a = vec![0.0f64; len];
    let b: Vec<f64> = (0..len).map(|i| (i % 7) as f64).collect();
    let c: Vec<f64> = (0..len).map(|i| (i % 5) as f64).collect();
    triad(&mut a, &b, &c, 1.5, chunk);
    let best = (0..reps)
        .map(|_| {
            let t = Instant::now();
            triad(&mut a, &b, &c, 1.5, chunk);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    std::hint::black_box(&a);
    (24 * len) as f64 / best
}

/// `a = b + s·c`, element by element, in parallel chunks of `chunk` elements.
fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64, chunk: usize) {
    a.par_chunks_mut(chunk)
        .zip(b.par_chunks(chunk))
        .zip(c.par_chunks(chunk))
        .for_each(|((a, b), c)| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + s * c;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triad_computes_every_element_across_chunk_borders() {
        let n = 10_007;
        let b: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let c: Vec<f64> = (0..n).map(|i| (n - i) as f64).collect();
        let mut a = vec![f64::NAN; n];
        triad(&mut a, &b, &c, 0.25, 1000);
        for i in 0..n {
            assert_eq!(a[i], i as f64 + 0.25 * (n - i) as f64, "element {i}");
        }
    }

    #[test]
    fn triad_moves_its_bytes_in_finite_positive_time() {
        let bw = triad_bandwidth(1 << 16, 2);
        assert!(bw.is_finite() && bw > 0.0, "{bw}");
        assert_eq!(triad_bandwidth(0, 3), 0.0);
        assert_eq!(triad_bandwidth(16, 0), 0.0);
    }
}
