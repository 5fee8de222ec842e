//! Weight maps in space: for the hidden units with the largest weight norms, each voxel drawn
//! at its centre (top view, x–y in µm) and coloured by its weight w_iμ (blue–white–red,
//! white at 0, one symmetric scale per panel). This is how the study looks at what a hidden
//! unit means: an assembly is a coloured patch (compact) or a set of patches (distributed).

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use plotters::prelude::*;

use crate::plots::register_font;

/// Panels drawn at most (the hidden units with the largest ‖w_μ‖).
pub const MAX_PANELS: usize = 9;

/// Hidden units ordered by decreasing weight norm ‖w_μ‖₂; `weights` is [K, M] row-major.
pub fn units_by_norm(weights: &[f64], k: usize, m: usize) -> Vec<usize> {
    let norm = |mu: usize| (0..k).map(|i| weights[i * m + mu].powi(2)).sum::<f64>();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| norm(b).total_cmp(&norm(a)).then(a.cmp(&b)));
    order
}

/// Draws the weight maps of up to [`MAX_PANELS`] hidden units into one PNG.
/// `weights` [K, M] row-major, `centres` [K] voxel centres (µm).
///
/// Errors: shapes that disagree, no centres, or non-finite weights.
pub fn weight_maps(path: &Path, weights: &[f64], centres: &[[f64; 3]], m: usize) -> Result<()> {
    let k = centres.len();
    if k == 0 || m == 0 {
        bail!("weight maps: {k} voxel centres and {m} hidden units; nothing to draw");
    }
    if weights.len() != k * m {
        bail!(
            "weight maps: {} weights, expected {k} voxels × {m} hidden units",
            weights.len()
        );
    }
    if weights.iter().any(|w| !w.is_finite()) {
        bail!("weight maps: non-finite weights");
    }
    register_font();
    let units: Vec<usize> = units_by_norm(weights, k, m)
        .into_iter()
        .take(MAX_PANELS)
        .collect();
    let cols = (units.len() as f64).sqrt().ceil() as usize;
    let rows = units.len().div_ceil(cols);
    let range = |d: usize| {
        let (lo, hi) = centres
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c[d]), hi.max(c[d]))
            });
        let pad = 0.05 * (hi - lo).max(1.0);
        (lo - pad)..(hi + pad)
    };
    let (xr, yr) = (range(0), range(1));
    let size = (360 * cols as u32, 330 * rows as u32 + 40);
    // Drawn under a temporary name, committed durably; removed if drawing fails.
    let tmp = jobs::durable::PendingFile::keeping_extension(path)?;
    {
        let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
        let err = |e| anyhow!("drawing {}: {e:?}", path.display());
        root.fill(&WHITE).map_err(err)?;
        let root = root
            .titled(
                "hidden-unit weight maps (top view; blue < 0 < red)",
                ("sans-serif", 24),
            )
            .map_err(err)?;
        for (panel, &mu) in root.split_evenly((rows, cols)).iter().zip(&units) {
            let w: Vec<f64> = (0..k).map(|i| weights[i * m + mu]).collect();
            let scale = w.iter().fold(0f64, |a, x| a.max(x.abs())).max(1e-12);
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("unit {mu} (max |w| {scale:.2})"),
                    ("sans-serif", 16),
                )
                .margin(6)
                .x_label_area_size(22)
                .y_label_area_size(36)
                .build_cartesian_2d(xr.clone(), yr.clone())
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(4)
                .y_labels(4)
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(err)?;
            // Small weights first, so the strong voxels stay visible on top.
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&a, &b| w[a].abs().total_cmp(&w[b].abs()));
            chart
                .draw_series(order.into_iter().map(|i| {
                    let c = centres[i];
                    Circle::new((c[0], c[1]), 3, diverging(w[i] / scale).filled())
                }))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(tmp.commit()?)
}

/// Blue (−1) – light grey (0) – red (+1).
fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(-1.0, 1.0);
    let mix = |a: u8, b: u8, s: f64| (a as f64 + (b as f64 - a as f64) * s).round() as u8;
    let (mid, end) = if t < 0.0 {
        ((225, 225, 225), (33, 102, 172))
    } else {
        ((225, 225, 225), (178, 24, 43))
    };
    let s = t.abs();
    RGBColor(
        mix(mid.0, end.0, s),
        mix(mid.1, end.1, s),
        mix(mid.2, end.2, s),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_ordered_by_weight_norm() {
        // K = 3 voxels, M = 3 units with norms 1, 3, 2.
        let w = [1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(units_by_norm(&w, 3, 3), vec![1, 2, 0]);
    }

    #[test]
    fn a_planted_patch_is_drawn_red_where_the_weights_are() {
        // A 10 × 10 grid of voxels; unit 0 is positive on the left half only.
        let centres: Vec<[f64; 3]> = (0..100)
            .map(|i| [(i % 10) as f64 * 40.0, (i / 10) as f64 * 40.0, 0.0])
            .collect();
        let w: Vec<f64> = (0..100)
            .map(|i| if i % 10 < 5 { 1.0 } else { 0.0 })
            .collect();
        let dir = std::env::temp_dir().join(format!("weight-maps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("w.png");
        weight_maps(&png, &w, &centres, 1).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        let red = |x0: u32, x1: u32| {
            img.enumerate_pixels()
                .filter(|(x, _, p)| (x0..x1).contains(x) && p.0[0] > 150 && p.0[1] < 80)
                .count()
        };
        let (w_px, _) = img.dimensions();
        let (left, right) = (red(0, w_px / 3), red(2 * w_px / 3, w_px));
        assert!(
            left > 200 && right < left / 10,
            "red pixels left {left}, right {right}"
        );
        assert!(weight_maps(&png, &w[..50], &centres, 1).is_err());
        assert!(weight_maps(&png, &[f64::NAN; 100], &centres, 1).is_err());
    }
}
