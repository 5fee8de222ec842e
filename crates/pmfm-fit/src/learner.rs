//! What the active loop of [`crate::active`] learns from each round: seed ensembles trained from
//! scratch on every simulated row, or a surrogate trained beforehand (a group-conditioned one
//! conditioned on the group being fitted, or a θ-only one) fine-tuned on them.
//!
//! A pretrained surrogate lets the loop start with nothing simulated: the first round searches
//! a box (`prior_radius` standard deviations of the surrogate's own training θ per coordinate)
//! around the training θ's mean, or ([`PriorCentre::Best`]) around the most promising of that
//! mean and the training groups' best θ (the surrogate's anchors, [`surrogate::anchors`]) as the
//! surrogate predicts them for the fitted group, and simulates the best of it; later rounds
//! fine-tune the
//! surrogate, always from its trained weights, on every row of the fitted group simulated so
//! far (or, with [`LaterRounds::Scratch`], train seed ensembles from scratch on them), and
//! measure the trust region in those standard deviations.

use burn::tensor::Device;
use optimize::OptimizeError;
use pmfm_sim::params::{Theta, N_THETA};
use serde::{Deserialize, Serialize};
use surrogate::ensemble::Ensemble;
use surrogate::samples::Samples;
use surrogate::train::TrainConfig;

use crate::active::ActiveConfig;

/// What the rounds after the prior round learn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LaterRounds {
    /// The pretrained surrogate, fine-tuned on the rows so far.
    #[default]
    FineTune,
    /// Seed ensembles trained from scratch (as [`Learner::Scratch`]); the pretrained surrogate
    /// only chooses the prior round's batch and the trust region's unit.
    Scratch,
}

impl LaterRounds {
    pub fn parse(s: &str) -> Result<Self, OptimizeError> {
        match s.trim() {
            "fine-tune" => Ok(LaterRounds::FineTune),
            "scratch" => Ok(LaterRounds::Scratch),
            other => Err(OptimizeError::config(
                "tune.then",
                format!("unknown choice '{other}' (fine-tune, scratch)"),
            )),
        }
    }
}

/// Where the prior round's box is centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PriorCentre {
    /// The lowest predicted total cost among the training θ's mean and the anchors (each
    /// training group's best θ); the mean alone when the surrogate has no anchors. When an
    /// anchor wins, the first batch simulates it. Not the default (README, issue 18: it helps
    /// only where the training groups' runs reached the fitted group's good basin).
    Best,
    /// The training θ's mean.
    #[default]
    Mean,
}

impl PriorCentre {
    pub fn parse(s: &str) -> Result<Self, OptimizeError> {
        match s.trim() {
            "best" => Ok(PriorCentre::Best),
            "mean" => Ok(PriorCentre::Mean),
            other => Err(OptimizeError::config(
                "tune.prior_centre",
                format!("unknown choice '{other}' (best, mean)"),
            )),
        }
    }
}

/// The prior round's box: centre (and what it is), half-widths, radius in training sd.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PriorBox {
    pub centre: Theta,
    /// `training mean` or the anchor's group.
    pub label: String,
    pub half: Theta,
    pub radius: f64,
    /// The centre is an anchor (a training group's best simulated θ), which the first batch
    /// simulates among its picks; the training mean is not.
    pub simulate_centre: bool,
}

/// Settings of a loop that starts from a pretrained surrogate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TuneConfig {
    /// Fine-tuning epochs per round. Default 30.
    pub epochs: usize,
    /// Fine-tuning learning rate; default a third of the surrogate's own.
    pub learning_rate: Option<f64>,
    /// Rows per fine-tuning mini-batch. Default 8.
    pub batch_size: usize,
    /// Half-width of the first round's box, in standard deviations of the surrogate's training
    /// θ around their mean (used while nothing valid has been simulated). Default 3.
    pub prior_radius: f64,
    /// What the rounds after the prior round learn from. Default fine-tune.
    pub then: LaterRounds,
    /// Where the prior round's box is centred. Default mean.
    pub prior_centre: PriorCentre,
}

impl Default for TuneConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            learning_rate: None,
            batch_size: 8,
            prior_radius: 3.0,
            then: LaterRounds::FineTune,
            prior_centre: PriorCentre::Mean,
        }
    }
}

impl TuneConfig {
    /// Checks the values once, before a run.
    pub fn check(&self) -> Result<(), OptimizeError> {
        let bad = |f: &str, r: String| Err(OptimizeError::config(format!("tune.{f}"), r));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1, got 0".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1, got 0".into());
        }
        if let Some(lr) = self.learning_rate.filter(|l| !(l.is_finite() && *l > 0.0)) {
            return bad(
                "learning_rate",
                format!("must be positive and finite, got {lr}"),
            );
        }
        if !(self.prior_radius.is_finite() && self.prior_radius > 0.0) {
            return bad(
                "prior_radius",
                format!("must be positive and finite, got {}", self.prior_radius),
            );
        }
        Ok(())
    }
}

/// A trained surrogate the loop fine-tunes, with what it derives from it once.
pub struct Pretrained<'a> {
    ensemble: &'a Ensemble,
    /// The fine-tuning settings (the surrogate's own, made into [`TrainConfig::for_fine_tuning`]).
    train: TrainConfig,
    prior_radius: f64,
    then: LaterRounds,
    prior_centre: PriorCentre,
    /// Mean and standard deviation of the surrogate's training θ, per coordinate.
    mean: Theta,
    std: Theta,
    fingerprint: String,
}

impl<'a> Pretrained<'a> {
    /// `ensemble` ready to predict for the fitted group (a grouped one conditioned on it).
    pub fn new(ensemble: &'a Ensemble, tune: &TuneConfig) -> Result<Self, OptimizeError> {
        tune.check()?;
        let bad = |r: String| OptimizeError::config("surrogate", r);
        if ensemble.needs_group() {
            return Err(bad(
                "the pretrained surrogate is group-conditioned but has no group to fit".into(),
            ));
        }
        let support = ensemble
            .input_support()
            .filter(|s| s.mean.len() == N_THETA && s.std.len() == N_THETA)
            .ok_or_else(|| bad("the pretrained surrogate has no θ normalisation".into()))?;
        let std: Theta = std::array::from_fn(|d| support.std[d]);
        if let Some(d) = flat_coordinate(&std) {
            return Err(bad(format!(
                "θ coordinate {d} ({}) did not vary in the surrogate's training rows; the trust \
                 region is measured in their standard deviations",
                pmfm_sim::params::THETA_NAMES[d]
            )));
        }
        let own = ensemble
            .train_config()
            .ok_or_else(|| bad("the pretrained surrogate has no members".into()))?;
        let fingerprint = ensemble.fingerprint().map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            ensemble,
            // Each round sets its own seed.
            train: TrainConfig {
                seed: 0,
                ..own.for_fine_tuning(tune.epochs, tune.learning_rate, tune.batch_size)
            },
            prior_radius: tune.prior_radius,
            then: tune.then,
            prior_centre: tune.prior_centre,
            mean: std::array::from_fn(|d| support.mean[d]),
            std,
            fingerprint,
        })
    }
}

/// What the loop learns from.
pub enum Learner<'a> {
    /// `ActiveConfig::ensemble` members of `ActiveConfig::model`, trained from scratch with
    /// `ActiveConfig::train` each round.
    Scratch,
    /// A trained surrogate fine-tuned each round.
    Pretrained(Pretrained<'a>),
}

/// The first coordinate whose standard deviation is not positive and finite (the trust region
/// cannot be measured in it).
pub(crate) fn flat_coordinate(std: &Theta) -> Option<usize> {
    (0..N_THETA).find(|&d| !(std[d].is_finite() && std[d] > 0.0))
}

/// Whether `data` holds a valid row.
pub(crate) fn any_valid(data: &Samples) -> bool {
    data.valid.iter().any(|v| *v)
}

impl Learner<'_> {
    /// The ensemble of round `round` (the final ranking uses round = rounds run) on `data`.
    pub(crate) fn learn(
        &self,
        data: &Samples,
        cfg: &ActiveConfig,
        seed: u64,
        round: usize,
        device: &Device,
    ) -> Result<Ensemble, OptimizeError> {
        let base = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(1000 * round as u64);
        let failed = |e: surrogate::SurrogateError| OptimizeError::Objective {
            objective: "surrogate training".into(),
            message: e.to_string(),
        };
        match self {
            Learner::Pretrained(p) if p.then == LaterRounds::Scratch && any_valid(data) => {
                Learner::Scratch.learn(data, cfg, seed, round, device)
            }
            Learner::Scratch => {
                let seeds: Vec<u64> = (0..cfg.ensemble as u64)
                    .map(|m| base.wrapping_add(m))
                    .collect();
                Ensemble::fit(
                    data,
                    None,
                    &cfg.model,
                    &cfg.train,
                    &seeds,
                    device,
                    &mut |_, _| {},
                )
                .map(|(e, _)| e)
                .map_err(failed)
            }
            Learner::Pretrained(p) if !any_valid(data) => Ok(p.ensemble.clone()),
            Learner::Pretrained(p) => {
                let train = TrainConfig {
                    seed: base,
                    ..p.train.clone()
                };
                p.ensemble.fine_tune_on_active(data, &train).map_err(failed)
            }
        }
    }

    /// The trust region's unit per coordinate: the standard deviation of the starting table's
    /// valid θ (`table_scale`), or of the pretrained surrogate's training θ when the loop
    /// starts from a pretrained surrogate and an empty table.
    pub(crate) fn scale(
        &self,
        initial: &Samples,
        table_scale: impl FnOnce(&Samples) -> Result<Theta, OptimizeError>,
    ) -> Result<Theta, OptimizeError> {
        match self {
            Learner::Pretrained(p) if initial.is_empty() => Ok(p.std),
            _ => table_scale(initial),
        }
    }

    /// The first region while nothing valid has been simulated (`None` when learning from
    /// scratch): `prior_radius` training standard deviations around the centre
    /// [`PriorCentre`] picks, the candidates scored by the pretrained surrogate (conditioned on
    /// the fitted group); ties keep the mean, then name order.
    pub(crate) fn prior_region(&self) -> Result<Option<PriorBox>, OptimizeError> {
        let Learner::Pretrained(p) = self else {
            return Ok(None);
        };
        let mut candidates: Vec<(String, Theta)> = vec![("training mean".into(), p.mean)];
        if p.prior_centre == PriorCentre::Best {
            candidates.extend(
                p.ensemble
                    .anchors()
                    .iter()
                    .map(|a| (format!("best θ of {}", a.group), a.theta)),
            );
        }
        let thetas: Vec<Theta> = candidates.iter().map(|c| c.1).collect();
        let pred = p
            .ensemble
            .predict(&thetas)
            .map_err(|e| OptimizeError::Objective {
                objective: "surrogate".into(),
                message: e.to_string(),
            })?;
        let score = |k: usize| {
            let t = pred.total[k];
            if pred.p_valid[k] >= 0.5 && t.is_finite() {
                t
            } else {
                f64::INFINITY
            }
        };
        let best = (0..candidates.len())
            .min_by(|&a, &b| score(a).total_cmp(&score(b)).then(a.cmp(&b)))
            .unwrap_or(0);
        let (label, centre) = candidates.swap_remove(best);
        Ok(Some(PriorBox {
            centre,
            label,
            half: std::array::from_fn(|d| p.prior_radius * p.std[d]),
            radius: p.prior_radius,
            simulate_centre: best > 0,
        }))
    }

    /// What a resumable run binds besides its settings: nothing when learning from scratch (so
    /// the manifests of earlier runs stay valid), else the fine-tuning settings and the
    /// surrogate's fingerprint.
    pub(crate) fn identity(&self) -> Option<serde_json::Value> {
        match self {
            Learner::Scratch => None,
            Learner::Pretrained(p) => Some(serde_json::json!({
                "fine_tuning": p.train,
                "prior_radius": p.prior_radius,
                "prior_centre": p.prior_centre,
                "then": p.then,
                "surrogate_fingerprint": p.fingerprint,
            })),
        }
    }

    /// A short name for run tables: the family trained or fine-tuned.
    pub(crate) fn describe(&self, cfg: &ActiveConfig) -> String {
        match self {
            Learner::Scratch => format!("{}-ensemble{}", cfg.model.kind.name(), cfg.ensemble),
            Learner::Pretrained(p) => {
                let family = p.ensemble.kind().map_or("surrogate", |k| k.name());
                match p.then {
                    LaterRounds::FineTune => format!("tuned-{family}{}", p.ensemble.len()),
                    LaterRounds::Scratch => format!(
                        "{family}-prior+{}-ensemble{}",
                        cfg.model.kind.name(),
                        cfg.ensemble
                    ),
                }
            }
        }
    }
}
