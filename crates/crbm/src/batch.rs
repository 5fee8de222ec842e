//! Sparse binary batches: a binary frame is stored as the sorted list of its
//! active (=1) neuron indices, since spike rasters are ~2–5% ones and every
//! visible→hidden product is then a gather-sum over those indices. [`BatchOrder`]: the
//! epoch-shuffled mini-batch order every PCD trainer draws its data batches in.

use rand::seq::SliceRandom;

use crate::rng::lane_rng;

/// The random lane of the data order's shuffles (epoch e draws from `(seed, e, lane)`).
pub(crate) const DATA_ORDER_LANE: u64 = 1 << 40;

/// Mini-batches of frame indices: each epoch a fresh shuffle of all T frames (seeded by the
/// run's seed and the epoch number), cut into consecutive batches; an epoch's remainder
/// shorter than a batch is skipped.
#[derive(Clone, Debug)]
pub(crate) struct BatchOrder {
    order: Vec<usize>,
    /// Start of the next batch in `order`; `usize::MAX` before the first batch.
    cursor: usize,
    epoch: usize,
}

impl Default for BatchOrder {
    fn default() -> Self {
        Self {
            order: Vec::new(),
            cursor: usize::MAX,
            epoch: 0,
        }
    }
}

impl BatchOrder {
    /// Indices of the next `b` of `n_frames` frames (b ≤ n_frames).
    pub(crate) fn next(&mut self, n_frames: usize, b: usize, seed: u64) -> &[usize] {
        if self.cursor == usize::MAX || self.cursor + b > self.order.len() {
            if self.cursor != usize::MAX {
                self.epoch += 1;
            }
            self.order = (0..n_frames).collect();
            self.order
                .shuffle(&mut lane_rng(seed, self.epoch as u64, DATA_ORDER_LANE));
            self.cursor = 0;
        }
        let idx = &self.order[self.cursor..self.cursor + b];
        self.cursor += b;
        idx
    }
}

/// A batch of binary frames over `n_visible` neurons; `rows[b]` holds the
/// active indices of frame b (sorted, each < n_visible).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseBatch {
    pub n_visible: usize,
    pub rows: Vec<Vec<u32>>,
}

impl SparseBatch {
    pub fn new(n_visible: usize) -> Self {
        Self {
            n_visible,
            rows: Vec::new(),
        }
    }

    /// From dense 0/1 frames (`frames[b][i]`, nonzero = active).
    pub fn from_dense(n_visible: usize, frames: &[Vec<u8>]) -> Self {
        let rows = frames
            .iter()
            .map(|f| {
                f.iter()
                    .enumerate()
                    .filter(|(_, &x)| x != 0)
                    .map(|(i, _)| i as u32)
                    .collect()
            })
            .collect();
        Self { n_visible, rows }
    }

    /// Dense 0/1 copy of frame b.
    pub fn dense_row(&self, b: usize) -> Vec<u8> {
        let mut v = vec![0u8; self.n_visible];
        for &i in &self.rows[b] {
            v[i as usize] = 1;
        }
        v
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Frames `idx` of this batch, copied.
    pub fn select(&self, idx: &[usize]) -> Self {
        Self {
            n_visible: self.n_visible,
            rows: idx.iter().map(|&b| self.rows[b].clone()).collect(),
        }
    }

    /// Mean activity of each neuron, ⟨v_i⟩ over frames, shape [N].
    pub fn mean_activity(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.n_visible];
        for r in &self.rows {
            for &i in r {
                m[i as usize] += 1.0;
            }
        }
        let t = self.rows.len().max(1) as f64;
        m.iter_mut().for_each(|x| *x /= t);
        m
    }

    /// Fraction of ones over the whole batch.
    pub fn density(&self) -> f64 {
        let ones: usize = self.rows.iter().map(|r| r.len()).sum();
        ones as f64 / (self.rows.len().max(1) * self.n_visible.max(1)) as f64
    }
}
