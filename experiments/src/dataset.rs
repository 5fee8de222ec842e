//! Choosing the empirical data: a directory in the reference layout, or the synthetic default.

use anyhow::{Context, Result};
use burn::tensor::Device;
use pmfm_sim::data::EmpiricalData;
use pmfm_sim::simulator::SimConfig;
use pmfm_sim::synthetic::{synthetic_dataset, SyntheticConfig};
use std::path::PathBuf;

/// Data options shared by the pMFM binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Directory in the reference layout (sc_{split}.csv, fc_{split}.csv, fcd_{split}.mat,
    /// myelin.csv, rsfc_gradient.csv). Without it, the built-in synthetic default is used.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split to load from --data: train, vali or test.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Seed of the synthetic default's connectome and maps.
    #[arg(long, default_value_t = 2021)]
    pub synthetic_seed: u64,
}

impl DataArgs {
    /// Loads the data directory, or builds the synthetic default on `device`, its "empirical"
    /// FC/FCD simulated with the same schedule `sim` and FCD window as the run that uses it.
    pub fn load(
        &self,
        device: &Device,
        sim: &SimConfig,
        fcd_window: usize,
    ) -> Result<EmpiricalData> {
        match &self.data {
            Some(dir) => Ok(EmpiricalData::load_dir(dir, &self.split)?),
            None => {
                eprintln!(
                    "no --data given: building the synthetic default (seed {})",
                    self.synthetic_seed
                );
                let cfg = SyntheticConfig {
                    seed: self.synthetic_seed,
                    sim: *sim,
                    fcd_window,
                    ..SyntheticConfig::default()
                };
                synthetic_dataset(&cfg, device).context("building the synthetic default")
            }
        }
    }
}

/// Several subject groups for one dataset or predictor (`--groups`).
#[derive(Debug, Clone, clap::Args)]
pub struct GroupArgs {
    /// Subject groups, comma-separated: `DIR:SPLIT` (a directory in the reference layout, e.g.
    /// `../shared/data/kong2021:train`), `synthetic:K` or `synthetic:A-B` (groups of the
    /// synthetic family, see --family-seed and the variability knobs).
    #[arg(long)]
    pub groups: Option<String>,
    /// Seed of the synthetic family's group variations.
    #[arg(long, default_value_t = 11)]
    pub family_seed: u64,
    /// Synthetic family: sd of the log-normal factor on each SC entry.
    #[arg(long, default_value_t = 0.3)]
    pub sc_variability: f64,
    /// Synthetic family: map noise sd, in units of each map's sd.
    #[arg(long, default_value_t = 0.1)]
    pub map_variability: f64,
    /// Synthetic family: relative sd of each coefficient of a group's hidden θ*.
    #[arg(long, default_value_t = 0.05)]
    pub theta_variability: f64,
    /// Synthetic family on a measured layout: `DIR:SPLIT` (a directory in the reference layout)
    /// whose connectome and maps the family varies instead of the generated ones. Groups are
    /// named `family-DIRNAME-SPLIT-fF/gK`.
    #[arg(long)]
    pub family_layout: Option<String>,
    /// Synthetic family: the base hidden θ* that groups vary, 10 comma-separated coefficients
    /// (w0, w_myelin, w_grad, i0, i_myelin, i_grad, G, s0, s_myelin, s_grad). Default: the
    /// synthetic default's θ* (the kong2021 example's first candidate).
    #[arg(long)]
    pub family_theta: Option<String>,
}

/// One item of `--groups`.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupSource {
    /// Split `split` of a directory in the reference layout.
    Dir { dir: PathBuf, split: String },
    /// Group `k` of the synthetic family.
    Synthetic(usize),
}

/// Parses `--groups`; errors name the item.
pub fn parse_groups(spec: &str) -> Result<Vec<GroupSource>> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((head, tail)) = item.rsplit_once(':') else {
            anyhow::bail!(
                "--groups: '{item}' is neither DIR:SPLIT nor synthetic:K or synthetic:A-B"
            );
        };
        if head == "synthetic" {
            let (a, b) = match tail.split_once('-') {
                Some((a, b)) => (a, b),
                None => (tail, tail),
            };
            let parse = |v: &str| {
                v.trim()
                    .parse::<usize>()
                    .with_context(|| format!("--groups: '{item}': '{v}' is not a group number"))
            };
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                anyhow::bail!("--groups: '{item}': empty range");
            }
            out.extend((a..=b).map(GroupSource::Synthetic));
        } else {
            let Some((dir, split)) = dir_split(item) else {
                anyhow::bail!("--groups: '{item}' needs DIR:SPLIT");
            };
            out.push(GroupSource::Dir {
                dir: PathBuf::from(dir),
                split: split.to_string(),
            });
        }
    }
    if out.is_empty() {
        anyhow::bail!("--groups names no group");
    }
    Ok(out)
}

/// `DIR:SPLIT` split at its last `:`, both parts non-empty.
fn dir_split(spec: &str) -> Option<(&str, &str)> {
    spec.rsplit_once(':')
        .filter(|(dir, split)| !dir.is_empty() && !split.is_empty())
}

/// Parses 10 comma-separated finite coefficients into a θ.
fn parse_theta(spec: &str) -> Result<pmfm_sim::params::Theta> {
    let v = spec
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .with_context(|| format!("'{}' is not a finite number", x.trim()))
        })
        .collect::<Result<Vec<f64>>>()?;
    let n = pmfm_sim::params::N_THETA;
    v.try_into()
        .map_err(|v: Vec<f64>| anyhow::anyhow!("needs {n} coefficients, got {}", v.len()))
}

impl GroupArgs {
    /// The synthetic family these options describe, simulated with schedule `sim` and window
    /// `fcd_window` (loads `--family-layout` when given).
    pub fn family(
        &self,
        sim: &SimConfig,
        fcd_window: usize,
    ) -> Result<pmfm_sim::synthetic::SyntheticFamily> {
        let layout = match &self.family_layout {
            None => None,
            Some(spec) => {
                let Some((dir, split)) = dir_split(spec) else {
                    anyhow::bail!("--family-layout: '{spec}' is not DIR:SPLIT");
                };
                let data = EmpiricalData::load_dir(std::path::Path::new(dir), split)
                    .with_context(|| format!("--family-layout: loading '{spec}'"))?;
                Some(pmfm_sim::synthetic::FamilyLayout::of(&data))
            }
        };
        let mut base = SyntheticConfig {
            sim: *sim,
            fcd_window,
            ..SyntheticConfig::default()
        };
        if let Some(spec) = &self.family_theta {
            base.theta = parse_theta(spec).context("--family-theta")?;
        }
        Ok(pmfm_sim::synthetic::SyntheticFamily {
            base,
            family_seed: self.family_seed,
            sc_variability: self.sc_variability,
            map_variability: self.map_variability,
            theta_variability: self.theta_variability,
            layout,
        })
    }

    /// Loads (or, for synthetic groups, simulates) every group of `--groups` and checks that
    /// they share a parcellation. `None` when `--groups` is not given.
    pub fn load(
        &self,
        device: &Device,
        sim: &SimConfig,
        fcd_window: usize,
    ) -> Result<Option<Vec<EmpiricalData>>> {
        let Some(spec) = &self.groups else {
            return Ok(None);
        };
        let family = self.family(sim, fcd_window)?;
        let mut groups = Vec::new();
        for src in parse_groups(spec)? {
            let g = match src {
                // A group stored by a dataset (`groups/<name>/`, split `group`) keeps its name.
                GroupSource::Dir { dir, split }
                    if split == surrogate::groups::GROUP_SPLIT
                        && dir.join(surrogate::groups::NAME_FILE).is_file() =>
                {
                    surrogate::groups::read_group(&dir)?
                }
                GroupSource::Dir { dir, split } => EmpiricalData::load_dir(&dir, &split)?,
                GroupSource::Synthetic(k) => {
                    eprintln!("simulating synthetic group {k}");
                    family
                        .group(k, device)
                        .with_context(|| format!("building synthetic group {k}"))?
                }
            };
            groups.push(g);
        }
        surrogate::groups::check_groups(&groups)?;
        Ok(Some(groups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_specs_parse_and_bad_ones_name_the_item() {
        let g = parse_groups("../shared/data/kong2021:train, synthetic:2-4,synthetic:7").unwrap();
        assert_eq!(
            g,
            vec![
                GroupSource::Dir {
                    dir: PathBuf::from("../shared/data/kong2021"),
                    split: "train".into()
                },
                GroupSource::Synthetic(2),
                GroupSource::Synthetic(3),
                GroupSource::Synthetic(4),
                GroupSource::Synthetic(7),
            ]
        );
        for bad in ["synthetic:x", "synthetic:4-2", "nodir", ":train", ""] {
            let e = parse_groups(bad).unwrap_err().to_string();
            assert!(e.starts_with("--groups"), "{bad}: {e}");
        }
    }

    #[test]
    fn family_theta_and_layout_options_are_checked() {
        let t = parse_theta("0.6,-0.2,0.01,0.3,0,0,4,0.006,-0.001,0").unwrap();
        assert_eq!((t[0], t[6], t[9]), (0.6, 4.0, 0.0));
        for bad in [
            "0.6,1",
            "0.6,-0.2,0.01,0.3,0,0,4,0.006,-0.001,x",
            "1,2,3,4,5,6,7,8,9,NaN",
        ] {
            assert!(parse_theta(bad).is_err(), "{bad}");
        }
        let args = |layout: &str| GroupArgs {
            groups: None,
            family_seed: 11,
            sc_variability: 0.3,
            map_variability: 0.1,
            theta_variability: 0.05,
            family_layout: Some(layout.into()),
            family_theta: None,
        };
        let sim = SimConfig::default();
        for bad in ["nodir", ":train", "/nonexistent-dir:train"] {
            let e = format!("{:#}", args(bad).family(&sim, 83).unwrap_err());
            assert!(e.starts_with("--family-layout"), "{bad}: {e}");
        }
    }
}
