//! Normalisability of every Gaussian model a λ sweep saved:
//! `normalisability DIR/models` prints, per model, λ, the stability margin, the largest
//! growth rate found, the orthant-free upper bound, the verdict and the escape barrier
//! (nats) along the direction found
//! (see `crbm::gauss::stability`).

use crbm::gauss::io::load;
use crbm::gauss::stability::{escape_barrier, normalisability};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: normalisability DIR/models");
    let mut stems: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable models directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.with_extension(""))
        .collect();
    stems.sort();
    println!("model\tlambda\tmargin\tbest_growth\tupper_bound\tverdict\tbarrier");
    for stem in stems {
        let (model, meta) = load(&stem).expect("a Gaussian model");
        let n = normalisability(&model, 0);
        println!(
            "{}\t{:.4}\t{:.3}\t{:.4}\t{:.3}\t{:?}\t{:.2}",
            stem.file_name().unwrap().to_string_lossy(),
            meta.lambda.unwrap_or(f64::NAN),
            model.stability_margin(),
            n.best_growth,
            n.upper_bound,
            n.verdict,
            escape_barrier(&model, &n.direction)
        );
    }
}
