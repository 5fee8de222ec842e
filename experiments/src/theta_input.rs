//! Reading parameter vectors θ from the command line, a CSV file or a parameter→cost table.

use anyhow::{bail, Context, Result};
use pmfm_sim::params::{Theta, N_THETA};
use std::path::Path;

/// Parses "v0,v1,…,v9" into θ.
pub fn parse_theta(s: &str) -> Result<Theta> {
    let v: Vec<f64> = s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<f64>()
                .with_context(|| format!("'{t}' in --theta is not a number"))
        })
        .collect::<Result<_>>()?;
    to_theta(&v).with_context(|| format!("--theta '{s}'"))
}

fn to_theta(v: &[f64]) -> Result<Theta> {
    if v.len() != N_THETA {
        bail!("expected {N_THETA} values (w0, w_myelin, w_grad, I0, I_myelin, I_grad, G, s0, s_myelin, s_grad), got {}", v.len());
    }
    if let Some(x) = v.iter().find(|x| !x.is_finite()) {
        bail!("non-finite parameter value {x}");
    }
    let mut t = [0.0; N_THETA];
    t.copy_from_slice(v);
    Ok(t)
}

/// Reads θ vectors from a CSV file. `by_column = false`: one θ per row (extra columns after the
/// tenth are ignored, a non-numeric first row is taken as a header). `by_column = true`: one θ
/// per column in the first ten rows, as `kong2021_example_expected_output.csv` stores them.
pub fn read_theta_csv(path: &Path, by_column: bool) -> Result<Vec<Theta>> {
    thetas_of_rows(&numeric_rows(path)?, by_column, path)
}

/// The numeric rows of a CSV file (a non-numeric first row is taken as a header; rows may
/// differ in length), read by `arrays::text`.
fn numeric_rows(path: &Path) -> Result<Vec<Vec<f64>>> {
    Ok(arrays::text::read_rows(path)?)
}

/// θ vectors from numeric rows, in either layout (see [`read_theta_csv`]).
fn thetas_of_rows(rows: &[Vec<f64>], by_column: bool, path: &Path) -> Result<Vec<Theta>> {
    if rows.is_empty() {
        bail!("{}: no parameter values", path.display());
    }
    let thetas: Result<Vec<Theta>> = if by_column {
        if rows.len() < N_THETA {
            bail!(
                "{}: column layout needs at least {N_THETA} rows, found {}",
                path.display(),
                rows.len()
            );
        }
        let width = rows[0].len();
        if let Some(k) = rows[..N_THETA].iter().position(|r| r.len() != width) {
            bail!(
                "{}: row {} has {} columns, row 1 has {width}",
                path.display(),
                k + 1,
                rows[k].len()
            );
        }
        (0..width)
            .map(|c| to_theta(&rows[..N_THETA].iter().map(|r| r[c]).collect::<Vec<_>>()))
            .collect()
    } else {
        rows.iter()
            .enumerate()
            .map(|(k, r)| {
                if r.len() < N_THETA {
                    bail!(
                        "row {} has {} values, expected at least {N_THETA}",
                        k + 1,
                        r.len()
                    );
                }
                to_theta(&r[..N_THETA])
            })
            .collect()
    };
    thetas.with_context(|| format!("{}", path.display()))
}

/// θ of the rows of a parameter→cost table (a Parquet file or a `pmfm-dataset` directory), in
/// index order; with `group`, only the rows of that group (`dataset` column). Every row counts,
/// valid or not, so a design over them re-simulates exactly the table's θ.
pub fn read_theta_table(path: &Path, group: Option<&str>) -> Result<Vec<Theta>> {
    let s = surrogate::table::read_samples(path)
        .with_context(|| format!("{}", path.display()))?
        .sorted_by_index();
    let theta: Vec<Theta> = (0..s.len())
        .filter(|&r| group.is_none_or(|g| s.dataset[r] == g))
        .map(|r| s.theta[r])
        .collect();
    if theta.is_empty() {
        match group {
            Some(g) => bail!("{}: no rows of group '{g}'", path.display()),
            None => bail!("{}: no rows", path.display()),
        }
    }
    Ok(theta)
}

/// Whether `path` names a parameter→cost table rather than a CSV file: a directory or a
/// `.parquet` file.
pub fn is_table(path: &Path) -> bool {
    path.is_dir() || arrays::lowercase_extension(path) == "parquet"
}

/// Reads candidates with the total cost reported next to them: θ as [`read_theta_csv`], the
/// cost from the 13th value (row 13 in the column layout, column 13 in the row layout: after
/// the ten parameters, FC cost, KS cost, total, as `kong2021_example_expected_output.csv`
/// stores them); NaN where the file has no such value.
pub fn read_candidates(path: &Path, by_column: bool) -> Result<Vec<(Theta, f64)>> {
    let rows = numeric_rows(path)?;
    let thetas = thetas_of_rows(&rows, by_column, path)?;
    const TOTAL: usize = N_THETA + 2;
    let cost = |k: usize| -> f64 {
        let v = if by_column {
            rows.get(TOTAL).and_then(|r| r.get(k))
        } else {
            rows.get(k).and_then(|r| r.get(TOTAL))
        };
        v.copied().unwrap_or(f64::NAN)
    };
    Ok(thetas
        .into_iter()
        .enumerate()
        .map(|(k, t)| (t, cost(k)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_carry_their_reported_total() {
        let dir = std::env::temp_dir().join(format!("theta-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Two candidates by column: ten parameters, FC, KS, total.
        let mut text = String::new();
        for r in 0..13 {
            text += &format!("{},{}\n", r as f64 + 0.5, 100.0 + r as f64);
        }
        let p = dir.join("by_column.csv");
        std::fs::write(&p, &text).unwrap();
        let c = read_candidates(&p, true).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].0[9], 9.5);
        assert_eq!(c[1].0[0], 100.0);
        assert_eq!((c[0].1, c[1].1), (12.5, 112.0));
        // Row layout without costs: NaN.
        let p = dir.join("rows.csv");
        std::fs::write(&p, "0,1,2,3,4,5,6,7,8,9\n").unwrap();
        let c = read_candidates(&p, false).unwrap();
        assert!(c.len() == 1 && c[0].1.is_nan());
    }
}
