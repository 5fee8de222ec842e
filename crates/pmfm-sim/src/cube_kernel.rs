//! GPU integration engine: the whole Euler–Maruyama step as one CubeCL kernel, launched once
//! per chunk of steps instead of ~45 tensor operations per step.
//!
//! The tensor engine on a GPU is launch-bound: the reference schedule has 99,401 steps, each a
//! chain of small element-wise kernels and one 68×68 matrix product, so a simulation is
//! millions of kernel launches whatever the batch size. Here one cube (work group) owns a few
//! series for a whole chunk: one unit per region keeps S and the Balloon–Windkessel state
//! (z, f, v, q) in registers, the coupling matrix C and the series' S sit in shared memory, and
//! two cube barriers per step separate the reads of S (for C·S) from its update. BOLD frames of
//! the chunk go to a small buffer the host collects after each launch.
//!
//! Same equations, schedule and noise (the host's ChaCha8 stream, uploaded per chunk) as the
//! CPU engines; tested to agree with the fused CPU engine to f32 precision on wgpu (Mesa's
//! lavapipe on CI). f32 only.

use crate::noise::{F32Chunks, NoiseSource};
use crate::params::RegionalParams;
use crate::simulator::{HostBatch, SimConfig, SimError, StepCoefficients};
use burn::tensor::Device;
use cubecl::prelude::*;

/// Positions of the step's constants in the `consts` buffer (C follows them).
mod slot {
    pub const DT: usize = 0;
    pub const DECAY: usize = 1;
    pub const GAMMA: usize = 2;
    pub const D: usize = 3;
    pub const INV_D: usize = 4;
    pub const THR: usize = 5;
    pub const KAPPA: usize = 6;
    pub const GAMMA_H: usize = 7;
    pub const DT_TAU: usize = 8;
    pub const INV_ALPHA: usize = 9;
    pub const LN_1MRHO: usize = 10;
    pub const INV_RHO: usize = 11;
    pub const K1: usize = 12;
    pub const K2: usize = 13;
    pub const K3: usize = 14;
    pub const SCALE: usize = 15;
    /// Number of constants; C starts here.
    pub const LEN: usize = 16;
}

/// Most Euler steps in one launch. Mesa's lavapipe (the software Vulkan driver CI runs wgpu on)
/// stops a shader's loops after 65,535 iterations in all per invocation, silently: with a
/// rolled 68-iteration coupling loop a launch went wrong after 963 steps. The coupling loop is
/// unrolled, so a launch loops once per step (plus the few iterations that load C).
const MAX_LAUNCH_STEPS: usize = 16_384;

/// Integer schedule of a launch, as one u32 buffer.
mod field {
    /// Global index of the chunk's first step (warm-up included).
    pub const STEP0: usize = 0;
    /// Steps in this launch.
    pub const STEPS: usize = 1;
    /// Series M = n_dup·B.
    pub const SERIES: usize = 2;
    /// Parameter sets B (series m uses noise duplicate m / B).
    pub const SETS: usize = 3;
    pub const WARMUP: usize = 4;
    /// Steps per BOLD sample.
    pub const SPT: usize = 5;
    pub const MAIN_STEPS: usize = 6;
    /// Slots dropped as burn-in.
    pub const DROPPED: usize = 7;
    /// First kept frame this launch writes (frame buffer row 0).
    pub const FRAME0: usize = 8;
    pub const LEN: usize = 9;
}

/// The step's constants (see [`slot`]), read once per launch.
#[derive(CubeType)]
struct StepConsts {
    dt: f32,
    decay: f32,
    gamma: f32,
    d: f32,
    inv_d: f32,
    thr: f32,
    kappa: f32,
    gamma_h: f32,
    dt_tau: f32,
    inv_alpha: f32,
    ln_1mrho: f32,
    inv_rho: f32,
    k1: f32,
    k2: f32,
    k3: f32,
    scale: f32,
}

#[cube]
fn load_consts(consts: &[f32]) -> StepConsts {
    StepConsts {
        dt: consts[slot::DT],
        decay: consts[slot::DECAY],
        gamma: consts[slot::GAMMA],
        d: consts[slot::D],
        inv_d: consts[slot::INV_D],
        thr: consts[slot::THR],
        kappa: consts[slot::KAPPA],
        gamma_h: consts[slot::GAMMA_H],
        dt_tau: consts[slot::DT_TAU],
        inv_alpha: consts[slot::INV_ALPHA],
        ln_1mrho: consts[slot::LN_1MRHO],
        inv_rho: consts[slot::INV_RHO],
        k1: consts[slot::K1],
        k2: consts[slot::K2],
        k3: consts[slot::K3],
        scale: consts[slot::SCALE],
    }
}

/// The launch's schedule (see [`field`]), read once per launch.
#[derive(CubeType)]
struct Schedule {
    step0: u32,
    steps: u32,
    warmup: u32,
    spt: u32,
    main_steps: u32,
    dropped: u32,
    frame0: u32,
}

#[cube]
fn load_schedule(plan: &[u32]) -> Schedule {
    Schedule {
        step0: plan[field::STEP0],
        steps: plan[field::STEPS],
        warmup: plan[field::WARMUP],
        spt: plan[field::SPT],
        main_steps: plan[field::MAIN_STEPS],
        dropped: plan[field::DROPPED],
        frame0: plan[field::FRAME0],
    }
}

/// S after one Euler–Maruyama step of region r, given its coupling input `cs` = Σ_j C[r, j]·S_j
/// and its standard normal `noise`; H(x) = x/(1 − e^(−d·x)) by its Taylor series near 0.
#[allow(clippy::too_many_arguments)]
#[cube]
fn next_s(
    s: f32,
    cs: f32,
    self_gain: f32,
    coupling_gain: f32,
    drive0: f32,
    noise_gain: f32,
    noise: f32,
    k: &StepConsts,
) -> f32 {
    let drive = self_gain * s + coupling_gain * cs + drive0;
    let zz = k.d * drive;
    let near = f32::abs(zz) < k.thr;
    let zs = select(near, k.thr, zz);
    let closed = zs * k.inv_d / (1.0f32 - f32::exp(-zs));
    let series = (1.0f32 + zz * 0.5f32 + zz * zz * (1.0f32 / 12.0f32)
        - zz * zz * zz * zz * (1.0f32 / 720.0f32))
        * k.inv_d;
    let h = select(near, series, closed);
    let ds = k.decay * s + k.gamma * (1.0f32 - s) * h;
    s + k.dt * ds + noise_gain * noise
}

/// BOLD of the Balloon–Windkessel state (q, v): scale·(k1(1 − q) + k2(1 − q/v) + k3(1 − v)).
#[cube]
fn bold_signal(q: f32, v: f32, k: &StepConsts) -> f32 {
    k.scale * (k.k1 * (1.0f32 - q) + k.k2 * (1.0f32 - q / v) + k.k3 * (1.0f32 - v))
}

/// One launch: `steps` Euler–Maruyama steps of every series.
///
/// Buffers (f32 unless noted, row-major):
/// - `state`: [5, M, N] — S, z, f, v, q; read at the start, written back at the end;
/// - `coef`: [3, M, N] then [M] — self gain a·J·w, drive a·I − b, noise gain σ·√(dt/0.001),
///   then the coupling gain a·J·G per series;
/// - `consts`: the [`slot`] constants, then C as [N, N];
/// - `xi`: [steps, n_dup, N] standard normals of this launch;
/// - `plan`: the [`field`] integers (u32);
/// - `frames`: [frames of this launch, M, N] BOLD of the kept slots reached in this launch.
// `is_multiple_of` is not part of the CubeCL language; `%` is.
#[allow(clippy::manual_is_multiple_of)]
#[cube(launch_unchecked)]
fn euler_chunk(
    state: &mut [f32],
    coef: &[f32],
    consts: &[f32],
    xi: &[f32],
    plan: &[u32],
    frames: &mut [f32],
    #[comptime] n: usize,
    #[comptime] per_cube: usize,
) {
    let r = UNIT_POS_X as usize;
    let y = UNIT_POS_Y as usize;
    let n_series = plan[field::SERIES] as usize;
    let n_sets = plan[field::SETS] as usize;
    let m_raw = CUBE_POS * per_cube + y;
    let active = m_raw < n_series;
    // Units past the last series shadow it (they must reach every barrier) but write nothing.
    let m = select(active, m_raw, n_series - 1);
    let dup = m / n_sets;
    let n_dup = n_series / n_sets;
    let mn = n_series * n;
    let e = m * n + r;

    let mut c_sh = Shared::<[f32]>::new_slice(n * n);
    let mut s_sh = Shared::<[f32]>::new_slice(n * per_cube);
    let units = n * per_cube;
    let mut idx = UNIT_POS as usize;
    while idx < n * n {
        c_sh[idx] = consts[slot::LEN + idx];
        idx += units;
    }

    let k = load_consts(consts);
    let self_gain = coef[e];
    let drive0 = coef[mn + e];
    let noise_gain = coef[2 * mn + e];
    let coupling_gain = coef[3 * mn + m];
    let mut s = state[e];
    let mut z = state[mn + e];
    let mut f = state[2 * mn + e];
    let mut v = state[3 * mn + e];
    let mut q = state[4 * mn + e];

    let sched = load_schedule(plan);
    s_sh[y * n + r] = s;
    sync_cube();
    for t in 0..sched.steps {
        // Coupling input of region r: Σ_j C[r, j]·S_j of this series.
        // Unrolled (n is known when the kernel is compiled): see MAX_LAUNCH_STEPS.
        let mut cs = 0.0f32;
        #[unroll]
        for j in 0..n {
            cs += c_sh[r * n + j] * s_sh[y * n + j];
        }
        let noise = xi[(t as usize * n_dup + dup) * n + r];
        s = next_s(
            s,
            cs,
            self_gain,
            coupling_gain,
            drive0,
            noise_gain,
            noise,
            &k,
        );
        // Every unit has read the old S (above) before anyone writes the new one.
        sync_cube();
        s_sh[y * n + r] = s;
        sync_cube();

        let step = sched.step0 + t;
        if step >= sched.warmup {
            let i = step - sched.warmup;
            let v_pow = f32::exp(f32::ln(v) * k.inv_alpha);
            let extraction = 1.0f32 - f32::exp(k.ln_1mrho / f);
            let z_next = z + k.dt * (s - k.kappa * z - k.gamma_h * (f - 1.0f32));
            let f_next = f + k.dt * z;
            let v_next = v + k.dt_tau * (f - v_pow);
            let q_next = q + k.dt_tau * (f * extraction * k.inv_rho - q * v_pow / v);
            z = z_next;
            f = f_next;
            v = v_next;
            q = q_next;
            // SimConfig::kept_frame, in the kernel's language.
            let spt = sched.spt;
            let slot_end = (i + 1) % spt == 0 || i + 1 == sched.main_steps;
            if slot_end && i / spt >= sched.dropped && active {
                let row = (i / spt - sched.dropped - sched.frame0) as usize;
                frames[(row * n_series + m) * n + r] = bold_signal(q, v, &k);
            }
        }
    }
    if active {
        state[e] = s;
        state[mn + e] = z;
        state[2 * mn + e] = f;
        state[3 * mn + e] = v;
        state[4 * mn + e] = q;
    }
}

/// The CubeCL client of a GPU device (wgpu, CUDA), or `None` for CPU backends.
pub(crate) fn cube_client(device: &Device) -> Option<cubecl::client::Client> {
    match device.clone().inner().as_dispatch() {
        burn_dispatch::DispatchDevice::Cube(cube) => Some(cube.client()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// How the series are laid out on the device: `per_cube` series of N units per cube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub per_cube: usize,
}

/// Checks that the kernel fits the device (one unit per region, C in shared memory) and picks
/// the series per cube: as many as fill 256 units.
pub(crate) fn layout(client: &cubecl::client::Client, n: usize) -> Result<Layout, String> {
    let hw = &client.properties().hardware;
    let max_units = (hw.max_units_per_cube as usize).min(hw.max_cube_dim.0 as usize);
    if n > max_units {
        return Err(format!(
            "{n} regions: the GPU kernel needs one unit per region and the device allows {max_units} per cube"
        ));
    }
    let per_cube = (256 / n)
        .clamp(1, (hw.max_units_per_cube as usize / n).max(1))
        .min(hw.max_cube_dim.1 as usize);
    let shared = 4 * (n * n + per_cube * n);
    if shared > hw.max_shared_memory_size {
        return Err(format!(
            "{n} regions: C and S need {shared} bytes of shared memory, the device has {}",
            hw.max_shared_memory_size
        ));
    }
    Ok(Layout { per_cube })
}

/// Kept frames (indices after burn-in) reached in global steps `[step0, step0 + steps)`.
fn frames_in(cfg: &SimConfig, step0: usize, steps: usize) -> std::ops::Range<usize> {
    let mut kept = (step0..step0 + steps).filter_map(|step| cfg.kept_frame(step));
    match kept.next() {
        None => 0..0,
        Some(first) => first..kept.next_back().unwrap_or(first) + 1,
    }
}

/// S, z, f, v, q of every series at the start: S at `s_init`, z = 0, f = v = q = 1 (rest),
/// [5, M, N].
fn initial_state(cfg: &SimConfig, m: usize, n: usize) -> Vec<f32> {
    let mut state = vec![0.0f32; 5 * m * n];
    state[..m * n].fill(cfg.s_init as f32);
    state[2 * m * n..].fill(1.0); // f, v, q at rest; z = 0
    state
}

/// The `coef` buffer: self gain, drive and noise gain [3, M, N], then the coupling gain [M]
/// (series m uses parameter set m mod B).
fn step_coefficients(
    cfg: &SimConfig,
    params: &[RegionalParams],
    n_dup: usize,
    n: usize,
) -> Vec<f32> {
    let b = params.len();
    let m = n_dup * b;
    let mut coef = vec![0.0f32; 3 * m * n + m];
    for (series, p) in (0..m).map(|s| (s, &params[s % b])) {
        for r in 0..n {
            let (e, k) = (series * n + r, StepCoefficients::new(cfg, p, r));
            coef[e] = k.self_gain as f32;
            coef[m * n + e] = k.drive0 as f32;
            coef[2 * m * n + e] = k.noise_gain as f32;
            coef[3 * m * n + series] = k.coupling_gain as f32;
        }
    }
    coef
}

/// The `consts` buffer: the [`slot`] constants, then C [N, N].
fn step_constants(cfg: &SimConfig, coupling: &[f64], n: usize) -> Vec<f32> {
    let (nc, hc) = (&cfg.neural, &cfg.hemo);
    let (k1, k2, k3) = hc.k();
    let mut consts = vec![0.0f32; slot::LEN + n * n];
    for (i, x) in [
        (slot::DT, cfg.dt),
        (slot::DECAY, -1.0 / nc.tau_s),
        (slot::GAMMA, nc.gamma),
        (slot::D, nc.d),
        (slot::INV_D, 1.0 / nc.d),
        (slot::THR, crate::neural::TAYLOR_THRESHOLD),
        (slot::KAPPA, hc.kappa),
        (slot::GAMMA_H, hc.gamma_h),
        (slot::DT_TAU, cfg.dt / hc.tau),
        (slot::INV_ALPHA, 1.0 / hc.alpha),
        (slot::LN_1MRHO, (1.0 - hc.rho).ln()),
        (slot::INV_RHO, 1.0 / hc.rho),
        (slot::K1, k1),
        (slot::K2, k2),
        (slot::K3, k3),
        (slot::SCALE, 100.0 / hc.rho * hc.v0),
    ] {
        consts[i] = x as f32;
    }
    for (dst, &c) in consts[slot::LEN..].iter_mut().zip(coupling) {
        *dst = c as f32;
    }
    consts
}

/// The [`field`] integers of a launch of `k` steps from global step `done`, whose first kept
/// frame is `frame0`.
fn launch_plan(
    cfg: &SimConfig,
    done: usize,
    k: usize,
    m: usize,
    b: usize,
    frame0: usize,
) -> Result<[u32; field::LEN], SimError> {
    let mut plan = [0u32; field::LEN];
    for (i, x) in [
        (field::STEP0, done),
        (field::STEPS, k),
        (field::SERIES, m),
        (field::SETS, b),
        (field::WARMUP, cfg.warmup_steps),
        (field::SPT, cfg.steps_per_tr()),
        (field::MAIN_STEPS, cfg.main_steps()),
        (field::DROPPED, cfg.dropped_slots()),
        (field::FRAME0, frame0),
    ] {
        plan[i] = u32::try_from(x).map_err(|_| {
            SimError::Config(format!(
                "schedule value {x} does not fit the GPU kernel (u32)"
            ))
        })?;
    }
    Ok(plan)
}

/// Copies a launch's frame buffer [kept frames, M, N] into `out` [M, frames, N].
fn copy_frames(
    out: &mut [f32],
    vals: &[f32],
    kept: std::ops::Range<usize>,
    m: usize,
    n: usize,
    n_frames: usize,
) {
    for (row, frame) in kept.enumerate() {
        for series in 0..m {
            let src = &vals[(row * m + series) * n..(row * m + series + 1) * n];
            let dst = (series * n_frames + frame) * n;
            out[dst..dst + n].copy_from_slice(src);
        }
    }
}

/// Runs the whole schedule on the device of `client` and returns BOLD as host values,
/// [series, frames, regions] (series m = d·B + j).
pub(crate) fn simulate_kernel(
    client: &cubecl::client::Client,
    layout: Layout,
    batch: HostBatch,
    noise: &mut dyn NoiseSource,
) -> Result<Vec<f32>, SimError> {
    let (cfg, n, params, n_dup) = (batch.cfg, batch.n, batch.params, batch.n_dup);
    let chunk = batch.chunk.clamp(1, MAX_LAUNCH_STEPS);
    let (b, m) = (params.len(), batch.n_series());
    let cubes = m.div_ceil(layout.per_cube);
    let max_cubes = client.properties().hardware.max_cube_count.0 as usize;
    if cubes > max_cubes {
        return Err(SimError::Config(format!(
            "{m} series need {cubes} work groups; the device allows {max_cubes}: simulate in smaller batches"
        )));
    }

    let state = initial_state(cfg, m, n);
    let coef = step_coefficients(cfg, params, n_dup, n);
    let consts = step_constants(cfg, batch.coupling, n);
    let state_h = client.create_from_slice(f32::as_bytes(&state));
    let coef_h = client.create_from_slice(f32::as_bytes(&coef));
    let consts_h = client.create_from_slice(f32::as_bytes(&consts));
    let n_frames = cfg.n_frames();
    let mut out = vec![0.0f32; m * n_frames * n];
    let total = cfg.warmup_steps + cfg.main_steps();
    let mut chunks = F32Chunks::new(noise, n_dup * n, chunk, total);
    while let Some((done, k, xi)) = chunks.next()? {
        let kept = frames_in(cfg, done, k);
        let rows = kept.len().max(1);
        let plan = launch_plan(cfg, done, k, m, b, kept.start)?;
        let xi_h = client.create_from_slice(f32::as_bytes(xi));
        let plan_h = client.create_from_slice(u32::as_bytes(&plan));
        let frames_h = client.empty(4 * rows * m * n);
        // SAFETY: every index the kernel forms is in bounds for the buffers' sizes above: units
        // past the last series read the last one and write nothing; noise rows t < k; frame rows
        // are the kept frames of this launch (`frames_in`), relative to its first.
        unsafe {
            euler_chunk::launch_unchecked(
                client,
                CubeCount::Static(cubes as u32, 1, 1),
                CubeDim::new_2d(n as u32, layout.per_cube as u32),
                BufferArg::from_raw_parts(state_h.clone(), 5 * m * n),
                BufferArg::from_raw_parts(coef_h.clone(), coef.len()),
                BufferArg::from_raw_parts(consts_h.clone(), consts.len()),
                BufferArg::from_raw_parts(xi_h, k * n_dup * n),
                BufferArg::from_raw_parts(plan_h, field::LEN),
                BufferArg::from_raw_parts(frames_h.clone(), rows * m * n),
                n,
                layout.per_cube,
            );
        }
        if !kept.is_empty() {
            let bytes = client
                .read_one(frames_h)
                .map_err(|e| SimError::Config(format!("GPU kernel failed: {e:?}")))?;
            copy_frames(&mut out, f32::from_bytes(&bytes), kept, m, n, n_frames);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_in_covers_every_kept_frame_once() {
        let cfg = SimConfig {
            warmup_steps: 100,
            duration: 20.0,
            burn_in: 2.0,
            ..SimConfig::default()
        };
        let total = cfg.warmup_steps + cfg.main_steps();
        for chunk in [1, 7, 72, 73, 1000, total] {
            let mut next = 0;
            let mut done = 0;
            while done < total {
                let k = chunk.min(total - done);
                let r = frames_in(&cfg, done, k);
                if !r.is_empty() {
                    assert_eq!(r.start, next, "chunk {chunk} at step {done}");
                    next = r.end;
                }
                done += k;
            }
            assert_eq!(next, cfg.n_frames(), "chunk {chunk}");
        }
    }
}
