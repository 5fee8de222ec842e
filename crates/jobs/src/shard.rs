//! Deterministic splitting of a long job into batches and shards.
//!
//! A job of `n_total` points is cut into batches of `batch_size` consecutive global indices;
//! batch b belongs to shard `b mod n`. Every batch is simulated with its own noise seed and
//! written to its own file, so any subset of shards, run in any order, killed and resumed,
//! produces the same rows as one uninterrupted process.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::JobsError;

/// Shard `index` of `count` (0-based; written `i/n` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = JobsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            JobsError::Config(format!(
                "shard must be written i/n with 0 ≤ i < n (e.g. 0/4), got '{s}'"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// The explicit shard if given, else Slurm's array task (`SLURM_ARRAY_TASK_ID` and
    /// `SLURM_ARRAY_TASK_COUNT`, with the array starting at `SLURM_ARRAY_TASK_MIN`, default 0),
    /// else the whole job.
    pub fn resolve(explicit: Option<Shard>) -> Result<Shard, JobsError> {
        if let Some(s) = explicit {
            return Ok(s);
        }
        Self::from_env(|k| std::env::var(k).ok())
    }

    /// [`Shard::resolve`]'s environment rule with an injectable lookup (for tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Shard, JobsError> {
        let (Some(id), Some(count)) = (get("SLURM_ARRAY_TASK_ID"), get("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(Shard::default());
        };
        let parse = |name: &str, v: &str| {
            v.trim().parse::<usize>().map_err(|_| {
                JobsError::Config(format!("{name}='{v}' is not a non-negative integer"))
            })
        };
        let id = parse("SLURM_ARRAY_TASK_ID", &id)?;
        let count = parse("SLURM_ARRAY_TASK_COUNT", &count)?;
        let min = match get("SLURM_ARRAY_TASK_MIN") {
            Some(v) => parse("SLURM_ARRAY_TASK_MIN", &v)?,
            None => 0,
        };
        let index = id.checked_sub(min).ok_or_else(|| {
            JobsError::Config(format!(
                "SLURM_ARRAY_TASK_ID {id} < SLURM_ARRAY_TASK_MIN {min}"
            ))
        })?;
        format!("{index}/{count}").parse()
    }

    /// Whether batch `b` belongs to this shard.
    pub fn owns(&self, batch: usize) -> bool {
        batch % self.count == self.index
    }
}

/// The batches of a job: `n_total` points in batches of `batch_size` global indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batches {
    pub n_total: usize,
    pub batch_size: usize,
}

impl Batches {
    pub fn new(n_total: usize, batch_size: usize) -> Result<Self, JobsError> {
        if batch_size == 0 {
            return Err(JobsError::Config("batch size must be ≥ 1".into()));
        }
        Ok(Self {
            n_total,
            batch_size,
        })
    }

    pub fn count(&self) -> usize {
        self.n_total.div_ceil(self.batch_size)
    }

    /// Global indices of batch `b`.
    pub fn range(&self, b: usize) -> std::ops::Range<u64> {
        let lo = b * self.batch_size;
        let hi = ((b + 1) * self.batch_size).min(self.n_total);
        lo as u64..hi as u64
    }

    /// Batches of `shard`, in order.
    pub fn of_shard(&self, shard: Shard) -> Vec<usize> {
        (0..self.count()).filter(|&b| shard.owns(b)).collect()
    }
}

/// Noise seed of batch `b` of a job with base seed `seed` (SplitMix64 of the pair), so batches
/// draw independent noise whatever shard or order they run in.
pub fn batch_seed(seed: u64, b: usize) -> u64 {
    let mut z = seed
        ^ (b as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn shards_partition_the_batches() {
        let b = Batches::new(1003, 64).unwrap();
        assert_eq!(b.count(), 16);
        assert_eq!(b.range(15), 960..1003);
        let mut seen = vec![0; b.count()];
        for i in 0..3 {
            for k in b.of_shard(Shard { index: i, count: 3 }) {
                seen[k] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        let total: u64 = (0..b.count())
            .map(|k| b.range(k).end - b.range(k).start)
            .sum();
        assert_eq!(total, 1003);
    }

    #[test]
    fn shard_parsing_and_slurm_environment() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let env: HashMap<&str, &str> = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
        ]
        .into();
        let s = Shard::from_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s, Shard { index: 2, count: 4 });
        assert_eq!(Shard::from_env(|_| None).unwrap(), Shard::default());
        let explicit = Shard { index: 1, count: 2 };
        assert_eq!(Shard::resolve(Some(explicit)).unwrap(), explicit);
    }

    #[test]
    fn batch_seeds_differ() {
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|b| batch_seed(7, b)).collect();
        assert_eq!(seeds.len(), 1000);
        assert_ne!(batch_seed(7, 0), batch_seed(8, 0));
    }
}
