//! Recovery of planted assemblies (synthetic data): how well hidden units'
//! weight patterns match known groups of neurons.
//!
//! For a planted assembly A and hidden unit μ, the unit's "footprint" is the
//! |A| neurons with the largest |w_iμ|; the overlap is their Jaccard index
//! |A ∩ footprint| / |A ∪ footprint|. Each assembly is matched to its best unit
//! (units may be shared between assemblies).

use serde::{Deserialize, Serialize};

use crate::model::Crbm;

/// Best-matching hidden unit of one planted assembly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssemblyMatch {
    /// Index of the planted assembly.
    pub assembly: usize,
    /// Number of member neurons.
    pub size: usize,
    /// Best hidden unit (None for an empty assembly or a model without hidden units).
    pub unit: Option<usize>,
    /// Jaccard overlap in [0, 1] of the unit's top-|A| weights with the assembly.
    pub jaccard: f64,
}

/// Match every assembly (sorted or unsorted neuron indices < N) to the hidden
/// unit whose top-|A| |weights| overlap it most.
pub fn assembly_recovery(model: &Crbm, assemblies: &[Vec<u32>]) -> Vec<AssemblyMatch> {
    let (n, m) = (model.n_visible, model.n_hidden);
    // Neurons of each unit ranked by |w_iμ|, descending (ties by index).
    let ranked: Vec<Vec<u32>> = (0..m)
        .map(|mu| {
            let mut idx: Vec<u32> = (0..n as u32).collect();
            idx.sort_by(|&a, &b| {
                let (wa, wb) = (
                    model.weight(a as usize, mu).abs(),
                    model.weight(b as usize, mu).abs(),
                );
                wb.total_cmp(&wa).then(a.cmp(&b))
            });
            idx
        })
        .collect();
    let mut member = vec![false; n];
    assemblies
        .iter()
        .enumerate()
        .map(|(k, a)| {
            a.iter()
                .filter(|&&i| (i as usize) < n)
                .for_each(|&i| member[i as usize] = true);
            let size = member.iter().filter(|&&x| x).count();
            let mut best = AssemblyMatch {
                assembly: k,
                size,
                unit: None,
                jaccard: 0.0,
            };
            if size > 0 {
                for (mu, r) in ranked.iter().enumerate() {
                    let hit = r[..size].iter().filter(|&&i| member[i as usize]).count();
                    let j = hit as f64 / (2 * size - hit) as f64;
                    if best.unit.is_none() || j > best.jaccard {
                        best.unit = Some(mu);
                        best.jaccard = j;
                    }
                }
            }
            a.iter()
                .filter(|&&i| (i as usize) < n)
                .for_each(|&i| member[i as usize] = false);
            best
        })
        .collect()
}

/// Mean Jaccard overlap over the matches (NaN when there are none).
pub fn mean_jaccard(matches: &[AssemblyMatch]) -> f64 {
    matches.iter().map(|x| x.jaccard).sum::<f64>() / matches.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_weights_are_recovered_exactly() {
        // N = 6, M = 2: unit 0 weights neurons {0, 1, 2}, unit 1 neurons {3, 4} (negative).
        let mut c = Crbm::zeros(6, 2);
        for i in 0..3 {
            c.weights[i * 2] = 1.0 + i as f64;
        }
        c.weights[3 * 2 + 1] = -2.0;
        c.weights[4 * 2 + 1] = -1.5;
        c.weights[5 * 2 + 1] = 0.1;
        let r = assembly_recovery(&c, &[vec![0, 1, 2], vec![3, 4], vec![2, 5]]);
        assert_eq!((r[0].unit, r[0].jaccard), (Some(0), 1.0));
        assert_eq!((r[1].unit, r[1].jaccard), (Some(1), 1.0));
        // {2, 5}: unit 0's top-2 are {2, 1} → 1/3; unit 1's are {3, 4} → 0.
        assert_eq!(r[2].unit, Some(0));
        assert!((r[2].jaccard - 1.0 / 3.0).abs() < 1e-12);
        assert!((mean_jaccard(&r) - (2.0 + 1.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(assembly_recovery(&c, &[vec![]])[0].unit, None);
    }
}
