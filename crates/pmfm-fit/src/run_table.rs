//! The tidy run table: one row per evaluated point of an optimisation run (polars → Parquet).
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `run_id` | str | identifies the run |
//! | `method` | str | e.g. `euler-cmaes`, `surrogate-cmaes`, `surrogate-gd`, `random` |
//! | `objective` | str | the objective's name |
//! | `phase` | str | `search` (the solver's own evaluations) or `validation` (re-simulation) |
//! | `restart`, `generation` | u32 | position in the run (generation 1-based) |
//! | `w0` … `s_grad` | f64 | θ |
//! | `cost` | f64 | the objective's cost (predicted for surrogates) |
//! | `valid` | bool | the objective's verdict |
//! | `fc`, `ks`, `spread` | f64 | cost parts (NaN when the objective has none) |
//! | `true_fc`, `true_ks`, `true_total` | f64 | Euler-simulated costs (NaN when not simulated) |
//! | `elapsed_s` | f64 | wall time since the run started |
//! | `simulations` | u64 | Euler simulations spent by the run up to and including this row |

use std::path::{Path, PathBuf};

use optimize::objective::{BatchContext, Evaluation, GenerationReport, Observer};
use optimize::OptimizeError;
use pmfm_sim::params::THETA_NAMES;
use polars::prelude::*;

/// One row of the run table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub phase: String,
    pub restart: u32,
    pub generation: u32,
    pub theta: Vec<f64>,
    pub cost: f64,
    pub valid: bool,
    pub fc: f64,
    pub ks: f64,
    pub spread: f64,
    pub true_fc: f64,
    pub true_ks: f64,
    pub true_total: f64,
    pub elapsed_s: f64,
    pub simulations: u64,
}

#[cfg(test)]
impl RunRow {
    /// A made-up row for tests: θ = [cost; 10], no cost components, validated total `true_total`.
    pub(crate) fn test(
        phase: &str,
        generation: u32,
        cost: f64,
        valid: bool,
        true_total: f64,
        (elapsed_s, simulations): (f64, u64),
    ) -> RunRow {
        RunRow {
            phase: phase.into(),
            restart: 0,
            generation,
            theta: vec![cost; 10],
            cost,
            valid,
            fc: f64::NAN,
            ks: f64::NAN,
            spread: f64::NAN,
            true_fc: f64::NAN,
            true_ks: f64::NAN,
            true_total,
            elapsed_s,
            simulations,
        }
    }
}

/// Collects the rows of one run and writes them (atomically) every `flush_every` generations and
/// on [`RunTable::finish`].
#[derive(Debug, Clone)]
pub struct RunTable {
    pub run_id: String,
    pub method: String,
    pub objective: String,
    pub rows: Vec<RunRow>,
    path: Option<PathBuf>,
    flush_every: usize,
    simulations: u64,
    /// Wall time before this process (a resumed run continues the clock).
    pub time_offset_s: f64,
}

impl RunTable {
    pub fn new(run_id: &str, method: &str, objective: &str) -> Self {
        Self {
            run_id: run_id.into(),
            method: method.into(),
            objective: objective.into(),
            rows: Vec::new(),
            path: None,
            flush_every: 10,
            simulations: 0,
            time_offset_s: 0.0,
        }
    }

    /// Write to `path` every `every` generations (and at the end).
    pub fn writing_to(mut self, path: &Path, every: usize) -> Self {
        self.path = Some(path.to_path_buf());
        self.flush_every = every.max(1);
        self
    }

    /// Euler simulations counted so far.
    pub fn simulations(&self) -> u64 {
        self.simulations
    }

    /// Appends one row; `simulations` (the Euler simulations it cost) is added to the run's count,
    /// which the row then carries.
    pub fn push(&mut self, mut row: RunRow, simulations: u64) {
        self.simulations += simulations;
        row.simulations = self.simulations;
        self.rows.push(row);
    }

    /// Appends validation rows: θ re-simulated with the real simulator (`evals` from an Euler
    /// objective), next to the `predicted` search costs.
    pub fn add_validation(
        &mut self,
        generation: u32,
        elapsed_s: f64,
        xs: &[Vec<f64>],
        predicted: &[f64],
        evals: &[Evaluation],
    ) {
        for ((x, &p), e) in xs.iter().zip(predicted).zip(evals) {
            self.simulations += e.simulations as u64;
            self.rows.push(RunRow {
                phase: "validation".into(),
                restart: 0,
                generation,
                theta: x.clone(),
                cost: p,
                valid: e.valid,
                fc: f64::NAN,
                ks: f64::NAN,
                spread: f64::NAN,
                true_fc: e.part("fc").unwrap_or(f64::NAN),
                true_ks: e.part("ks").unwrap_or(f64::NAN),
                true_total: e.cost,
                elapsed_s,
                simulations: self.simulations,
            });
        }
    }

    /// The polars table of the rows.
    pub fn to_dataframe(&self) -> Result<DataFrame, OptimizeError> {
        let n = self.rows.len();
        let r = &self.rows;
        let s = |v: &str| vec![v.to_string(); n];
        let mut cols = vec![
            Column::new("run_id".into(), s(&self.run_id)),
            Column::new("method".into(), s(&self.method)),
            Column::new("objective".into(), s(&self.objective)),
            Column::new(
                "phase".into(),
                r.iter().map(|x| x.phase.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "restart".into(),
                r.iter().map(|x| x.restart).collect::<Vec<_>>(),
            ),
            Column::new(
                "generation".into(),
                r.iter().map(|x| x.generation).collect::<Vec<_>>(),
            ),
        ];
        for (d, name) in THETA_NAMES.iter().enumerate() {
            cols.push(Column::new(
                (*name).into(),
                r.iter()
                    .map(|x| x.theta.get(d).copied().unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            ));
        }
        let f = |name: &str, g: fn(&RunRow) -> f64| {
            Column::new(name.into(), r.iter().map(g).collect::<Vec<_>>())
        };
        cols.extend([
            f("cost", |x| x.cost),
            Column::new(
                "valid".into(),
                r.iter().map(|x| x.valid).collect::<Vec<_>>(),
            ),
            f("fc", |x| x.fc),
            f("ks", |x| x.ks),
            f("spread", |x| x.spread),
            f("true_fc", |x| x.true_fc),
            f("true_ks", |x| x.true_ks),
            f("true_total", |x| x.true_total),
            f("elapsed_s", |x| x.elapsed_s),
            Column::new(
                "simulations".into(),
                r.iter().map(|x| x.simulations).collect::<Vec<_>>(),
            ),
        ]);
        DataFrame::new(n, cols)
            .map_err(|e| OptimizeError::Observer(format!("building the run table: {e}")))
    }

    /// Writes the table now (atomically), if a path was given.
    pub fn flush(&self) -> Result<(), OptimizeError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut df = self.to_dataframe()?;
        Ok(jobs::table::write_parquet(path, &mut df)?)
    }

    pub fn finish(&self) -> Result<(), OptimizeError> {
        self.flush()
    }
}

impl Observer for RunTable {
    fn on_evaluations(
        &mut self,
        ctx: &BatchContext,
        xs: &[Vec<f64>],
        evals: &[Evaluation],
    ) -> Result<(), OptimizeError> {
        for (x, e) in xs.iter().zip(evals) {
            self.simulations += e.simulations as u64;
            let part = |n: &str| e.part(n).unwrap_or(f64::NAN);
            // An Euler objective's costs are true costs.
            let simulated = e.simulations > 0;
            self.rows.push(RunRow {
                phase: "search".into(),
                restart: ctx.restart as u32,
                generation: ctx.generation as u32,
                theta: x.clone(),
                cost: e.cost,
                valid: e.valid,
                fc: part("fc"),
                ks: part("ks"),
                spread: part("spread"),
                true_fc: if simulated { part("fc") } else { f64::NAN },
                true_ks: if simulated { part("ks") } else { f64::NAN },
                true_total: if simulated { e.cost } else { f64::NAN },
                elapsed_s: self.time_offset_s + ctx.elapsed_s,
                simulations: self.simulations,
            });
        }
        Ok(())
    }

    fn on_generation(&mut self, report: &GenerationReport) -> Result<(), OptimizeError> {
        if report.generation % self.flush_every == 0 {
            self.flush()?;
        }
        Ok(())
    }
}

/// Reads run tables (Parquet) and stacks them.
pub fn read_run_tables(paths: &[PathBuf]) -> Result<DataFrame, OptimizeError> {
    let mut out: Option<DataFrame> = None;
    for p in paths {
        let df = jobs::table::read_parquet(p)?;
        for c in [
            "run_id",
            "method",
            "phase",
            "cost",
            "true_total",
            "elapsed_s",
            "simulations",
        ] {
            if df.column(c).is_err() {
                return Err(OptimizeError::Observer(format!(
                    "{}: missing column '{c}' (not a run table)",
                    p.display()
                )));
            }
        }
        out = Some(match out {
            None => df,
            Some(acc) => acc
                .vstack(&df)
                .map_err(|e| OptimizeError::Observer(format!("{}: {e}", p.display())))?,
        });
    }
    out.ok_or_else(|| OptimizeError::Observer("no run tables given".into()))
}
