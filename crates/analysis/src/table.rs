//! The sweep table: one row per model (λ, seed, the five nRMSEs, verdicts, explosion, timing,
//! weight sparsity, paths of the saved model and coupling matrix), its Parquet schema, and the
//! part files that make a sweep resumable and shardable.
//!
//! Each finished model is written as its own part file `parts/part-{index:06}.parquet`
//! (atomically, after its model and couplings are on disk), so a killed sweep loses at most the
//! models in flight; `merge` checks that every model is present once and nothing else is
//! (`jobs::table::check_coverage`) and writes `sweep.parquet`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jobs::table::{check_coverage, list_parts, part_name, read_parquet, write_parquet};
use polars::prelude::*;

use crate::error::{AnalysisError, Result};

/// Folder of the part files inside a sweep directory.
pub const PARTS_DIR: &str = "parts";
/// The merged table inside a sweep directory.
pub const MERGED_FILE: &str = "sweep.parquet";

/// One trained and evaluated model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRow {
    /// Position in the sweep (λ-major, then recording, then seed).
    pub index: u64,
    pub lambda: f64,
    /// Name of the λ grid the model belongs to.
    pub range: String,
    pub seed: u64,
    /// Recording (fish) the model was trained on (0 for single-recording sweeps).
    pub recording: u64,
    pub penalty: String,
    /// Visible units: "bernoulli" or "gaussian".
    pub visible: String,
    pub nrmse_v: f64,
    pub nrmse_h: f64,
    pub nrmse_vh: f64,
    pub nrmse_vv: f64,
    pub nrmse_hh: f64,
    /// L2 norm of the four chosen nRMSEs (NaN for an exploded model).
    pub norm4: f64,
    /// Some nRMSE > 1 or NaN (exploded models are bad).
    pub bad: bool,
    pub good: bool,
    pub exploded: bool,
    /// Epoch and update at which the model exploded (for an explosion while sampling, the
    /// update of the trained model).
    pub exploded_epoch: Option<f64>,
    pub exploded_update: Option<u64>,
    /// "training" or "sampling" (evaluation chains ran away).
    pub exploded_phase: Option<String>,
    /// Gibbs sweep of the evaluation sampling at which the chains ran away.
    pub exploded_sweep: Option<u64>,
    /// Gaussian models: `min γ± − λ_max(Wᵀ diag(1/γ) W)` of the model (at the explosion, if
    /// it exploded); > 0 guarantees a normalisable model. NaN for Bernoulli models.
    pub stability_margin: f64,
    /// Gaussian models: the largest growth rate `q(u)` of log p̃(t u)/t² found over
    /// directions u of h (`crbm::gauss::stability`); > 0 certifies an improper model
    /// (log Z = +∞). NaN for Bernoulli models.
    pub growth_rate: f64,
    /// Gaussian models: the upper bound `λ_max(Wᵀ diag(1/γ) W − diag(min γ±))` on that
    /// growth rate; < 0 certifies a proper model. NaN for Bernoulli models.
    pub growth_bound: f64,
    /// Parameter updates done.
    pub updates: u64,
    /// Training and evaluation wall time, s.
    pub train_s: f64,
    pub eval_s: f64,
    /// 1 − mean participation ratio of the hidden units' weight vectors: 0 when every neuron
    /// weighs equally, → 1 when each unit is carried by a few neurons.
    pub sparsity: f64,
    pub max_abs_weight: f64,
    /// Mean Jaccard overlap of planted assemblies with their best hidden unit (synthetic data).
    pub mean_jaccard: Option<f64>,
    /// Pearson r of model and planted voxel couplings over voxel pairs (synthetic brain).
    pub coupling_correlation: Option<f64>,
    /// Saved model stem (`.npz` + `.json`), relative to the sweep directory.
    pub model_path: String,
    /// Aggregated coupling matrix (`.npy`, [K, K]), relative to the sweep directory; none for
    /// exploded models or data without coordinates and regions.
    pub couplings_path: Option<String>,
    /// Number of voxels or regions K (0 without couplings).
    pub n_groups: u64,
}

/// Column names, in table order. `recording`, `visible`, `exploded_phase`,
/// `exploded_sweep`, `stability_margin`, `growth_rate`, `growth_bound` and
/// `coupling_correlation` may be absent from tables of older sweeps.
pub const COLUMNS: [&str; 33] = [
    "index",
    "lambda",
    "range",
    "seed",
    "recording",
    "penalty",
    "visible",
    "nrmse_v",
    "nrmse_h",
    "nrmse_vh",
    "nrmse_vv",
    "nrmse_hh",
    "norm4",
    "bad",
    "good",
    "exploded",
    "exploded_epoch",
    "exploded_update",
    "exploded_phase",
    "exploded_sweep",
    "stability_margin",
    "growth_rate",
    "growth_bound",
    "updates",
    "train_s",
    "eval_s",
    "sparsity",
    "max_abs_weight",
    "mean_jaccard",
    "coupling_correlation",
    "model_path",
    "couplings_path",
    "n_groups",
];

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> AnalysisError + '_ {
    move |e| AnalysisError::BadFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The polars table of `rows`.
pub fn to_dataframe(rows: &[ModelRow]) -> Result<DataFrame> {
    macro_rules! col {
        ($name:literal, $f:expr) => {
            Column::new($name.into(), rows.iter().map($f).collect::<Vec<_>>())
        };
    }
    let cols = vec![
        col!("index", |r| r.index),
        col!("lambda", |r| r.lambda),
        col!("range", |r| r.range.clone()),
        col!("seed", |r| r.seed),
        col!("recording", |r| r.recording),
        col!("penalty", |r| r.penalty.clone()),
        col!("visible", |r| r.visible.clone()),
        col!("nrmse_v", |r| r.nrmse_v),
        col!("nrmse_h", |r| r.nrmse_h),
        col!("nrmse_vh", |r| r.nrmse_vh),
        col!("nrmse_vv", |r| r.nrmse_vv),
        col!("nrmse_hh", |r| r.nrmse_hh),
        col!("norm4", |r| r.norm4),
        col!("bad", |r| r.bad),
        col!("good", |r| r.good),
        col!("exploded", |r| r.exploded),
        col!("exploded_epoch", |r| r.exploded_epoch),
        col!("exploded_update", |r| r.exploded_update),
        col!("exploded_phase", |r| r.exploded_phase.clone()),
        col!("exploded_sweep", |r| r.exploded_sweep),
        col!("stability_margin", |r| r.stability_margin),
        col!("growth_rate", |r| r.growth_rate),
        col!("growth_bound", |r| r.growth_bound),
        col!("updates", |r| r.updates),
        col!("train_s", |r| r.train_s),
        col!("eval_s", |r| r.eval_s),
        col!("sparsity", |r| r.sparsity),
        col!("max_abs_weight", |r| r.max_abs_weight),
        col!("mean_jaccard", |r| r.mean_jaccard),
        col!("coupling_correlation", |r| r.coupling_correlation),
        col!("model_path", |r| r.model_path.clone()),
        col!("couplings_path", |r| r.couplings_path.clone()),
        col!("n_groups", |r| r.n_groups),
    ];
    DataFrame::new(rows.len(), cols).map_err(polars_err(Path::new("<sweep table>")))
}

/// Typed access to the columns of a table read from `path`, with errors naming file and column.
struct Columns<'a> {
    df: &'a DataFrame,
    path: &'a Path,
}

impl<'a> Columns<'a> {
    fn get(&self, name: &str) -> Result<&'a Column> {
        self.df.column(name).map_err(|_| AnalysisError::BadFile {
            path: self.path.to_path_buf(),
            message: format!(
                "missing column '{name}' (a sweep table has: {})",
                COLUMNS.join(", ")
            ),
        })
    }

    fn wrong(&self, c: &Column, expected: &str) -> AnalysisError {
        AnalysisError::BadFile {
            path: self.path.to_path_buf(),
            message: format!(
                "column '{}' has type {}, expected {expected}",
                c.name(),
                c.dtype()
            ),
        }
    }

    /// The column `name` cast to `to` after checking that its type `fits` (nulls pass);
    /// `strict` refuses values that do not convert.
    fn cast(
        &self,
        name: &str,
        fits: fn(&DataType) -> bool,
        to: DataType,
        strict: bool,
        expected: &str,
    ) -> Result<Column> {
        let c = self.get(name)?;
        if !fits(c.dtype()) && c.dtype() != &DataType::Null {
            return Err(self.wrong(c, expected));
        }
        let cast = if strict {
            c.strict_cast(&to)
        } else {
            c.cast(&to)
        };
        cast.map_err(|_| self.wrong(c, expected))
    }

    /// Floats (integers widened); nulls kept as None.
    fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let c = self.cast(
            name,
            DataType::is_primitive_numeric,
            DataType::Float64,
            false,
            "f64",
        )?;
        Ok(c.f64().map_err(|_| self.wrong(&c, "f64"))?.iter().collect())
    }

    /// Floats where null reads as NaN.
    fn f64s_nan(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self
            .f64s(name)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }

    fn u64s(&self, name: &str) -> Result<Vec<Option<u64>>> {
        let expected = "unsigned integer";
        let c = self.cast(name, DataType::is_integer, DataType::UInt64, true, expected)?;
        Ok(c.u64()
            .map_err(|_| self.wrong(&c, expected))?
            .iter()
            .collect())
    }

    fn required_u64s(&self, name: &str) -> Result<Vec<u64>> {
        self.u64s(name)?
            .into_iter()
            .enumerate()
            .map(|(row, x)| {
                x.ok_or_else(|| AnalysisError::BadFile {
                    path: self.path.to_path_buf(),
                    message: format!("column '{name}' is null in row {row}"),
                })
            })
            .collect()
    }

    /// Whether the table has the column (for columns added after the first sweeps).
    fn has(&self, name: &str) -> bool {
        self.df.column(name).is_ok()
    }

    fn bools(&self, name: &str) -> Result<Vec<bool>> {
        let c = self.get(name)?;
        let ca = c.bool().map_err(|_| self.wrong(c, "bool"))?;
        Ok(ca.iter().map(|x| x.unwrap_or(false)).collect())
    }

    fn strs(&self, name: &str) -> Result<Vec<Option<String>>> {
        let c = self.get(name)?;
        if c.dtype() == &DataType::Null {
            return Ok(vec![None; c.len()]);
        }
        let ca = c.str().map_err(|_| self.wrong(c, "string"))?;
        Ok(ca.iter().map(|x| x.map(str::to_string)).collect())
    }
}

/// Reads the rows of a sweep table, checking every column's presence and type and that λ is
/// finite and positive in every row.
pub fn from_dataframe(df: &DataFrame, path: &Path) -> Result<Vec<ModelRow>> {
    let c = Columns { df, path };
    let index = c.required_u64s("index")?;
    let lambda = c.f64s_nan("lambda")?;
    if let Some(row) = lambda.iter().position(|l| !(l.is_finite() && *l >= 0.0)) {
        return Err(AnalysisError::BadFile {
            path: path.to_path_buf(),
            message: format!("column 'lambda' is {} in row {row}", lambda[row]),
        });
    }
    let range = c.strs("range")?;
    let seed = c.required_u64s("seed")?;
    let penalty = c.strs("penalty")?;
    let [v, h, vh, vv, hh, norm4, train_s, eval_s, sparsity, max_w] = [
        "nrmse_v",
        "nrmse_h",
        "nrmse_vh",
        "nrmse_vv",
        "nrmse_hh",
        "norm4",
        "train_s",
        "eval_s",
        "sparsity",
        "max_abs_weight",
    ]
    .map(|n| c.f64s_nan(n));
    let (bad, good, exploded) = (c.bools("bad")?, c.bools("good")?, c.bools("exploded")?);
    let exploded_epoch = c.f64s("exploded_epoch")?;
    let exploded_update = c.u64s("exploded_update")?;
    let updates = c.required_u64s("updates")?;
    let mean_jaccard = c.f64s("mean_jaccard")?;
    let model_path = c.strs("model_path")?;
    let couplings_path = c.strs("couplings_path")?;
    let n_groups = c.required_u64s("n_groups")?;
    let n = index.len();
    let recording = optional_column(c.has("recording"), n, 0, || c.required_u64s("recording"))?;
    let visible = optional_column(c.has("visible"), n, None, || c.strs("visible"))?;
    let exploded_phase = optional_column(c.has("exploded_phase"), n, None, || {
        c.strs("exploded_phase")
    })?;
    let exploded_sweep = optional_column(c.has("exploded_sweep"), n, None, || {
        c.u64s("exploded_sweep")
    })?;
    let [stability_margin, growth_rate, growth_bound] =
        ["stability_margin", "growth_rate", "growth_bound"]
            .map(|name| optional_column(c.has(name), n, f64::NAN, || c.f64s_nan(name)));
    let (stability_margin, growth_rate, growth_bound) =
        (stability_margin?, growth_rate?, growth_bound?);
    let coupling_correlation = optional_column(c.has("coupling_correlation"), n, None, || {
        c.f64s("coupling_correlation")
    })?;
    let (v, h, vh, vv, hh, norm4) = (v?, h?, vh?, vv?, hh?, norm4?);
    let (train_s, eval_s, sparsity, max_w) = (train_s?, eval_s?, sparsity?, max_w?);
    Ok((0..index.len())
        .map(|k| ModelRow {
            index: index[k],
            lambda: lambda[k],
            range: range[k].clone().unwrap_or_default(),
            seed: seed[k],
            recording: recording[k],
            penalty: penalty[k].clone().unwrap_or_default(),
            visible: visible[k].clone().unwrap_or_else(|| "bernoulli".into()),
            nrmse_v: v[k],
            nrmse_h: h[k],
            nrmse_vh: vh[k],
            nrmse_vv: vv[k],
            nrmse_hh: hh[k],
            norm4: norm4[k],
            bad: bad[k],
            good: good[k],
            exploded: exploded[k],
            exploded_epoch: exploded_epoch[k],
            exploded_update: exploded_update[k],
            exploded_phase: exploded_phase[k].clone(),
            exploded_sweep: exploded_sweep[k],
            stability_margin: stability_margin[k],
            growth_rate: growth_rate[k],
            growth_bound: growth_bound[k],
            updates: updates[k],
            train_s: train_s[k],
            eval_s: eval_s[k],
            sparsity: sparsity[k],
            max_abs_weight: max_w[k],
            mean_jaccard: mean_jaccard[k],
            coupling_correlation: coupling_correlation[k],
            model_path: model_path[k].clone().unwrap_or_default(),
            couplings_path: couplings_path[k].clone(),
            n_groups: n_groups[k],
        })
        .collect())
}

/// `read()` when the table has the column, else `n` copies of `missing` (tables written
/// before the column existed).
fn optional_column<T: Clone>(
    present: bool,
    n: usize,
    missing: T,
    read: impl FnOnce() -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    if present {
        read()
    } else {
        Ok(vec![missing; n])
    }
}

/// Reads a sweep table file.
pub fn read_rows(path: &Path) -> Result<Vec<ModelRow>> {
    let df = read_parquet(path)?;
    from_dataframe(&df, path)
}

/// Writes rows as a Parquet table, atomically.
pub fn write_rows(path: &Path, rows: &[ModelRow]) -> Result<()> {
    let mut df = to_dataframe(rows)?;
    Ok(write_parquet(path, &mut df)?)
}

/// Writes the part file of one finished model.
pub fn write_part(sweep_dir: &Path, row: &ModelRow) -> Result<PathBuf> {
    let p = sweep_dir
        .join(PARTS_DIR)
        .join(part_name(row.index as usize));
    write_rows(&p, std::slice::from_ref(row))?;
    Ok(p)
}

/// Models already finished in `sweep_dir` (part files that read back as one valid row with
/// their own index); unreadable parts (e.g. from a crash of an older writer) are returned
/// separately so the caller can redo them.
pub fn finished_models(sweep_dir: &Path) -> Result<(BTreeSet<usize>, Vec<PathBuf>)> {
    let dir = sweep_dir.join(PARTS_DIR);
    let (mut done, mut broken) = (BTreeSet::new(), Vec::new());
    if !dir.exists() {
        return Ok((done, broken));
    }
    for (k, p) in list_parts(&dir)? {
        match read_rows(&p) {
            Ok(rows) if rows.len() == 1 && rows[0].index as usize == k => {
                done.insert(k);
            }
            _ => broken.push(p),
        }
    }
    Ok((done, broken))
}

/// Reads every part of a sweep directory (sorted by model index).
pub fn read_parts(sweep_dir: &Path) -> Result<Vec<ModelRow>> {
    let dir = sweep_dir.join(PARTS_DIR);
    let mut rows = Vec::new();
    if !dir.exists() {
        return Ok(rows);
    }
    for (_, p) in list_parts(&dir)? {
        rows.extend(read_rows(&p)?);
    }
    rows.sort_by_key(|r| r.index);
    Ok(rows)
}

/// Merges the parts of `sweep_dir` into `sweep.parquet` after checking that models
/// `0..n_models` are each present once and nothing else is (the error names the first missing
/// part) and that every part holds the one model its name says.
pub fn merge(sweep_dir: &Path, n_models: usize) -> Result<Vec<ModelRow>> {
    let dir = sweep_dir.join(PARTS_DIR);
    let parts = if dir.exists() {
        list_parts(&dir)?
    } else {
        Vec::new()
    };
    let found: Vec<usize> = parts.iter().map(|(k, _)| *k).collect();
    check_coverage(&dir, "models", &found, n_models)?;
    let mut rows = Vec::with_capacity(parts.len());
    for (k, p) in &parts {
        let part = read_rows(p)?;
        let message = match part.as_slice() {
            [r] if r.index as usize == *k => None,
            [r] => Some(format!("holds model {}'s row, expected model {k}", r.index)),
            _ => Some(format!(
                "expected the one row of model {k}, found {} rows",
                part.len()
            )),
        };
        if let Some(message) = message {
            return Err(AnalysisError::BadFile {
                path: p.clone(),
                message,
            });
        }
        rows.extend(part);
    }
    write_rows(&sweep_dir.join(MERGED_FILE), &rows)?;
    Ok(rows)
}

/// The rows of a sweep: its merged table when present, else its part files.
pub fn read_sweep(sweep_dir: &Path) -> Result<Vec<ModelRow>> {
    let merged = sweep_dir.join(MERGED_FILE);
    if merged.is_file() {
        read_rows(&merged)
    } else if sweep_dir.is_file() {
        read_rows(sweep_dir)
    } else {
        let rows = read_parts(sweep_dir)?;
        if rows.is_empty() {
            return Err(AnalysisError::BadFile {
                path: sweep_dir.to_path_buf(),
                message: format!("no {MERGED_FILE} and no finished models under {PARTS_DIR}/"),
            });
        }
        Ok(rows)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(index: u64, lambda: f64, range: &str) -> ModelRow {
        ModelRow {
            index,
            lambda,
            range: range.into(),
            seed: index % 3,
            recording: 0,
            penalty: "l2l1".into(),
            visible: "gaussian".into(),
            nrmse_v: 0.1,
            nrmse_h: 0.2,
            nrmse_vh: 0.15,
            nrmse_vv: -0.05,
            nrmse_hh: 0.3,
            norm4: 0.4,
            bad: false,
            good: true,
            exploded: false,
            exploded_epoch: None,
            exploded_update: None,
            exploded_phase: None,
            exploded_sweep: None,
            stability_margin: 0.5,
            growth_rate: -0.25,
            growth_bound: 0.75,
            updates: 100,
            train_s: 1.5,
            eval_s: 0.5,
            sparsity: 0.8,
            max_abs_weight: 2.0,
            mean_jaccard: Some(0.9),
            coupling_correlation: Some(0.7),
            model_path: format!("models/m{index}"),
            couplings_path: Some(format!("models/m{index}.couplings.npy")),
            n_groups: 12,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sweep-table-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rows_round_trip_through_parquet_with_nulls() {
        let d = tmp("rt");
        let mut a = row(0, 0.01, "weak");
        a.exploded = true;
        a.bad = true;
        a.good = false;
        a.norm4 = f64::NAN;
        a.exploded_epoch = Some(3.5);
        a.exploded_update = Some(70);
        a.exploded_phase = Some("sampling".into());
        a.exploded_sweep = Some(650);
        a.stability_margin = -3.5;
        a.growth_rate = 1.25;
        a.couplings_path = None;
        a.mean_jaccard = None;
        let rows = vec![a, row(1, 2.0, "strong")];
        write_rows(&d.join("t.parquet"), &rows).unwrap();
        let back = read_rows(&d.join("t.parquet")).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back[0].norm4.is_nan());
        assert_eq!(back[0].exploded_update, Some(70));
        assert_eq!(back[0].exploded_phase.as_deref(), Some("sampling"));
        assert_eq!(
            (back[0].exploded_sweep, back[0].stability_margin),
            (Some(650), -3.5)
        );
        assert_eq!((back[0].growth_rate, back[0].growth_bound), (1.25, 0.75));
        assert_eq!(back[0].couplings_path, None);
        assert_eq!(back[1], rows[1]);
    }

    #[test]
    fn merge_reports_missing_models_and_resume_sees_finished_ones() {
        let d = tmp("merge");
        for k in [0u64, 2] {
            write_part(&d, &row(k, 0.1 * (k + 1) as f64, "weak")).unwrap();
        }
        std::fs::write(d.join(PARTS_DIR).join(part_name(3)), b"not parquet").unwrap();
        let (done, broken) = finished_models(&d).unwrap();
        assert_eq!(done.into_iter().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(broken.len(), 1);
        std::fs::remove_file(&broken[0]).unwrap();
        let e = merge(&d, 3).unwrap_err().to_string();
        assert!(e.contains("1 of 3 models missing (models 1)"), "{e}");
        assert!(e.contains("first missing file part-000001.parquet"), "{e}");
        write_part(&d, &row(1, 0.2, "weak")).unwrap();
        let rows = merge(&d, 3).unwrap();
        assert_eq!(rows.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(read_sweep(&d).unwrap(), rows);
        // A part of a model beyond the sweep (another config) and a part holding another
        // model's row are refused, naming the file.
        write_part(&d, &row(5, 0.3, "weak")).unwrap();
        let e = merge(&d, 3).unwrap_err().to_string();
        assert!(
            e.contains("part-000005.parquet is outside this job's 3 models"),
            "{e}"
        );
        std::fs::remove_file(d.join(PARTS_DIR).join(part_name(5))).unwrap();
        write_rows(
            &d.join(PARTS_DIR).join(part_name(2)),
            &[row(1, 0.2, "weak")],
        )
        .unwrap();
        let e = merge(&d, 3).unwrap_err().to_string();
        assert!(
            e.contains("part-000002.parquet: holds model 1's row, expected model 2"),
            "{e}"
        );
    }

    #[test]
    fn bad_tables_name_file_and_column() {
        let d = tmp("bad");
        let p = d.join("t.parquet");
        let mut df = to_dataframe(&[row(0, 0.1, "weak")]).unwrap();
        let mut dropped = df.drop("norm4").unwrap();
        write_parquet(&p, &mut dropped).unwrap();
        let e = read_rows(&p).unwrap_err().to_string();
        assert!(
            e.contains("t.parquet") && e.contains("missing column 'norm4'"),
            "{e}"
        );
        df.replace("lambda", Column::new("lambda".into(), [f64::NAN]))
            .unwrap();
        write_parquet(&p, &mut df).unwrap();
        let e = read_rows(&p).unwrap_err().to_string();
        assert!(e.contains("'lambda' is NaN in row 0"), "{e}");
        let e = read_sweep(&d.join("empty")).unwrap_err().to_string();
        assert!(e.contains("no sweep.parquet"), "{e}");
    }

    #[test]
    fn tables_of_older_sweeps_without_the_gaussian_columns_still_read() {
        let d = tmp("old");
        let p = d.join("t.parquet");
        let mut df = to_dataframe(&[row(0, 0.1, "weak")]).unwrap();
        for c in [
            "recording",
            "visible",
            "exploded_phase",
            "exploded_sweep",
            "stability_margin",
            "growth_rate",
            "growth_bound",
            "coupling_correlation",
        ] {
            df = df.drop(c).unwrap();
        }
        write_parquet(&p, &mut df).unwrap();
        let back = read_rows(&p).unwrap();
        assert_eq!(back[0].visible, "bernoulli");
        assert!(back[0].stability_margin.is_nan() && back[0].coupling_correlation.is_none());
        assert!(back[0].growth_rate.is_nan() && back[0].growth_bound.is_nan());
        assert_eq!(back[0].norm4, 0.4);
    }
}
