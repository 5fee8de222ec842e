//! Region-token transformer (DELSSOME-style): the connectome is an input of the network.
//!
//! Region i's token is `[w_i, I_i, σ_i, (G·C)_i1 … (G·C)_in]` with `w_i = w0 + w_m m_i + w_g g_i`
//! (likewise I, σ) and `C = SC / max(SC) · 0.2`; the first three channels are standardised per
//! channel and the `G·C` entries by one mean and std, all fitted on the training θ. Tokens are
//! embedded linearly to `d_model`, passed through a pre-norm transformer encoder (dropout 0:
//! burn's dropout draws from the device RNG; the model's dropout acts on the pooled head
//! instead), mean-pooled over regions and mapped to the three outputs by a two-layer head.

use burn::module::Module;
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};

use super::{Activation, Dropper, ModelConfig};
use crate::error::{Result, SurrogateError};
use crate::normalise::{f32_exact, Standardiser};
use crate::samples::{Connectome, THETA_DIM};

/// Channels of a token besides the `G·C` row.
const REGIONAL: usize = 3;

/// A connectome on a device: the basis `[3, n]` (rows 1, myelin, gradient) that maps θ's
/// coefficient triples to regional values, and the coupling matrix `C` `[n, n]`.
#[derive(Debug, Clone)]
pub struct ConnectomeTensors {
    pub(crate) n: usize,
    pub(crate) basis: Tensor<2>,
    pub(crate) coupling: Tensor<2>,
}

impl ConnectomeTensors {
    pub fn new(c: &Connectome, device: &Device) -> Result<Self> {
        let n = check_connectome(c)?;
        // Round first, so a connectome and its saved copy give the same coupling bits.
        let c = &rounded(c);
        let mut basis = vec![1.0f32; n];
        basis.extend(c.myelin.iter().map(|&x| x as f32));
        basis.extend(c.gradient.iter().map(|&x| x as f32));
        let coupling: Vec<f32> = coupling(c)?.into_iter().map(|x| x as f32).collect();
        Ok(Self {
            n,
            basis: Tensor::<2>::from_data(TensorData::new(basis, [3, n]), device),
            coupling: Tensor::<2>::from_data(TensorData::new(coupling, [n, n]), device),
        })
    }

    pub fn n_regions(&self) -> usize {
        self.n
    }
}

/// Checks shapes and values; returns n.
pub(crate) fn check_connectome(c: &Connectome) -> Result<usize> {
    let n = c.n_regions;
    if n == 0 || c.sc.len() != n * n || c.myelin.len() != n || c.gradient.len() != n {
        return Err(SurrogateError::Input(format!(
            "connectome of {n} regions needs sc [{n}×{n}], myelin [{n}] and gradient [{n}]; got {}, {}, {}",
            c.sc.len(),
            c.myelin.len(),
            c.gradient.len()
        )));
    }
    if c.sc
        .iter()
        .chain(&c.myelin)
        .chain(&c.gradient)
        .any(|x| !x.is_finite())
    {
        return Err(SurrogateError::Input(
            "connectome has non-finite values".into(),
        ));
    }
    Ok(n)
}

fn coupling(c: &Connectome) -> Result<Vec<f64>> {
    pmfm_sim::coupling::coupling_matrix(&c.sc).ok_or_else(|| {
        SurrogateError::Input("structural connectivity has no positive entry".into())
    })
}

/// The connectome with every value rounded to `f32` (what the model computes with), so a saved
/// and reloaded copy rebuilds bit-identical tensors.
pub(crate) fn rounded(c: &Connectome) -> Connectome {
    let r = |v: &[f64]| v.iter().map(|&x| f32_exact(x)).collect();
    Connectome {
        n_regions: c.n_regions,
        sc: r(&c.sc),
        myelin: r(&c.myelin),
        gradient: r(&c.gradient),
    }
}

/// Mean and std of the four token channels (w, I, σ, G·C) over the training θ and regions.
pub(crate) fn fit_token_norm(theta: &[[f64; THETA_DIM]], c: &Connectome) -> Result<Standardiser> {
    fit_token_norm_each(theta, &vec![0; theta.len()], std::slice::from_ref(c))
}

/// [`fit_token_norm`] when training row `r` is on connectome `connectomes[of_row[r]]`.
pub(crate) fn fit_token_norm_each(
    theta: &[[f64; THETA_DIM]],
    of_row: &[usize],
    connectomes: &[Connectome],
) -> Result<Standardiser> {
    for c in connectomes {
        check_connectome(c)?;
    }
    if theta.is_empty() {
        return Err(SurrogateError::Input(
            "no training rows for the token model".into(),
        ));
    }
    let moments = |values: &mut dyn Iterator<Item = f64>| -> (f64, f64) {
        let (mut k, mut s, mut s2) = (0.0f64, 0.0f64, 0.0f64);
        let v: Vec<f64> = values.collect();
        for &x in &v {
            k += 1.0;
            s += x;
        }
        let m = s / k;
        for &x in &v {
            s2 += (x - m).powi(2);
        }
        (m, (s2 / k).sqrt())
    };
    let regional = |o: usize| {
        let mut it = theta.iter().zip(of_row).flat_map(move |(t, &g)| {
            let c = &connectomes[g];
            (0..c.n_regions).map(move |i| t[o] + t[o + 1] * c.myelin[i] + t[o + 2] * c.gradient[i])
        });
        moments(&mut it)
    };
    let (mw, sw) = regional(0);
    let (mi, si) = regional(3);
    let (ms, ss) = regional(7);
    // Within a row G is one number, so the moments of G·C over (row, entry) pairs are means
    // over rows of G·E[C] and G²·E[C²] of the row's connectome.
    let coupling_moments = connectomes
        .iter()
        .map(|c| {
            let (m, s) = moments(&mut coupling(c)?.into_iter());
            Ok((m, s * s + m * m))
        })
        .collect::<Result<Vec<(f64, f64)>>>()?;
    let rows = theta.len() as f64;
    let (mut mgc, mut e2) = (0.0, 0.0);
    for (t, &g) in theta.iter().zip(of_row) {
        let (mc, ec2) = coupling_moments[g];
        mgc += t[6] * mc / rows;
        e2 += t[6] * t[6] * ec2 / rows;
    }
    let sgc = (e2 - mgc * mgc).max(0.0).sqrt();
    let std = |s: f64, m: f64| {
        if s.is_finite() && s > 1e-12 * m.abs() && s > 1e-30 {
            f32_exact(s)
        } else {
            1.0
        }
    };
    Ok(Standardiser {
        mean: [mw, mi, ms, mgc].iter().map(|&x| f32_exact(x)).collect(),
        std: vec![std(sw, mw), std(si, mi), std(ss, ms), std(sgc, mgc)],
    })
}

/// Token embedding, encoder, pooled head.
#[derive(Module, Debug)]
pub struct TokenNet {
    pub embed: Linear,
    pub encoder: TransformerEncoder,
    pub hidden: Linear,
    pub head: Linear,
}

/// The linear token embedding (`3 + n_regions` channels → `d_model`) and the pre-norm encoder
/// of a token model (dropout 0, see the module docs).
pub(crate) fn token_layers(
    config: &ModelConfig,
    n_regions: usize,
    device: &Device,
) -> (Linear, TransformerEncoder) {
    let d = config.d_model;
    (
        LinearConfig::new(REGIONAL + n_regions, d).init(device),
        TransformerEncoderConfig::new(d, config.ff, config.heads, config.layers)
            .with_dropout(0.0)
            .with_norm_first(true)
            .init(device),
    )
}

/// Regional values `[B, n, 3]` (w, I, σ) and `G·C` rows `[B, n, n]` → standardised tokens
/// (`mean`/`inv_std`: the `[1, 4]` channel statistics), embedded, encoded and mean-pooled over
/// regions → `[B, d_model]`.
pub(crate) fn encode_pooled(
    embed: &Linear,
    encoder: &TransformerEncoder,
    regional: Tensor<3>,
    gc: Tensor<3>,
    mean: &Tensor<2>,
    inv_std: &Tensor<2>,
) -> Tensor<2> {
    let [b, _, _] = regional.dims();
    let regional = (regional - mean.clone().slice([0..1, 0..3]).reshape([1, 1, 3]))
        * inv_std.clone().slice([0..1, 0..3]).reshape([1, 1, 3]);
    let gc = (gc - mean.clone().slice([0..1, 3..4]).reshape([1, 1, 1]))
        * inv_std.clone().slice([0..1, 3..4]).reshape([1, 1, 1]);
    let h = embed.forward(Tensor::cat(vec![regional, gc], 2));
    let h = encoder.forward(TransformerEncoderInput::new(h));
    let [_, _, d] = h.dims();
    h.mean_dim(1).reshape([b, d])
}

impl TokenNet {
    pub(crate) fn new(config: &ModelConfig, n_regions: usize, device: &Device) -> Self {
        let d = config.d_model;
        let (embed, encoder) = token_layers(config, n_regions, device);
        Self {
            embed,
            encoder,
            hidden: LinearConfig::new(d, d).init(device),
            head: LinearConfig::new(d, 3).init(device),
        }
    }

    /// Raw θ `[B, 10]` on `connectome` → `[B, 3]`. `mean`/`inv_std` are the `[1, 4]` token
    /// channel statistics.
    pub(crate) fn forward(
        &self,
        theta: Tensor<2>,
        connectome: &ConnectomeTensors,
        mean: &Tensor<2>,
        inv_std: &Tensor<2>,
        activation: Activation,
        dropper: Option<&mut Dropper>,
    ) -> Tensor<2> {
        let [b, _] = theta.dims();
        let n = connectome.n;
        let map = |o: usize| {
            theta
                .clone()
                .slice([0..b, o..o + 3])
                .matmul(connectome.basis.clone())
        };
        // [B, n, 3]: w, I, σ per region.
        let regional = Tensor::stack::<3>(vec![map(0), map(3), map(7)], 2);
        // [B, n, n]: row i is region i's input weights G·C_i·.
        let g = theta.slice([0..b, 6..7]).reshape([b, 1, 1]);
        let gc = g * connectome.coupling.clone().reshape([1, n, n]);
        let pooled = encode_pooled(&self.embed, &self.encoder, regional, gc, mean, inv_std);
        let mut x = activation.apply(self.hidden.forward(pooled));
        if let Some(d) = dropper {
            x = d.apply(x);
        }
        self.head.forward(x)
    }
}
