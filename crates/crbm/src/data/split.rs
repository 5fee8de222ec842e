//! Chronological train/test split (spec: 10 equal segments, 3 held out).
//!
//! Frames are cut into `n_segments` contiguous segments with boundaries
//! `floor(s·T/S)`. Which segments are held out:
//! * `Spread` (default): evenly spread, segment `floor((2k+1)·S/(2H))` for
//!   k = 0..H (10/3 → segments 1, 5, 8), so test data samples early, middle and
//!   late parts of the recording, like the reference's spread-out test blocks;
//! * `Seeded`: a uniformly random H-subset from the seed (deterministic);
//! * `Explicit`: the listed segments.

use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use crate::batch::SparseBatch;
use crate::error::{invalid_config, CrbmError, Result};
use crate::frames::Frames;
use crate::rng::lane_rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeldOut {
    Spread,
    Seeded { seed: u64 },
    Explicit { segments: Vec<usize> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SplitConfig {
    pub n_segments: usize,
    pub n_test_segments: usize,
    pub held_out: HeldOut,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            n_segments: 10,
            n_test_segments: 3,
            held_out: HeldOut::Spread,
        }
    }
}

/// Train and test frames plus the frame indices they came from (chronological order kept).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: SparseBatch,
    pub test: SparseBatch,
    pub train_frames: Vec<usize>,
    pub test_frames: Vec<usize>,
    pub test_segments: Vec<usize>,
}

impl SplitConfig {
    fn test_segments(&self) -> Result<Vec<usize>> {
        let (s, h) = (self.n_segments, self.n_test_segments);
        if s < 2 {
            return invalid_config("n_segments", s, "must be ≥ 2");
        }
        if h == 0 || h >= s {
            return invalid_config("n_test_segments", h, "must be in 1..n_segments");
        }
        let mut segs = match &self.held_out {
            HeldOut::Spread => (0..h).map(|k| (2 * k + 1) * s / (2 * h)).collect(),
            HeldOut::Seeded { seed } => sample(&mut lane_rng(*seed, 0, 0), s, h).into_vec(),
            HeldOut::Explicit { segments } => {
                if segments.len() != h || segments.iter().any(|&x| x >= s) {
                    return invalid_config(
                        "held_out.segments",
                        segments.len(),
                        "need n_test_segments distinct indices < n_segments",
                    );
                }
                segments.clone()
            }
        };
        segs.sort_unstable();
        segs.dedup();
        if segs.len() != h {
            return invalid_config("held_out.segments", segs.len(), "segments must be distinct");
        }
        Ok(segs)
    }
}

/// Frame indices of a chronological split of `t` frames: (train, test, held-out segments).
pub fn split_indices(
    t: usize,
    config: &SplitConfig,
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let segs = config.test_segments()?;
    let s = config.n_segments;
    if t < s {
        return Err(CrbmError::Shape {
            what: "frames (must be ≥ n_segments)".into(),
            expected: s,
            got: t,
        });
    }
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for seg in 0..s {
        let range = seg * t / s..(seg + 1) * t / s;
        if segs.contains(&seg) {
            te.extend(range);
        } else {
            tr.extend(range);
        }
    }
    Ok((tr, te, segs))
}

/// Split a raster of T frames chronologically (see module docs).
pub fn chronological_split(raster: &SparseBatch, config: &SplitConfig) -> Result<Split> {
    let (tr, te, segs) = split_indices(raster.len(), config)?;
    Ok(Split {
        train: raster.select(&tr),
        test: raster.select(&te),
        train_frames: tr,
        test_frames: te,
        test_segments: segs,
    })
}

/// Train and test frames of continuous recordings, split as [`chronological_split`].
#[derive(Clone, Debug, PartialEq)]
pub struct FrameSplit {
    pub train: Frames,
    pub test: Frames,
    pub train_frames: Vec<usize>,
    pub test_frames: Vec<usize>,
}

/// [`chronological_split`] for continuous frames.
pub fn split_frames(frames: &Frames, config: &SplitConfig) -> Result<FrameSplit> {
    let (tr, te, _) = split_indices(frames.len(), config)?;
    Ok(FrameSplit {
        train: frames.select(&tr),
        test: frames.select(&te),
        train_frames: tr,
        test_frames: te,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_split_holds_out_three_spread_segments() {
        let r = SparseBatch {
            n_visible: 1,
            rows: (0..100)
                .map(|k| if k % 2 == 0 { vec![0] } else { vec![] })
                .collect(),
        };
        let s = chronological_split(&r, &SplitConfig::default()).unwrap();
        assert_eq!(s.test_segments, vec![1, 5, 8]);
        assert_eq!(s.test.len(), 30);
        assert_eq!(s.train.len(), 70);
        assert_eq!(&s.test_frames[..3], &[10, 11, 12]);
        let seeded = SplitConfig {
            held_out: HeldOut::Seeded { seed: 4 },
            ..Default::default()
        };
        let a = chronological_split(&r, &seeded).unwrap();
        assert_eq!(a, chronological_split(&r, &seeded).unwrap());
        assert_eq!(a.test.len(), 30);
        assert!(chronological_split(
            &r,
            &SplitConfig {
                n_test_segments: 10,
                ..Default::default()
            }
        )
        .is_err());
    }
}
