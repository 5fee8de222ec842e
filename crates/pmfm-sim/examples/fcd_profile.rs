//! Profiles the stages of the FCD on random BOLD: window FC vectors, the Gram product, and the
//! histogram. `cargo run --release -p pmfm-sim --example fcd_profile -- [series]`
use burn::tensor::{Device, Distribution, Tensor};
use pmfm_sim::observables::{fcd_cdfs, window_fc_vectors};
use std::time::Instant;

fn main() {
    let s: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4);
    let device = Device::flex();
    let bold = Tensor::<3>::random([s, 1200, 68], Distribution::Normal(0.0, 1.0), &device);
    let t = Instant::now();
    let z = window_fc_vectors(bold.clone(), 83);
    let _ = z.clone().into_data();
    let t_vec = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let g = z.clone().matmul(z.swap_dims(1, 2));
    let _ = g.into_data();
    let t_gram = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let c = fcd_cdfs(bold, 83);
    let t_all = t.elapsed().as_secs_f64();
    println!("{s} series: window vectors {t_vec:.3} s, full Gram {t_gram:.3} s, fcd_cdfs total {t_all:.3} s ({} cdfs)", c.len());
}
