//! Outputs of one Gaussian-visible cRBM fit (`train-crbm --visible gaussian`): the model,
//! the training curve, a one-row report (JSON, CSV, Parquet) and the pictures people look
//! at: model and true voxel couplings in voxel order, the weight matrix, and the weight maps
//! of the strongest hidden units in space.

use std::path::Path;

use anyhow::{Context, Result};
use crbm::gauss::fit::{GaussFit, GaussFitConfig, Truth};
use crbm::gauss::io::{save, GaussMetadata};
use polars::prelude::{Column, DataFrame};
use serde::Serialize;

use crate::output::{write_atomic, write_csv, write_parquet};
use crate::sweep_plots::{heatmap, HeatmapAxes};
use crate::weight_maps::weight_maps;

pub use crbm::gauss::input::{GaussInput, GaussSource};

/// Load (and if needed voxelise and z-score) the visible units' signals
/// ([`crbm::gauss::input::load_input`], shared with the λ sweep).
pub fn load_input(source: &GaussSource) -> Result<GaussInput> {
    let what = match source {
        GaussSource::Voxels { .. } => "loading the voxel archive",
        GaussSource::Traces { .. } => "loading the traces",
        GaussSource::Synthetic { .. } => "generating the synthetic brain",
    };
    crbm::gauss::input::load_input(source).context(what)
}

/// The one-row run table of a Gaussian-visible fit.
#[derive(Clone, Debug, Serialize)]
pub struct GaussRow {
    pub dataset: String,
    pub visible: &'static str,
    pub device: String,
    pub n_visible: usize,
    pub n_hidden: usize,
    pub train_frames: usize,
    pub test_frames: usize,
    pub penalty: String,
    pub lambda: f64,
    pub seed: u64,
    pub updates: usize,
    pub batch: usize,
    pub gibbs_steps: usize,
    pub lr: f64,
    pub standardize: bool,
    pub eval_start: String,
    pub eval_samples: usize,
    pub clip_nrmse: bool,
    pub nrmse_v: f64,
    pub nrmse_h: f64,
    pub nrmse_vh: f64,
    pub nrmse_vv: f64,
    pub nrmse_hh: f64,
    pub norm4: f64,
    pub bad: bool,
    pub good: bool,
    pub exploded: bool,
    pub exploded_phase: Option<String>,
    pub exploded_at: Option<usize>,
    pub exploded_reason: Option<String>,
    pub stability_margin: f64,
    pub coupling_correlation: Option<f64>,
    pub mean_jaccard: Option<f64>,
    pub wall_s: f64,
}

impl GaussRow {
    pub fn new(
        fit: &GaussFit,
        cfg: &GaussFitConfig,
        dataset: &str,
        device: &str,
        wall_s: f64,
    ) -> Self {
        let r = &fit.evaluation.report;
        let explosion = fit.explosion();
        let t = &cfg.train;
        Self {
            dataset: dataset.to_string(),
            visible: "gaussian",
            device: device.to_string(),
            n_visible: fit.model.n_visible,
            n_hidden: fit.model.n_hidden,
            train_frames: fit.train_frames,
            test_frames: fit.test_frames,
            penalty: format!("{:?}", t.penalty)
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase(),
            lambda: t.penalty.lambda(),
            seed: t.seed,
            updates: fit.train_report.updates_done,
            batch: t.batch_size,
            gibbs_steps: t.gibbs_steps,
            lr: t.learning_rate,
            standardize: t.standardize,
            eval_start: format!("{:?}", cfg.sampling.start).to_lowercase(),
            eval_samples: cfg.sampling.n_chains * cfg.sampling.samples_per_chain,
            clip_nrmse: cfg.eval.clip_nrmse,
            nrmse_v: r.v,
            nrmse_h: r.h,
            nrmse_vh: r.vh,
            nrmse_vv: r.vv,
            nrmse_hh: r.hh,
            norm4: r.norm4,
            bad: r.bad,
            good: r.good,
            exploded: explosion.is_some(),
            exploded_phase: explosion.map(|e| format!("{:?}", e.phase).to_lowercase()),
            exploded_at: explosion.map(|e| e.at),
            exploded_reason: explosion.map(|e| e.reason.clone()),
            stability_margin: fit.train_report.stability_margin,
            coupling_correlation: fit.truth.as_ref().map(|s| s.coupling_correlation),
            mean_jaccard: fit.truth.as_ref().map(|s| s.mean_jaccard),
            wall_s,
        }
    }
}

/// Write the model (`model.npz`/`.json`), `training_curve.csv`, `report.{json,csv,parquet}`
/// and the pictures into `out`.
pub fn write_fit(
    out: &Path,
    fit: &GaussFit,
    cfg: &GaussFitConfig,
    truth: Option<&Truth>,
    centres: &[[f64; 3]],
    row: &GaussRow,
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    save(
        &fit.model,
        &GaussMetadata {
            config: Some(cfg.train.clone()),
            lambda: Some(cfg.train.penalty.lambda()),
            dataset: Some(row.dataset.clone()),
            report: Some(fit.train_report.clone()),
            ..Default::default()
        },
        out.join("model"),
    )
    .context("saving the model")?;
    write_curve(out, fit)?;
    write_row(out, row)?;
    write_pictures(out, fit, truth)?;
    // Weight maps in space, where the voxels have positions.
    if !centres.is_empty() && fit.model.is_valid() {
        weight_maps(
            &out.join("weight_maps.png"),
            &fit.model.weights,
            centres,
            fit.model.n_hidden,
        )?;
    }
    Ok(())
}

fn write_curve(out: &Path, fit: &GaussFit) -> Result<()> {
    let header = [
        "update",
        "lr",
        "data_free_energy",
        "max_abs_weight",
        "stability_margin",
        "max_abs_chain_state",
    ];
    let rows: Vec<Vec<String>> = fit
        .train_report
        .curve
        .iter()
        .map(|p| {
            vec![
                p.update.to_string(),
                p.learning_rate.to_string(),
                p.data_free_energy.to_string(),
                p.max_abs_weight.to_string(),
                p.stability_margin.to_string(),
                p.max_abs_chain_state.to_string(),
            ]
        })
        .collect();
    write_csv(&out.join("training_curve.csv"), &header, &rows)
}

fn write_row(out: &Path, row: &GaussRow) -> Result<()> {
    let json = serde_json::to_value(row).context("serialising the report")?;
    let map = json.as_object().context("report is an object")?;
    let header: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
    let cells: Vec<String> = map
        .values()
        .map(|v| match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            other => other.to_string(),
        })
        .collect();
    write_csv(&out.join("report.csv"), &header, &[cells])?;
    let columns: Vec<Column> = map
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::Bool(b) => Column::new(k.as_str().into(), [*b]),
            serde_json::Value::Number(n) => Column::new(k.as_str().into(), [n.as_f64()]),
            serde_json::Value::String(s) => Column::new(k.as_str().into(), [s.clone()]),
            _ => Column::new(k.as_str().into(), [Option::<f64>::None]),
        })
        .collect();
    // NaN nRMSEs of an exploded model are JSON nulls; restore them as NaN in Parquet.
    let mut df = DataFrame::new(1, columns).context("building the report table")?;
    write_parquet(&out.join("report.parquet"), &mut df)?;
    let text = serde_json::to_string_pretty(row).context("serialising the report")?;
    write_atomic(&out.join("report.json"), text.as_bytes())
}

fn write_pictures(out: &Path, fit: &GaussFit, truth: Option<&Truth>) -> Result<()> {
    let k = fit.model.n_visible;
    if !fit.couplings.is_empty() {
        heatmap(
            &out.join("couplings_model.png"),
            &fit.couplings,
            k,
            k,
            &HeatmapAxes {
                title: "model voxel couplings W diag<Var h> W^T".into(),
                x_label: "voxel".into(),
                y_label: "voxel".into(),
            },
        )?;
    }
    if let Some(t) = truth {
        heatmap(
            &out.join("couplings_true.png"),
            &t.couplings,
            k,
            k,
            &HeatmapAxes {
                title: "planted voxel couplings".into(),
                x_label: "voxel".into(),
                y_label: "voxel".into(),
            },
        )?;
    }
    if fit.model.is_valid() {
        let m = fit.model.n_hidden;
        let wt: Vec<f64> = (0..m)
            .flat_map(|mu| (0..k).map(move |i| (i, mu)))
            .map(|(i, mu)| fit.model.weight(i, mu))
            .collect();
        heatmap(
            &out.join("weights.png"),
            &wt,
            m,
            k,
            &HeatmapAxes {
                title: "weights w (hidden unit x voxel)".into(),
                x_label: "voxel".into(),
                y_label: "hidden unit".into(),
            },
        )?;
    }
    Ok(())
}
