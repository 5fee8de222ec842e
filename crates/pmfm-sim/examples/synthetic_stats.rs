//! Prints summary statistics of the synthetic connectome next to those of a real SC file, to
//! keep the synthetic default in the regime of real data.
//! `cargo run --release -p pmfm-sim --example synthetic_stats -- [path/to/sc.csv]`
use pmfm_sim::data::{read_matrix_csv, Matrix};
use pmfm_sim::synthetic::{region_positions, synthetic_sc};
use rand::SeedableRng;

fn stats(name: &str, sc: &Matrix) {
    let n = sc.rows;
    let max = sc.max_abs();
    let rows: Vec<f64> = (0..n)
        .map(|i| sc.row(i).iter().map(|x| x / max * 0.2).sum())
        .collect();
    let up = sc.upper_triangle();
    let zero = up.iter().filter(|&&x| x == 0.0).count() as f64 / up.len() as f64;
    let (mut intra, mut inter) = ((0.0, 0), (0.0, 0));
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let acc = if (i < n / 2) == (j < n / 2) {
                    &mut intra
                } else {
                    &mut inter
                };
                acc.0 += sc.get(i, j);
                acc.1 += 1;
            }
        }
    }
    let mean_row = rows.iter().sum::<f64>() / n as f64;
    let ratio = (inter.0 / inter.1 as f64) / (intra.0 / intra.1 as f64);
    println!("{name:<10} coupling row sum mean {mean_row:.3} (min {:.3}, max {:.3}), zero pairs {zero:.2}, inter/intra {ratio:.2}",
        rows.iter().copied().fold(f64::INFINITY, f64::min), rows.iter().copied().fold(0.0, f64::max));
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2021);
    let pos = region_positions(68, &mut rng);
    stats("synthetic", &synthetic_sc(&pos, &mut rng));
    if let Some(p) = std::env::args().nth(1) {
        match read_matrix_csv(&p) {
            Ok(m) => stats("file", &m),
            Err(e) => eprintln!("error: {e}"),
        }
    }
}
