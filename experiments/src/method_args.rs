//! Options of the pMFM fitting methods shared by `fit` and `compare-optimizers`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use pmfm_fit::learner::{LaterRounds, PriorCentre, TuneConfig};
use pmfm_fit::methods::MethodConfig;
use pmfm_fit::support::DataSupport;
use surrogate::ensemble::Ensemble;
use surrogate::samples::Samples;

/// CMA-ES, validation and baseline settings (see [`MethodConfig`]).
#[derive(Debug, Clone, clap::Args)]
pub struct MethodArgs {
    /// CMA-ES population λ.
    #[arg(long, default_value_t = 32)]
    pub population: usize,
    /// CMA-ES parents μ.
    #[arg(long, default_value_t = 8)]
    pub parents: usize,
    /// CMA-ES initial step size σ₀.
    #[arg(long, default_value_t = 0.15)]
    pub sigma0: f64,
    #[arg(long, default_value_t = 30)]
    pub generations: usize,
    /// Population and generations of CMA-ES on a surrogate (default: --population and
    /// --generations); surrogate evaluations are cheap enough for the reference's 500.
    #[arg(long)]
    pub surrogate_population: Option<usize>,
    #[arg(long)]
    pub surrogate_generations: Option<usize>,
    /// Noise duplicates per θ during a simulator-driven search.
    #[arg(long, default_value_t = 1)]
    pub n_dup: usize,
    /// Candidates re-simulated at the end, and their duplicates.
    #[arg(long, default_value_t = 8)]
    pub validate_top: usize,
    #[arg(long, default_value_t = 3)]
    pub n_dup_validate: usize,
    /// surrogate-cmaes and surrogate-gd: of the --validate-top candidates, this many are the
    /// surrogate's anchors (its training groups' best simulated θ) that it scores lowest for
    /// --data; the search's best fill the rest.
    #[arg(long, default_value_t = 0)]
    pub anchor_candidates: usize,
    /// Starts of the surrogate gradient descent.
    #[arg(long, default_value_t = 32)]
    pub gd_starts: usize,
    /// Adam steps of each start of the surrogate gradient descent.
    #[arg(long, default_value_t = 300)]
    pub gd_steps: usize,
    /// Random-search budget (Euler simulations).
    #[arg(long, default_value_t = 512)]
    pub random_budget: usize,
    /// Weight k of the ensemble spread in the surrogate cost mean + k·spread.
    #[arg(long, default_value_t = 0.0)]
    pub spread_weight: f64,
    /// Support guard of surrogate CMA-ES: θ more than Z training standard deviations from the
    /// training mean (any coordinate) count as invalid, and the search starts at that mean.
    #[arg(long)]
    pub support_z: Option<f64>,
    /// Data-support guard of the searches on a surrogate. CMA-ES: θ not within R training
    /// standard deviations, in every coordinate, of some training row of the surrogate count as
    /// invalid, and the search starts at the anchor the surrogate scores lowest, with steps of R
    /// training standard deviations per coordinate. Gradient descent: starts at the anchors and
    /// points within R of them, every step projected back within R of the nearest training row.
    /// Needs --support-table.
    #[arg(long)]
    pub support_radius: Option<f64>,
    /// The surrogate's training tables, for --support-radius (Parquet files or pmfm-dataset
    /// directories, repeatable; only rows of the surrogate's training groups are used).
    #[arg(long = "support-table")]
    pub support_tables: Vec<PathBuf>,
    /// Starting parameter→cost table of surrogate-active: Parquet files or pmfm-dataset
    /// directories (repeatable).
    #[arg(long = "table")]
    pub tables: Vec<PathBuf>,
    /// surrogate-active: rounds, θ simulated per round, duplicates per θ, ensemble members
    /// trained per round and their epochs.
    #[arg(long, default_value_t = 10)]
    pub active_rounds: usize,
    #[arg(long, default_value_t = 32)]
    pub active_batch: usize,
    #[arg(long, default_value_t = 1)]
    pub active_n_dup: usize,
    #[arg(long, default_value_t = 3)]
    pub active_ensemble: usize,
    #[arg(long, default_value_t = 200)]
    pub active_epochs: usize,
    /// surrogate-active: initial trust-region half-width, in standard deviations of the
    /// starting table's θ.
    #[arg(long, default_value_t = 1.0)]
    pub active_radius: f64,
    /// surrogate-active: k in the search cost mean − k·spread.
    #[arg(long, default_value_t = 1.0)]
    pub active_explore: f64,
    /// surrogate-active: weight w of a simulated θ's observed cost in the score
    /// w·observed + (1 − w)·predicted that picks the centre and the final candidates.
    #[arg(long, default_value_t = 0.5)]
    pub active_observed_weight: f64,
    /// surrogate-tuned (the active loop from --surrogate, fine-tuned each round on the group's
    /// simulations so far; the --active-* settings apply): fine-tuning epochs per round,
    /// learning rate (default a third of the surrogate's), rows per mini-batch.
    #[arg(long, default_value_t = 30)]
    pub tune_epochs: usize,
    #[arg(long)]
    pub tune_lr: Option<f64>,
    #[arg(long, default_value_t = 8)]
    pub tune_batch: usize,
    /// surrogate-tuned: half-width of the first round's box (nothing simulated yet) in standard
    /// deviations of the surrogate's training θ.
    #[arg(long, default_value_t = 3.0)]
    pub tune_prior_radius: f64,
    /// surrogate-tuned: the first box's centre: `mean` (the training θ's mean) or `best` (of
    /// that mean and each training group's best θ, the lowest total cost the surrogate predicts
    /// for --data; when an anchor wins, the first batch simulates it).
    #[arg(long, default_value = "mean")]
    pub tune_prior_centre: String,
    /// surrogate-tuned: what the rounds after the prior round learn from: `fine-tune` the
    /// surrogate, or `scratch` (the --active-ensemble MLP ensembles of surrogate-active; the
    /// surrogate then only picks the first batch and sets the trust region's unit).
    #[arg(long, default_value = "fine-tune")]
    pub tune_then: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl MethodArgs {
    /// The method settings, checked once (`MethodConfig::check`): a zero count, λ < 2, μ > λ, a
    /// non-positive σ₀ or radius is an error naming the setting, before anything is simulated.
    pub fn config(&self) -> Result<MethodConfig> {
        let mut cfg = MethodConfig {
            population: self.population,
            parents: self.parents,
            sigma0: self.sigma0,
            generations: self.generations,
            surrogate_population: self.surrogate_population,
            surrogate_generations: self.surrogate_generations,
            n_dup: self.n_dup,
            validate_top: self.validate_top,
            n_dup_validate: self.n_dup_validate,
            anchor_candidates: self.anchor_candidates,
            gd_starts: self.gd_starts,
            random_budget: self.random_budget,
            seed: self.seed,
            ..MethodConfig::default()
        };
        cfg.gradient.steps = self.gd_steps;
        cfg.surrogate_cost.spread_weight = self.spread_weight;
        cfg.surrogate_cost.max_z = self.support_z;
        cfg.surrogate_cost.support_radius = self.support_radius;
        let a = &mut cfg.active;
        a.rounds = self.active_rounds;
        a.batch = self.active_batch;
        a.n_dup = self.active_n_dup;
        a.ensemble = self.active_ensemble;
        a.train.epochs = self.active_epochs;
        a.radius0 = self.active_radius;
        a.radius_max = a.radius_max.max(self.active_radius);
        a.radius_min = a.radius_min.min(self.active_radius);
        a.explore_weight = self.active_explore;
        a.observed_weight = self.active_observed_weight;
        cfg.tune = TuneConfig {
            epochs: self.tune_epochs,
            learning_rate: self.tune_lr,
            batch_size: self.tune_batch,
            prior_radius: self.tune_prior_radius,
            then: LaterRounds::parse(&self.tune_then)?,
            prior_centre: PriorCentre::parse(&self.tune_prior_centre)?,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// The data support of `model` for `--support-radius`: the valid rows of `--support-table`
    /// that belong to the surrogate's training groups (those it keeps an anchor for). None
    /// without a radius; one flag without the other, or no row left, is an error.
    pub fn support(&self, model: Option<&Ensemble>) -> Result<Option<DataSupport>> {
        match (self.support_radius, self.support_tables.is_empty()) {
            (None, true) => return Ok(None),
            (None, false) => bail!("--support-table is only read with --support-radius"),
            (Some(_), true) => {
                bail!("--support-radius needs --support-table (the surrogate's training tables)")
            }
            (Some(_), false) => {}
        }
        let Some(model) = model else {
            bail!("--support-radius applies to a search on a surrogate: give --surrogate DIR");
        };
        let groups: Vec<String> = model.anchors().iter().map(|a| a.group.clone()).collect();
        if groups.is_empty() {
            bail!("--support-radius: the surrogate records no training groups (trained before anchors were kept); retrain it");
        }
        let Some(standardiser) = model.input_support() else {
            bail!("--support-radius: the surrogate has no members");
        };
        let samples = surrogate::table::read_many(&self.support_tables)
            .with_context(|| "reading the support tables (--support-table)".to_string())?;
        let support = DataSupport::of_groups(&samples, &groups, &standardiser)
            .map_err(|e| anyhow::anyhow!("--support-table: {e}"))?;
        let q = support.spacing_quantiles(&[0.1, 0.5, 0.9], 2_000);
        println!(
            "data support: {} training rows of {} groups; nearest-row spacing 10/50/90%: {:.3} / {:.3} / {:.3} (radius {})",
            support.len(),
            groups.len(),
            q[0],
            q[1],
            q[2],
            self.support_radius.unwrap_or(f64::NAN)
        );
        Ok(Some(support))
    }

    /// The starting table (`--table`), if any was given.
    pub fn table(&self) -> Result<Option<Samples>> {
        if self.tables.is_empty() {
            return Ok(None);
        }
        let s = surrogate::table::read_many(&self.tables)
            .with_context(|| "reading the starting table (--table)".to_string())?;
        if s.is_empty() {
            anyhow::bail!("the starting table (--table) holds no rows");
        }
        Ok(Some(s))
    }
}
