//! Sparse binary batches: a binary frame is stored as the sorted list of its
//! active (=1) neuron indices, since spike rasters are ~2–5% ones and every
//! visible→hidden product is then a gather-sum over those indices.

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
