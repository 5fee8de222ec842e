//! The report folder of a λ sweep, built from its Parquet table and saved files alone: per-λ
//! model selection, ranked good models, coupling-matrix comparison (nRMSE, PCA, K-means),
//! plots (PNG and SVG) and a Markdown summary that links them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use analysis::connectivity::CouplingSet;
use analysis::consistency::{consistency, Consistency};
use analysis::report::{
    cluster_couplings, default_shown, nrmse_vector_groups, range_representatives, CouplingClusters,
};
use analysis::selection::{
    best_lambda, per_lambda, ranked_good, summary_table, LambdaSummary, SelectionConfig,
};
use analysis::sweep::{load_dir_config, write_matrix_npy, STATISTICS};
use analysis::table::{read_sweep, write_rows, ModelRow};
use anyhow::{Context, Result};
use polars::prelude::Column;

use crate::output::{read_parquet, write_atomic, write_parquet};
use crate::plots::{identity, lines, scatter, Axes, Series};
use crate::sweep_plots::{dual_axis, heatmap, radar, DualAxes, HeatmapAxes, RadarGroup};

/// Which models' coupling matrices are compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ConnectivityModels {
    /// Every model with a coupling matrix.
    All,
    /// Models that are not bad (a bad model's couplings describe a poor fit).
    #[default]
    NotBad,
    /// Good models only.
    Good,
}

/// What the analysis does beyond reading the tables.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    pub selection: SelectionConfig,
    /// Models whose coupling matrices enter the PCA and K-means.
    pub connectivity: ConnectivityModels,
    /// K-means clusters of the coupling matrices.
    pub clusters: usize,
    /// Leading principal components used for clustering.
    pub components: usize,
    /// Model for the identity plots and the coupling heatmap (default: the best good model).
    pub model: Option<u64>,
    pub seed: u64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            selection: SelectionConfig::default(),
            connectivity: ConnectivityModels::default(),
            clusters: 2,
            components: 3,
            model: None,
            seed: 0,
        }
    }
}

/// The clustering of the models' coupling matrices.
#[derive(Clone, Debug)]
pub struct Clustering {
    /// Which models were compared, and how many.
    pub models: ConnectivityModels,
    pub n_models: usize,
    pub n_groups: usize,
    /// Variance fraction of each leading component.
    pub explained: Vec<f64>,
    /// (cluster, λ range, models).
    pub counts: Vec<(usize, String, usize)>,
    /// Agreement of the clusters with the λ ranges (adjusted Rand index; 1 = identical).
    pub rand_index: f64,
    /// Mean coupling-matrix nRMSE between models of the same / of different clusters.
    pub nrmse_within: f64,
    pub nrmse_across: f64,
    /// "Structure preserved": Pearson r between the mean (z-scored) coupling matrices of
    /// clusters 0 and 1 over off-diagonal pairs (NaN with fewer than two clusters).
    pub structure_correlation: f64,
}

/// What the report found (also printed by `analyze-sweep`).
#[derive(Clone, Debug)]
pub struct ReportSummary {
    pub n_models: usize,
    pub per_lambda: Vec<LambdaSummary>,
    /// Index into `per_lambda` of the best λ.
    pub best: Option<usize>,
    pub good: Vec<ModelRow>,
    /// The model shown in the identity plots and the heatmap.
    pub shown: Option<ModelRow>,
    pub clustering: Option<Clustering>,
    /// Cross-recording consistency (sweeps of several recordings only).
    pub consistency: Option<Consistency>,
    /// Every plot written (PNG and SVG).
    pub plots: Vec<PathBuf>,
    pub markdown: PathBuf,
}

/// Both formats of one plot: `stem.png` and `stem.svg` in `out`.
fn both(out: &Path, stem: &str, mut draw: impl FnMut(&Path) -> Result<()>) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for ext in ["png", "svg"] {
        let p = out.join(format!("{stem}.{ext}"));
        draw(&p).with_context(|| format!("drawing {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

/// A statistic's name for plots, letters spaced (`<v v>`: the plot font sets "vv" like "w").
fn stat_label(name: &str) -> String {
    let spaced: Vec<String> = name.chars().map(String::from).collect();
    format!("<{}>", spaced.join(" "))
}

fn fmt_lambda(l: f64) -> String {
    format!("{l:.4}")
}

/// Builds the report of the sweep in `sweep_dir` into `out`.
pub fn write_report(sweep_dir: &Path, out: &Path, opts: &ReportOptions) -> Result<ReportSummary> {
    opts.selection.validate()?;
    let rows = read_sweep(sweep_dir)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let sel = &sweep_selection(sweep_dir, &opts.selection);
    let summaries = per_lambda(&rows, sel);
    let best = best_lambda(&summaries, sel);
    let good: Vec<ModelRow> = ranked_good(&rows, sel).into_iter().cloned().collect();
    write_parquet(
        &out.join("per_lambda.parquet"),
        &mut summary_table(&summaries)?,
    )?;
    write_rows(&out.join("good_models.parquet"), &good)?;
    let mut plots = selection_plots(out, &rows, &summaries, sel)?;

    let shown = match opts.model {
        Some(k) => Some(
            rows.iter()
                .find(|r| r.index == k)
                .cloned()
                .with_context(|| format!("--model {k}: no such model in the sweep"))?,
        ),
        None => default_shown(&rows, &good, sel),
    };
    if let Some(m) = &shown {
        plots.extend(identity_plots(sweep_dir, out, m)?);
    }

    let compared: Vec<ModelRow> = rows
        .iter()
        .filter(|r| match opts.connectivity {
            ConnectivityModels::All => true,
            ConnectivityModels::NotBad => !sel.is_bad(r),
            ConnectivityModels::Good => sel.is_good(r),
        })
        .cloned()
        .collect();
    let set = CouplingSet::load(sweep_dir, &compared)?;
    // The shown model is drawn even when it is not among the compared ones (e.g. no model is
    // good and the lowest-norm one is bad).
    if let Some(m) = &shown {
        let own = CouplingSet::load(sweep_dir, std::slice::from_ref(m))?;
        if let Some(j) = own.matrices.first() {
            plots.extend(coupling_heatmap(
                out,
                "couplings_shown",
                m,
                j,
                own.n_groups,
            )?);
        }
    }
    let clustering = if set.len() >= 2 {
        Some(write_clustering(out, &set, opts, sel, &mut plots)?)
    } else {
        None
    };

    let consistency = write_consistency(sweep_dir, out, &rows, &mut plots)?;

    let mut summary = ReportSummary {
        n_models: rows.len(),
        per_lambda: summaries,
        best,
        good,
        shown,
        clustering,
        consistency,
        plots,
        markdown: out.join("summary.md"),
    };
    write_atomic(
        &summary.markdown,
        markdown(sweep_dir, out, &summary, sel).as_bytes(),
    )?;
    summary.plots.sort();
    Ok(summary)
}

/// The good rule of the sweep's own evaluation (clipped nRMSE for the study's models).
fn sweep_selection(sweep_dir: &Path, asked: &SelectionConfig) -> SelectionConfig {
    let mut selection = asked.clone();
    if let Ok(cfg) = load_dir_config(sweep_dir) {
        selection.clip_nrmse |= cfg.eval.clip_nrmse;
    }
    selection
}

/// λ vs norm (with the percentage of exploded and bad models on the second axis), each
/// statistic's nRMSE vs λ and the nRMSE vectors of good and bad models; none when no model
/// has a finite norm.
fn selection_plots(
    out: &Path,
    rows: &[ModelRow],
    summaries: &[LambdaSummary],
    sel: &SelectionConfig,
) -> Result<Vec<PathBuf>> {
    let mut plots = Vec::new();
    let norm_points: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| !r.exploded)
        .map(|r| (r.lambda, sel.norm4(r)))
        .collect();
    if !norm_points.iter().any(|p| p.1.is_finite()) {
        return Ok(plots);
    }
    plots.extend(norm_plot(out, norm_points, summaries)?);
    let per_stat: Vec<Series> = STATISTICS
        .iter()
        .enumerate()
        .map(|(k, (_, name))| {
            Series::new(
                stat_label(name),
                summaries
                    .iter()
                    .map(|s| (s.lambda, s.mean_nrmse[k]))
                    .collect(),
            )
        })
        .collect();
    plots.extend(both(out, "nrmse_per_statistic", |p| {
        lines(
            p,
            &per_stat,
            &Axes {
                title: "nRMSE of each statistic vs λ (mean over seeds)".into(),
                x_label: "λ (L2L1)".into(),
                y_label: "nRMSE".into(),
                log_x: true,
                ..Default::default()
            },
        )
    })?);
    // The legend adds the number of vectors.
    let groups: Vec<RadarGroup> = nrmse_vector_groups(rows, sel)
        .into_iter()
        .map(|(name, vectors)| RadarGroup::new(name, vectors))
        .collect();
    if !groups.is_empty() {
        let labels = STATISTICS.map(|(_, n)| stat_label(n));
        let spokes = labels.each_ref().map(String::as_str);
        plots.extend(both(out, "nrmse_polar", |p| {
            radar(p, &spokes, &groups, "nRMSE vectors of good and bad models")
        })?);
    }
    Ok(plots)
}

/// λ vs the norm of each model and the median over seeds; % exploded and % bad on the right.
fn norm_plot(
    out: &Path,
    norm_points: Vec<(f64, f64)>,
    summaries: &[LambdaSummary],
) -> Result<Vec<PathBuf>> {
    let median: Vec<(f64, f64)> = summaries
        .iter()
        .map(|s| (s.lambda, s.norm4_median))
        .collect();
    let pct = |f: fn(&LambdaSummary) -> f64| -> Vec<(f64, f64)> {
        summaries.iter().map(|s| (s.lambda, 100.0 * f(s))).collect()
    };
    both(out, "norm_vs_lambda", |p| {
        dual_axis(
            p,
            &[
                Series::new("nRMSE norm (one model)", norm_points.clone()),
                Series::new("median over seeds", median.clone()),
            ],
            &[
                Series::new("% exploded", pct(|s| s.frac_exploded)),
                Series::new("% bad", pct(|s| s.frac_bad)),
            ],
            &DualAxes {
                title: "4-statistic nRMSE norm and explosions vs λ".into(),
                x_label: "λ (L2L1)".into(),
                y_left_label: "nRMSE norm".into(),
                y_right_label: "% of models".into(),
                log_x: true,
                left_lines: false,
            },
        )
    })
}

/// Model statistic vs held-out data, one plot per statistic, from the model's saved
/// `.stats.parquet` (none when the model has no such file).
fn identity_plots(sweep_dir: &Path, out: &Path, m: &ModelRow) -> Result<Vec<PathBuf>> {
    let mut plots = Vec::new();
    let stats_path = sweep_dir.join(format!("{}.stats.parquet", m.model_path));
    if !stats_path.is_file() {
        return Ok(plots);
    }
    let df = read_parquet(&stats_path)?;
    let col = |n: &str| -> Result<Column> {
        df.column(n)
            .cloned()
            .with_context(|| format!("{}: missing column '{n}'", stats_path.display()))
    };
    let (stat, test, model) = (col("statistic")?, col("test")?, col("model")?);
    let (stat, test, model) = (stat.str()?, test.f64()?, model.f64()?);
    for (_, name) in STATISTICS {
        let pts: Vec<(f64, f64)> = (0..stat.len())
            .filter(|&i| stat.get(i) == Some(name))
            .filter_map(|i| Some((test.get(i)?, model.get(i)?)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        plots.extend(both(out, &format!("identity_{name}"), |p| {
            identity(
                p,
                &[Series::new(stat_label(name), pts.clone())],
                &Axes {
                    title: format!(
                        "{}: model {} (λ = {}) vs held-out data",
                        stat_label(name),
                        m.index,
                        fmt_lambda(m.lambda)
                    ),
                    x_label: "test data".into(),
                    y_label: "model samples".into(),
                    ..Default::default()
                },
            )
        })?);
    }
    Ok(plots)
}

/// A z-scored coupling heatmap of model `r`; `k` groups per side.
fn coupling_heatmap(
    out: &Path,
    stem: &str,
    r: &ModelRow,
    j: &[f64],
    k: usize,
) -> Result<Vec<PathBuf>> {
    both(out, stem, |p| {
        heatmap(
            p,
            j,
            k,
            k,
            &HeatmapAxes {
                title: format!(
                    "z-scored coupling matrix, model {} (λ = {}, {})",
                    r.index,
                    fmt_lambda(r.lambda),
                    r.range
                ),
                x_label: "group".into(),
                y_label: "group".into(),
            },
        )
    })
}

/// The coupling-matrix comparison of `set` (≥ 2 models): one heatmap per λ range, the
/// pairwise nRMSE (`coupling_nrmse.npy`), PCA and K-means (`models_pca.parquet`, two PCA
/// scatter plots).
fn write_clustering(
    out: &Path,
    set: &CouplingSet,
    opts: &ReportOptions,
    sel: &SelectionConfig,
    plots: &mut Vec<PathBuf>,
) -> Result<Clustering> {
    for (range, pos) in range_representatives(set, sel) {
        let stem = format!("couplings_{range}");
        plots.extend(coupling_heatmap(
            out,
            &stem,
            &set.rows[pos],
            &set.matrices[pos],
            set.n_groups,
        )?);
    }
    let c = cluster_couplings(set, opts.components, opts.clusters, opts.seed)?;
    write_matrix_npy(&out.join("coupling_nrmse.npy"), &c.pairwise, set.len())?;
    write_parquet(&out.join("models_pca.parquet"), &mut c.table(set)?)?;
    plots.extend(pca_plots(out, set, &c)?);
    Ok(Clustering {
        models: opts.connectivity,
        n_models: set.len(),
        n_groups: set.n_groups,
        explained: c.pca.explained.clone(),
        counts: c.counts,
        rand_index: c.rand_index,
        nrmse_within: c.nrmse_within,
        nrmse_across: c.nrmse_across,
        structure_correlation: c.structure_correlation,
    })
}

/// PC1–PC2 scatter plots of the models, coloured by λ and by K-means cluster.
fn pca_plots(out: &Path, set: &CouplingSet, c: &CouplingClusters) -> Result<Vec<PathBuf>> {
    let mut plots = Vec::new();
    let pc_axes = |title: &str| Axes {
        title: title.into(),
        x_label: format!("PC1 ({:.0}% of variance)", 100.0 * c.pca.explained[0]),
        y_label: format!("PC2 ({:.0}% of variance)", 100.0 * c.pca.explained[1]),
        ..Default::default()
    };
    let mut lambdas: Vec<f64> = set.rows.iter().map(|r| r.lambda).collect();
    lambdas.dedup();
    let by_lambda: Vec<Series> = lambdas
        .iter()
        .map(|&l| {
            let points = c.scores_where(|i| set.rows[i].lambda == l);
            Series::new(format!("λ = {}", fmt_lambda(l)), points)
        })
        .collect();
    plots.extend(both(out, "pca_by_lambda", |p| {
        scatter(
            p,
            &by_lambda,
            &pc_axes("Coupling matrices: PCA, coloured by λ"),
        )
    })?);
    let by_cluster: Vec<Series> = (0..c.n_clusters)
        .map(|k| Series::new(format!("cluster {k}"), c.scores_where(|i| c.labels[i] == k)))
        .collect();
    plots.extend(both(out, "pca_by_cluster", |p| {
        scatter(
            p,
            &by_cluster,
            &pc_axes("Coupling matrices: PCA, coloured by K-means cluster"),
        )
    })?);
    Ok(plots)
}

/// The consistency section's table (`consistency.parquet`) and recordings × recordings
/// similarity heatmap, for sweeps of several recordings; exploded models have no coupling
/// matrix and are left out. Control fish (their own layouts) are taken from `sweep.json`.
fn write_consistency(
    sweep_dir: &Path,
    out: &Path,
    rows: &[ModelRow],
    plots: &mut Vec<PathBuf>,
) -> Result<Option<Consistency>> {
    let shared_layout = load_dir_config(sweep_dir)
        .ok()
        .and_then(|cfg| cfg.shared_layout_recordings());
    let Some(c) = consistency(sweep_dir, rows, shared_layout)? else {
        return Ok(None);
    };
    write_parquet(&out.join("consistency.parquet"), &mut c.table()?)?;
    let r = c.n_recordings;
    if c.similarity.iter().any(|x| x.is_finite()) {
        plots.extend(both(out, "consistency_similarity", |p| {
            heatmap(
                p,
                &c.similarity,
                r,
                r,
                &HeatmapAxes {
                    title: "coupling similarity of recordings (mean r; diagonal: seed to seed)"
                        .into(),
                    x_label: "recording".into(),
                    y_label: "recording".into(),
                },
            )
        })?);
    }
    Ok(Some(c))
}

/// The yes/no of one λ.
fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn rel(out: &Path, p: &Path) -> String {
    p.strip_prefix(out).unwrap_or(p).display().to_string()
}

/// The Markdown summary.
fn markdown(sweep_dir: &Path, out: &Path, s: &ReportSummary, sel: &SelectionConfig) -> String {
    let mut md = String::new();
    md_selection(&mut md, sweep_dir, s, sel);
    md_good_models(&mut md, s, sel);
    md_connectivity(&mut md, s);
    if let Some(c) = &s.consistency {
        md_consistency(&mut md, c);
    }
    md_plots(&mut md, out, s);
    md
}

/// Title, the bad/good rule and the per-λ selection table with the best λ.
fn md_selection(md: &mut String, sweep_dir: &Path, s: &ReportSummary, sel: &SelectionConfig) {
    let _ = writeln!(md, "# λ sweep report\n");
    let _ = writeln!(
        md,
        "Sweep `{}`: {} models. A model is *bad* when an nRMSE exceeds {} (or it exploded), \
         *good* when the norm of its nRMSEs of {:?} is ≤ {}.\n",
        sweep_dir.display(),
        s.n_models,
        sel.bad_above,
        sel.good_statistics,
        sel.good_threshold
    );
    let _ = writeln!(md, "## Model selection\n");
    let _ = writeln!(
        md,
        "| λ | range | models | exploded | bad | good | norm median [q25, q75] | sparsity |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (k, l) in s.per_lambda.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {:.0}% | {:.0}% | {} | {:.3} [{:.3}, {:.3}] | {:.3} |",
            fmt_lambda(l.lambda),
            if Some(k) == s.best { " **(best)**" } else { "" },
            l.range,
            l.n_models,
            100.0 * l.frac_exploded,
            100.0 * l.frac_bad,
            l.n_good,
            l.norm4_median,
            l.norm4_q25,
            l.norm4_q75,
            l.mean_sparsity
        );
    }
    match s.best {
        Some(b) => {
            let l = &s.per_lambda[b];
            let _ = writeln!(
                md,
                "\nBest λ = {} ({}): {:.0}% bad models, median norm {:.3}.\n",
                fmt_lambda(l.lambda),
                l.range,
                100.0 * l.frac_bad,
                l.norm4_median
            );
        }
        None => {
            let _ = writeln!(
                md,
                "\nNo λ has a median norm within {}: no best λ.\n",
                sel.good_threshold
            );
        }
    }
}

/// The good models, best first (at most 20).
fn md_good_models(md: &mut String, s: &ReportSummary, sel: &SelectionConfig) {
    let _ = writeln!(md, "### Good models (best first)\n");
    if s.good.is_empty() {
        let _ = writeln!(md, "None.\n");
    } else {
        let _ = writeln!(
            md,
            "| model | λ | seed | norm | ⟨v⟩ | ⟨h⟩ | ⟨vh⟩ | ⟨vv⟩ | ⟨hh⟩ | path |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
        for r in s.good.iter().take(20) {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | `{}` |",
                r.index,
                fmt_lambda(r.lambda),
                r.seed,
                sel.norm4(r),
                r.nrmse_v,
                r.nrmse_h,
                r.nrmse_vh,
                r.nrmse_vv,
                r.nrmse_hh,
                r.model_path
            );
        }
        let _ = writeln!(md);
    }
}

/// The coupling-matrix clustering: PCA variance, cluster × range counts, agreement.
fn md_connectivity(md: &mut String, s: &ReportSummary) {
    let _ = writeln!(md, "## Functional connectivity\n");
    match &s.clustering {
        Some(c) => {
            let _ = writeln!(
                md,
                "{} models ({:?}) with coupling matrices over {} groups (z-scored). PCA of the \
                 flattened matrices: {} of the variance on the leading components. K-means on them:\n",
                c.n_models,
                c.models,
                c.n_groups,
                c.explained
                    .iter()
                    .map(|e| format!("{:.1}%", 100.0 * e))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(md, "| cluster | λ range | models |\n|---|---|---|");
            for (cl, range, n) in &c.counts {
                let _ = writeln!(md, "| {cl} | {range} | {n} |");
            }
            let _ = writeln!(
                md,
                "\nAgreement of clusters with λ ranges (adjusted Rand index): {:.3}. \
                 Coupling-matrix nRMSE within clusters {:.3}, across clusters {:.3}.\n",
                c.rand_index, c.nrmse_within, c.nrmse_across
            );
            let _ = writeln!(
                md,
                "Structure preserved: the mean coupling matrices of the two clusters correlate \
                 with r = {:.3} (Pearson, off-diagonal pairs of the z-scored matrices).\n",
                c.structure_correlation
            );
        }
        None => {
            let _ = writeln!(
                md,
                "Fewer than two of the compared models have coupling matrices (no coordinates \
                 or regions, or too few models that qualify): no comparison.\n"
            );
        }
    }
}

/// Cross- versus within-recording consistency per λ.
fn md_consistency(md: &mut String, c: &Consistency) {
    let _ = writeln!(
        md,
        "## Consistency across recordings\n\n{} recordings. Per λ, the mean coupling-matrix \
         nRMSE and Pearson r (off-diagonal pairs) between models of different recordings \
         (cross) and between seeds of the same recording (within); exploded models are \
         left out.\n",
        c.n_recordings
    );
    md_table(
        md,
        &[
            "λ",
            "range",
            "models",
            "cross nRMSE",
            "cross r",
            "within nRMSE",
            "within r",
            "cross-recording similarity beats within-recording seed-to-seed",
        ],
        c.per_lambda.iter().map(|l| {
            vec![
                fmt_lambda(l.lambda),
                l.range.to_string(),
                l.n_models.to_string(),
                format!("{:.3}", l.cross_nrmse),
                format!("{:.3}", l.cross_correlation),
                format!("{:.3}", l.within_nrmse),
                format!("{:.3}", l.within_correlation),
                yes_no(l.cross_beats_within).to_string(),
            ]
        }),
    );
    if let Some(s) = c.shared_layout {
        md_control(md, c, s);
    }
    let _ = writeln!(
        md,
        "\nRecordings × recordings similarity (mean r over λ and seeds): \
         `consistency_similarity.png`; table: `consistency.parquet`.\n"
    );
}

/// Fish sharing a layout versus the control fish (own layouts) of the same sweep, per λ.
fn md_control(md: &mut String, c: &Consistency, shared: usize) {
    let _ = writeln!(
        md,
        "\nNegative control in the same sweep: recordings 0–{} share one assembly layout \
         (cross above), recordings {shared}–{} are control fish, each with its own layout. \
         Control pairs are pairs of models of two recordings with different layouts (two \
         control fish, or a control fish and a shared-layout fish).\n",
        shared.saturating_sub(1),
        c.n_recordings.saturating_sub(1)
    );
    md_table(
        md,
        &[
            "λ",
            "range",
            "shared pairs",
            "shared r",
            "shared nRMSE",
            "control pairs",
            "control r",
            "control nRMSE",
            "shared layout beats control",
        ],
        c.per_lambda.iter().map(|l| {
            vec![
                fmt_lambda(l.lambda),
                l.range.to_string(),
                l.cross_pairs.to_string(),
                format!("{:.3}", l.cross_correlation),
                format!("{:.3}", l.cross_nrmse),
                l.control_pairs.to_string(),
                format!("{:.3}", l.control_correlation),
                format!("{:.3}", l.control_nrmse),
                yes_no(l.shared_beats_control == Some(true)).to_string(),
            ]
        }),
    );
}

/// A Markdown table: the header row, its separator, one row per item of `rows`.
fn md_table(md: &mut String, header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(md, "| {} |", r.join(" | "));
    }
}

/// Links to every PNG (and its SVG), and the tables.
fn md_plots(md: &mut String, out: &Path, s: &ReportSummary) {
    let _ = writeln!(md, "## Plots\n");
    for p in s
        .plots
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
    {
        let r = rel(out, p);
        let _ = writeln!(
            md,
            "- [{r}]({r}) ([svg]({}))\n\n  ![{r}]({r})\n",
            rel(out, &p.with_extension("svg"))
        );
    }
    let _ = writeln!(
        md,
        "Tables: `per_lambda.parquet`, `good_models.parquet`, `models_pca.parquet`, \
         `coupling_nrmse.npy` (pairwise nRMSE of the coupling matrices, in `models_pca` order)."
    );
}

/// Prints the report's main findings.
pub fn print_summary(s: &ReportSummary) {
    println!(
        "{:>9} {:>7} {:>6} {:>9} {:>6} {:>5} {:>12}",
        "lambda", "range", "models", "exploded", "bad", "good", "median norm"
    );
    for (k, l) in s.per_lambda.iter().enumerate() {
        println!(
            "{:>9} {:>7} {:>6} {:>8.0}% {:>5.0}% {:>5} {:>12.3}{}",
            fmt_lambda(l.lambda),
            l.range,
            l.n_models,
            100.0 * l.frac_exploded,
            100.0 * l.frac_bad,
            l.n_good,
            l.norm4_median,
            if Some(k) == s.best { "  <- best" } else { "" }
        );
    }
    if let Some(c) = &s.clustering {
        println!(
            "coupling matrices: {} models ({:?}), {} groups; clusters vs λ ranges: adjusted Rand {:.3}; \
             nRMSE within clusters {:.3}, across {:.3}",
            c.n_models, c.models, c.n_groups, c.rand_index, c.nrmse_within, c.nrmse_across
        );
        for (cl, range, n) in &c.counts {
            println!("  cluster {cl} / {range}: {n} models");
        }
        println!(
            "structure preserved: correlation of the two clusters' mean coupling matrices r = {:.3}",
            c.structure_correlation
        );
    }
    if let Some(c) = &s.consistency {
        println!(
            "consistency across {} recordings (cross-recording vs within-recording seed-to-seed):",
            c.n_recordings
        );
        for l in &c.per_lambda {
            println!(
                "  λ {}: cross r {:.3} nRMSE {:.3}; within r {:.3} nRMSE {:.3}; \
                 cross-recording similarity beats within-recording seed-to-seed: {}",
                fmt_lambda(l.lambda),
                l.cross_correlation,
                l.cross_nrmse,
                l.within_correlation,
                l.within_nrmse,
                yes_no(l.cross_beats_within)
            );
            if l.shared_beats_control.is_some() {
                println!(
                    "    control (different layouts): r {:.3} nRMSE {:.3} over {} pairs; \
                     shared layout beats control: {}",
                    l.control_correlation,
                    l.control_nrmse,
                    l.control_pairs,
                    yes_no(l.shared_beats_control == Some(true))
                );
            }
        }
    }
    println!(
        "{} good models; report: {}",
        s.good.len(),
        s.markdown.display()
    );
}
