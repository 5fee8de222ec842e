//! Subject groups: what a group-conditioned surrogate sees of the data it predicts for.
//!
//! A group is one [`EmpiricalData`] (SC, empirical FC and FCD CDF, the two maps, a name). This
//! module stores groups once per dataset directory ([`write_group`] / [`read_group`], `.npy`
//! files in the reference layout with split `group`, so [`EmpiricalData::load_dir`] reads them
//! back), checks that a set of groups fits one predictor ([`check_groups`]), and turns a group
//! into the fixed-length [`descriptor`] the group MLP takes as input, or into the flattened
//! [`raw_inputs`] of the group region-token model.
//!
//! Why both: DELSSOME learned embeddings of the raw FC and FCD from 64 training groups. With
//! ~10 groups learned embeddings of raw vectors only memorise the training groups, and the 31
//! summaries (each a property a cost depends on) let a network interpolate; with 64 synthetic
//! groups the region-token model on raw inputs ranks held-out groups' θ a little better than
//! the descriptor MLP (mean r 0.61 against 0.57 on six held-out groups over three runs at equal
//! batch size, about the seed-to-seed spread) and kong2021 test clearly better (0.943 against
//! 0.849); with 128 training groups both reach 0.67 (README, issue 18).

use std::path::Path;

use pmfm_sim::data::{write_npy_f64, EmpiricalData};
use pmfm_sim::observables::{FCD_BINS, FCD_HI, FCD_LO};

use crate::error::{io_err, Result, SurrogateError};

/// File holding the group's name inside its directory.
pub const NAME_FILE: &str = "name.txt";

/// The split name a stored group uses in the reference layout (`sc_group.npy`, …).
pub const GROUP_SPLIT: &str = "group";

/// Quantile levels of the FC and FCD summaries.
const FC_QUANTILES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const FCD_QUANTILES: [f64; 10] = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95];

/// Names of the [`descriptor`] entries, in order.
pub fn descriptor_names() -> Vec<String> {
    let mut v = vec!["fc_mean_z".to_string(), "fc_sd_z".to_string()];
    v.extend(
        FC_QUANTILES
            .iter()
            .map(|q| format!("fc_z_q{:02}", (q * 100.0) as u32)),
    );
    v.push("fcd_mean".into());
    v.push("fcd_sd".into());
    v.extend(
        FCD_QUANTILES
            .iter()
            .map(|q| format!("fcd_q{:02}", (q * 100.0) as u32)),
    );
    v.extend(
        [
            "coupling_strength_mean",
            "coupling_strength_sd",
            "sc_density",
            "myelin_mean",
            "myelin_sd",
            "gradient_mean",
            "gradient_sd",
            "myelin_gradient_corr",
        ]
        .map(String::from),
    );
    v
}

/// Length of a [`descriptor`].
pub fn descriptor_len() -> usize {
    descriptor_names().len()
}

/// The group's summary vector `[31]` (names in [`descriptor_names`]):
/// * empirical FC: mean, sd and deciles of `atanh(FC)` over the upper triangle (11);
/// * empirical FCD: mean, sd and 10 quantiles of the FCD values, read off the CDF's bins (12);
/// * coupling `C = SC / max(SC) · 0.2`: mean and sd of the regions' input strength `Σ_j C_ij`,
///   fraction of connected pairs (3);
/// * maps: mean and sd of myelin and gradient, and their correlation (5).
///
/// Five entries on where the FC pattern lies (its correlation with C over pairs, and the
/// regions' FC strength against their coupling strength, myelin and gradient) were tried on
/// 2026-12-05 and removed: with 37 training groups they lowered the mean r on six held-out
/// synthetic groups from 0.51 to 0.43 (README, issue 18).
pub fn descriptor(g: &EmpiricalData) -> Vec<f64> {
    let n = g.n_regions();
    let z: Vec<f64> =
        g.fc.upper_triangle()
            .iter()
            .map(|&r| r.clamp(-0.999_999, 0.999_999).atanh())
            .collect();
    let mut d = vec![mean(&z), sd(&z)];
    d.extend(FC_QUANTILES.iter().map(|&q| quantile(&z, q)));
    d.extend(fcd_summary(&g.fcd_cdf));
    let sc_max = g.sc.data.iter().fold(0.0f64, |a, &x| a.max(x));
    let scale = if sc_max > 0.0 { 0.2 / sc_max } else { 0.0 };
    let strength: Vec<f64> = (0..n)
        .map(|i| g.sc.row(i).iter().sum::<f64>() * scale)
        .collect();
    let upper = g.sc.upper_triangle();
    let density = upper.iter().filter(|&&x| x > 0.0).count() as f64 / upper.len().max(1) as f64;
    d.extend([mean(&strength), sd(&strength), density]);
    d.extend([
        mean(&g.myelin),
        sd(&g.myelin),
        mean(&g.gradient),
        sd(&g.gradient),
        correlation(&g.myelin, &g.gradient),
    ]);
    d
}

/// Points of the FCD CDF in a group's [`raw_inputs`]: the empirical CDF read every
/// `FCD_BINS / FCD_POINTS` bins.
pub const FCD_POINTS: usize = 100;

/// Length of [`raw_inputs`] for `n` regions: SC `n²`, myelin `n`, gradient `n`, FC upper
/// triangle `n(n−1)/2`, FCD CDF [`FCD_POINTS`].
pub fn raw_len(n: usize) -> usize {
    n * n + 2 * n + n * n.saturating_sub(1) / 2 + FCD_POINTS
}

/// What the group region-token model sees of a group, flattened `[raw_len(n)]`: raw SC
/// (row-major; the model scales it to `C` itself), myelin, gradient, the empirical FC's upper
/// triangle (Pearson r), and the empirical FCD CDF normalised to end at 1 and read at the
/// last bin of each of [`FCD_POINTS`] equal blocks of the 10,000 bins. DELSSOME embeds the
/// 10,000-bin density; the CDF at 100 points carries the same distribution at the resolution
/// a smooth FCD has (a linear first layer can take differences), with 100× fewer weights to
/// learn from 64 groups.
pub fn raw_inputs(g: &EmpiricalData) -> Vec<f64> {
    let mut v = g.sc.data.clone();
    v.extend(&g.myelin);
    v.extend(&g.gradient);
    v.extend(g.fc.upper_triangle());
    let total = g.fcd_cdf.last().copied().unwrap_or(0.0).max(1e-300);
    let block = (g.fcd_cdf.len() / FCD_POINTS).max(1);
    v.extend((1..=FCD_POINTS).map(|j| {
        let k = (j * block).min(g.fcd_cdf.len()) - 1;
        g.fcd_cdf[k] / total
    }));
    v
}

/// The parts of a [`raw_inputs`] vector of `n` regions.
pub(crate) struct RawParts<'a> {
    pub sc: &'a [f64],
    pub myelin: &'a [f64],
    pub gradient: &'a [f64],
    pub fc_upper: &'a [f64],
    pub fcd_points: &'a [f64],
}

/// Splits a [`raw_inputs`] vector `v` (length [`raw_len`]`(n)`) into its parts.
pub(crate) fn raw_parts(v: &[f64], n: usize) -> RawParts<'_> {
    let (sc, rest) = v.split_at(n * n);
    let (myelin, rest) = rest.split_at(n);
    let (gradient, rest) = rest.split_at(n);
    let (fc_upper, fcd_points) = rest.split_at(n * n.saturating_sub(1) / 2);
    RawParts {
        sc,
        myelin,
        gradient,
        fc_upper,
        fcd_points,
    }
}

/// Mean, sd and the [`FCD_QUANTILES`] of the FCD values whose cumulative counts are `cdf`
/// (bin centres stand for the values in a bin).
fn fcd_summary(cdf: &[f64]) -> Vec<f64> {
    let total = cdf.last().copied().unwrap_or(0.0);
    let width = (FCD_HI - FCD_LO) / FCD_BINS as f64;
    let centre = |k: usize| FCD_LO + (k as f64 + 0.5) * width;
    let (mut m, mut m2, mut prev) = (0.0, 0.0, 0.0);
    for (k, &c) in cdf.iter().enumerate() {
        let p = (c - prev) / total.max(1e-300);
        prev = c;
        m += p * centre(k);
        m2 += p * centre(k) * centre(k);
    }
    let mut out = vec![m, (m2 - m * m).max(0.0).sqrt()];
    for &q in &FCD_QUANTILES {
        let k = cdf.partition_point(|&c| c < q * total).min(cdf.len() - 1);
        out.push(centre(k));
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

fn sd(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Pearson r, or 0 when either vector has no spread.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let r = pmfm_sim::observables::pearson(a, b);
    if r.is_finite() {
        r
    } else {
        0.0
    }
}

/// The `q` quantile of `x` (linear interpolation between order statistics).
fn quantile(x: &[f64], q: f64) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let pos = q * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Writes `g` into `dir` (created if needed): `sc_group.npy`, `fc_group.npy`,
/// `fcd_group.npy`, `myelin.npy`, `rsfc_gradient.npy` (float64, atomic) and its name in
/// `name.txt`.
pub fn write_group(dir: &Path, g: &EmpiricalData) -> Result<()> {
    g.validate()?;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let n = g.n_regions();
    let s = GROUP_SPLIT;
    write_npy_f64(dir.join(format!("sc_{s}.npy")), &[n, n], &g.sc.data)?;
    write_npy_f64(dir.join(format!("fc_{s}.npy")), &[n, n], &g.fc.data)?;
    write_npy_f64(
        dir.join(format!("fcd_{s}.npy")),
        &[g.fcd_cdf.len()],
        &g.fcd_cdf,
    )?;
    write_npy_f64(dir.join("myelin.npy"), &[n], &g.myelin)?;
    write_npy_f64(dir.join("rsfc_gradient.npy"), &[n], &g.gradient)?;
    crate::persist::write_atomic(&dir.join(NAME_FILE), g.name.as_bytes())
}

/// Reads a group written by [`write_group`] (validated; errors name the file).
pub fn read_group(dir: &Path) -> Result<EmpiricalData> {
    let mut g = EmpiricalData::load_dir(dir, GROUP_SPLIT)?;
    let name_path = dir.join(NAME_FILE);
    g.name = std::fs::read_to_string(&name_path)
        .map_err(io_err(&name_path))?
        .trim()
        .to_string();
    if g.name.is_empty() {
        return Err(SurrogateError::Input(format!(
            "{}: empty group name",
            name_path.display()
        )));
    }
    Ok(g)
}

/// FNV-1a (64-bit) of every input array of `g` (SC, FC, FCD CDF, maps, as f64 bits), in hex:
/// a dataset manifest stores it so a resume with other group inputs is refused.
pub fn fingerprint(g: &EmpiricalData) -> String {
    let arrays: [&[f64]; 5] = [&g.sc.data, &g.fc.data, &g.fcd_cdf, &g.myelin, &g.gradient];
    let bytes: Vec<u8> = arrays
        .iter()
        .flat_map(|a| a.iter().copied().chain(std::iter::once(a.len() as f64)))
        .flat_map(|x| x.to_bits().to_le_bytes())
        .collect();
    crate::persist::fnv1a64(&bytes)
}

/// Every group stored under `dir` by [`write_group`] (one sub-directory each, sorted by
/// directory name); empty when `dir` does not exist.
pub fn read_groups_in(dir: &Path) -> Result<Vec<EmpiricalData>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut subs: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    subs.iter().map(|p| read_group(p)).collect()
}

/// A directory name for group `name` (path separators and other odd characters replaced).
pub fn group_dir_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks that `groups` can share one predictor: at least one, unique names, every group
/// valid and with the same number of regions as the first. The error names the group.
pub fn check_groups(groups: &[EmpiricalData]) -> Result<()> {
    let Some(first) = groups.first() else {
        return Err(SurrogateError::Input("no groups given".into()));
    };
    let n = first.n_regions();
    for (k, g) in groups.iter().enumerate() {
        g.validate()?;
        if g.n_regions() != n {
            return Err(SurrogateError::Input(format!(
                "group '{}' has {} regions but group '{}' has {n}; one predictor needs one parcellation",
                g.name,
                g.n_regions(),
                first.name
            )));
        }
        if groups[..k].iter().any(|o| o.name == g.name) {
            return Err(SurrogateError::Input(format!(
                "group name '{}' is given twice",
                g.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_data::toy_group;

    #[test]
    fn group_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("groups-rt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let g = toy_group("kong2021/test", 6, 0.3, 0.2);
        let sub = dir.join(group_dir_name(&g.name));
        write_group(&sub, &g).unwrap();
        assert!(sub.ends_with("kong2021_test"));
        let back = read_group(&sub).unwrap();
        assert_eq!(back, g);
        assert_eq!(fingerprint(&back), fingerprint(&g));
        assert_ne!(fingerprint(&toy_group("x", 6, 0.31, 0.2)), fingerprint(&g));
        assert_eq!(read_groups_in(&dir).unwrap(), vec![g.clone()]);
        assert!(read_groups_in(&dir.join("none")).unwrap().is_empty());
        assert_eq!(descriptor(&back), descriptor(&g));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn descriptor_reads_the_group_properties() {
        let names = descriptor_names();
        assert_eq!(descriptor_len(), 31);
        let at = |d: &[f64], name: &str| d[names.iter().position(|n| n == name).unwrap()];
        let a = descriptor(&toy_group("a", 8, 0.2, 0.1));
        let b = descriptor(&toy_group("b", 8, 0.4, 0.5));
        assert_eq!(a.len(), 31);
        assert!(a.iter().all(|x| x.is_finite()));
        // FC mean in atanh units: atanh(0.2 + small) vs atanh(0.4 + small).
        assert!((at(&a, "fc_mean_z") - 0.2f64.atanh()).abs() < 0.05);
        assert!(at(&b, "fc_mean_z") > at(&a, "fc_mean_z") + 0.15);
        // The FCD median follows the logistic CDF's centre (its median) to within a bin or so.
        assert!(
            (at(&a, "fcd_q45") - 0.1).abs() < 0.05,
            "{}",
            at(&a, "fcd_q45")
        );
        assert!(
            (at(&b, "fcd_mean") - 0.5).abs() < 0.02,
            "{}",
            at(&b, "fcd_mean")
        );
        // Same connectome and maps: those entries agree.
        for name in [
            "coupling_strength_mean",
            "sc_density",
            "myelin_sd",
            "myelin_gradient_corr",
        ] {
            assert_eq!(at(&a, name), at(&b, name), "{name}");
        }
        assert_eq!(at(&a, "sc_density"), 1.0);
    }

    #[test]
    fn groups_that_disagree_are_refused_by_name() {
        let a = toy_group("a", 6, 0.3, 0.2);
        let b = toy_group("b", 7, 0.3, 0.2);
        let e = check_groups(&[a.clone(), b]).unwrap_err().to_string();
        assert!(
            e.contains("'b' has 7 regions") && e.contains("'a' has 6"),
            "{e}"
        );
        let e = check_groups(&[a.clone(), a.clone()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice"), "{e}");
        assert!(check_groups(&[]).is_err());
        // A group whose FCD is missing: one clear error naming the file.
        let dir = std::env::temp_dir().join(format!("groups-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_group(&dir, &a).unwrap();
        std::fs::remove_file(dir.join("fcd_group.npy")).unwrap();
        let e = read_group(&dir).unwrap_err().to_string();
        assert!(e.contains("fcd_group"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(check_groups(&[a]).is_ok());
    }
}
