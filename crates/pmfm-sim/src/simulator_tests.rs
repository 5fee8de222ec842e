use super::*;
use crate::hemodynamics::HemoState;
use crate::neural::{ds_dt, input_current};
use crate::noise::{SeededNoise, ZeroNoise};
use burn::tensor::Device;

/// A short schedule for tests: 20 s main loop, 2 s burn-in.
fn short(precision: Precision) -> SimConfig {
    SimConfig {
        warmup_steps: 100,
        duration: 20.0,
        burn_in: 2.0,
        precision,
        ..SimConfig::default()
    }
}

fn toy_sc(n: usize) -> Vec<f64> {
    let mut sc = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                sc[i * n + j] = 100.0 + ((i * 7 + j * 7) % 13) as f64 * 50.0;
            }
        }
    }
    sc
}

/// The BOLD values of `params` × `n_dup` duplicates with seeded noise, in the simulator's
/// precision `E`.
fn seeded_bold<E: burn::tensor::Element>(
    sim: &Simulator,
    params: &[RegionalParams],
    n_dup: usize,
    seed: u64,
) -> Vec<E> {
    sim.simulate(params, n_dup, &mut SeededNoise::new(seed))
        .unwrap()
        .signal
        .into_data()
        .try_to_vec::<E>()
        .unwrap()
}

fn toy_params(n: usize, shift: f64) -> RegionalParams {
    RegionalParams {
        w: (0..n).map(|r| 0.5 + 0.03 * r as f64 + shift).collect(),
        i: (0..n).map(|r| 0.29 + 0.005 * r as f64).collect(),
        sigma: (0..n).map(|r| 0.004 + 0.0005 * r as f64).collect(),
        g: 5.0 + 10.0 * shift,
    }
}

/// Straightforward scalar implementation of the spec, one series at a time.
fn scalar_bold(
    cfg: &SimConfig,
    sc: &[f64],
    p: &RegionalParams,
    noise: &[f64],
    n_dup: usize,
    d: usize,
) -> Vec<Vec<f64>> {
    let n = p.w.len();
    let c = crate::coupling::coupling_matrix(sc).unwrap();
    let mut s = vec![cfg.s_init; n];
    let mut hemo = vec![HemoState::REST; n];
    let mut frames = Vec::new();
    let total = cfg.warmup_steps + cfg.main_steps();
    for step in 0..total {
        let xi = &noise[(step * n_dup + d) * n..(step * n_dup + d + 1) * n];
        let next: Vec<f64> = (0..n)
            .map(|i| {
                let cs: f64 = (0..n).map(|j| c[i * n + j] * s[j]).sum();
                let x = input_current(s[i], cs, p.w[i], p.g, p.i[i], &cfg.neural);
                s[i] + cfg.dt * ds_dt(s[i], x, &cfg.neural)
                    + p.sigma[i] / 0.001f64.sqrt() * cfg.dt.sqrt() * xi[i]
            })
            .collect();
        s = next;
        if step >= cfg.warmup_steps {
            let i = step - cfg.warmup_steps;
            for r in 0..n {
                hemo[r] = hemo[r].euler_step(s[r], cfg.dt, &cfg.hemo);
            }
            let spt = cfg.steps_per_tr();
            if ((i + 1) % spt == 0 || i + 1 == cfg.main_steps()) && i / spt >= cfg.dropped_slots() {
                frames.push(hemo.iter().map(|h| h.bold(&cfg.hemo)).collect());
            }
        }
    }
    frames
}

#[test]
fn reference_schedule_has_1367_slots_and_1200_frames() {
    let cfg = SimConfig::default();
    assert_eq!(cfg.main_steps(), 98_401);
    assert_eq!(cfg.steps_per_tr(), 72);
    assert_eq!(cfg.n_slots(), 1367);
    assert_eq!(cfg.dropped_slots(), 167);
    assert_eq!(cfg.n_frames(), 1200);
    assert!(cfg.validate().is_ok());
    let bad = SimConfig { tr: 0.725, ..cfg };
    assert!(matches!(
        bad.validate(),
        Err(SimError::Schedule { field: "tr", .. })
    ));
}

/// Every schedule that would overflow the step count, exhaust memory or divide by nothing is
/// refused by `validate`, naming the field; the FCD window must satisfy 2 ≤ window < frames.
#[test]
fn validate_refuses_unbounded_schedules_and_windows_that_do_not_fit() {
    let cfg = SimConfig::default();
    let field = |c: SimConfig| match c.validate() {
        Err(SimError::Schedule { field, .. }) => field,
        other => panic!("{c:?}: {other:?}"),
    };
    assert_eq!(
        field(SimConfig {
            duration: f64::INFINITY,
            ..cfg
        }),
        "duration"
    );
    assert_eq!(
        field(SimConfig {
            duration: f64::NAN,
            ..cfg
        }),
        "duration"
    );
    assert_eq!(
        field(SimConfig {
            duration: 1e15,
            ..cfg
        }),
        "duration"
    );
    assert_eq!(
        field(SimConfig {
            duration: 0.0,
            ..cfg
        }),
        "duration"
    );
    assert_eq!(field(SimConfig { dt: 1e-12, ..cfg }), "dt");
    assert_eq!(field(SimConfig { dt: 0.0, ..cfg }), "dt");
    assert_eq!(field(SimConfig { dt: -0.01, ..cfg }), "dt");
    assert_eq!(
        field(SimConfig {
            tr: f64::INFINITY,
            ..cfg
        }),
        "tr"
    );
    assert_eq!(
        field(SimConfig {
            tr: f64::NAN,
            ..cfg
        }),
        "tr"
    );
    assert_eq!(
        field(SimConfig {
            burn_in: 984.0,
            ..cfg
        }),
        "burn_in"
    );
    assert_eq!(
        field(SimConfig {
            burn_in: -1.0,
            ..cfg
        }),
        "burn_in"
    );
    assert_eq!(
        field(SimConfig {
            warmup_steps: usize::MAX,
            ..cfg
        }),
        "warmup_steps"
    );
    // 10⁸ steps would be allowed, but not 30,000 frames.
    assert_eq!(
        field(SimConfig {
            duration: 21_744.0,
            ..cfg
        }),
        "duration"
    );
    assert!(SimConfig {
        duration: 14_000.0,
        ..cfg
    }
    .validate()
    .is_ok());

    assert_eq!(cfg.n_frames(), 1200);
    for w in [2, 83, 1199] {
        assert!(cfg.validate_fcd_window(w).is_ok(), "{w}");
    }
    for w in [0, 1, 1200, 5000] {
        assert!(
            matches!(
                cfg.validate_fcd_window(w),
                Err(SimError::FcdWindow { window, frames: 1200 }) if window == w
            ),
            "{w}"
        );
    }
}

/// A batch whose BOLD would exceed the memory cap is refused before anything is allocated.
#[test]
fn batches_over_the_bold_memory_cap_are_refused() {
    let n = 4;
    let sim = Simulator::new(&toy_sc(n), n, short(Precision::F32), &Device::flex()).unwrap();
    let err = sim
        .simulate(&[toy_params(n, 0.0)], 1 << 40, &mut ZeroNoise)
        .err()
        .expect("a 2^40-duplicate batch must be refused");
    assert!(matches!(err, SimError::TooLarge { .. }), "{err}");
}

#[test]
fn batched_tensor_simulation_matches_scalar_reference() {
    let n = 4;
    let cfg = short(Precision::F64);
    let sc = toy_sc(n);
    let params = vec![toy_params(n, 0.0), toy_params(n, 0.05)];
    let n_dup = 2;
    let device = Device::flex();
    let sim = Simulator::new(&sc, n, cfg, &device).unwrap();
    let total = sim.total_steps();
    let mut noise = vec![0.0; total * n_dup * n];
    SeededNoise::new(11).fill(&mut noise, total).unwrap();
    let bold = sim
        .simulate(&params, n_dup, &mut SeededNoise::new(11))
        .unwrap();
    let [series, frames, regions] = bold.signal.dims();
    assert_eq!((series, frames, regions), (4, cfg.n_frames(), n));
    let got = bold.signal.into_data().try_to_vec::<f64>().unwrap();
    for d in 0..n_dup {
        for (j, p) in params.iter().enumerate() {
            let m = d * params.len() + j;
            let want = scalar_bold(&cfg, &sc, p, &noise, n_dup, d);
            assert_eq!(want.len(), frames);
            for t in 0..frames {
                for r in 0..n {
                    let g = got[(m * frames + t) * n + r];
                    assert!(
                        (g - want[t][r]).abs() < 1e-10 * want[t][r].abs().max(1e-3),
                        "series {m} frame {t} region {r}: {g} vs {}",
                        want[t][r]
                    );
                }
            }
        }
    }
}

#[test]
fn duplicates_share_noise_across_parameter_sets() {
    // Series (d, j) depends only on θ_j and duplicate d's noise: simulating a subset of the
    // population reproduces the same series.
    let n = 3;
    let cfg = short(Precision::F64);
    let device = Device::flex();
    let sim = Simulator::new(&toy_sc(n), n, cfg, &device).unwrap();
    let (a, b) = (toy_params(n, 0.0), toy_params(n, 0.04));
    let both = sim
        .simulate(&[a, b.clone()], 2, &mut SeededNoise::new(5))
        .unwrap()
        .signal;
    let alone = sim
        .simulate(&[b], 2, &mut SeededNoise::new(5))
        .unwrap()
        .signal;
    let [_, t, _] = both.dims();
    for d in 0..2 {
        let x = both.clone().slice([2 * d + 1..2 * d + 2, 0..t, 0..n]);
        let y = alone.clone().slice([d..d + 1, 0..t, 0..n]);
        let diff: f64 = (x - y).abs().max().into_scalar();
        assert!(diff < 1e-14, "duplicate {d}: {diff}");
    }
}

#[test]
fn noise_free_uncoupled_dynamics_reach_the_analytic_fixed_point() {
    // With σ = 0 and G = 0 each region relaxes to the root of
    // f(S) = −S/τ + γ(1 − S)H(J·w·S + I), found here by bisection.
    let n = 3;
    let cfg = SimConfig {
        precision: Precision::F64,
        ..SimConfig::default()
    };
    let device = Device::flex();
    let sim = Simulator::new(&toy_sc(n), n, cfg, &device).unwrap();
    let mut p = toy_params(n, 0.0);
    p.g = 0.0;
    p.sigma = vec![0.0; n];
    let s = sim
        .neural_state_after(&[p.clone()], 1, &mut ZeroNoise, 5000)
        .unwrap();
    let s = s.into_data().try_to_vec::<f64>().unwrap();
    for r in 0..n {
        let f = |x: f64| {
            ds_dt(
                x,
                input_current(x, 0.0, p.w[r], 0.0, p.i[r], &cfg.neural),
                &cfg.neural,
            )
        };
        let (mut lo, mut hi) = (0.0, 1.0);
        assert!(f(lo) > 0.0 && f(hi) < 0.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > 0.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        assert!(
            (s[r] - lo).abs() < 1e-9,
            "region {r}: {} vs root {lo}",
            s[r]
        );
    }
}

#[test]
fn zero_sigma_is_deterministic_whatever_the_seed() {
    let n = 3;
    let cfg = short(Precision::F32);
    let device = Device::flex();
    let sim = Simulator::new(&toy_sc(n), n, cfg, &device).unwrap();
    let mut p = toy_params(n, 0.0);
    p.sigma = vec![0.0; n];
    let p = [p];
    assert_eq!(
        seeded_bold::<f32>(&sim, &p, 1, 1),
        seeded_bold::<f32>(&sim, &p, 1, 2)
    );
}

#[test]
fn same_seed_same_result_and_f32_tracks_f64() {
    let n = 4;
    let device = Device::flex();
    let p = [toy_params(n, 0.02)];
    let s32 = Simulator::new(&toy_sc(n), n, short(Precision::F32), &device).unwrap();
    let a = seeded_bold::<f32>(&s32, &p, 1, 3);
    let b = seeded_bold::<f32>(&s32, &p, 1, 3);
    assert_eq!(a, b);
    let s64 = Simulator::new(&toy_sc(n), n, short(Precision::F64), &device).unwrap();
    let c = seeded_bold::<f64>(&s64, &p, 1, 3);
    let scale = c.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let err = a
        .iter()
        .zip(&c)
        .fold(0.0f64, |m, (x, y)| m.max((*x as f64 - y).abs()));
    assert!(err < 1e-3 * scale, "f32 vs f64: {err} (scale {scale})");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let device = Device::flex();
    assert!(matches!(
        Simulator::new(&[0.0; 9], 3, short(Precision::F32), &device),
        Err(SimError::Input(_))
    ));
    assert!(matches!(
        Simulator::new(&[1.0; 8], 3, short(Precision::F32), &device),
        Err(SimError::Input(_))
    ));
    let sim = Simulator::new(&toy_sc(3), 3, short(Precision::F32), &device).unwrap();
    assert!(sim
        .simulate(&[toy_params(4, 0.0)], 1, &mut ZeroNoise)
        .is_err());
    assert!(sim.simulate(&[], 1, &mut ZeroNoise).is_err());
}

#[test]
fn fused_cpu_engine_matches_tensor_engine() {
    let n = 6;
    let device = Device::flex();
    let params: Vec<RegionalParams> = (0..5).map(|k| toy_params(n, 0.01 * k as f64)).collect();
    let run = |engine: Engine| {
        let cfg = SimConfig {
            engine,
            ..short(Precision::F32)
        };
        let sim = Simulator::new(&toy_sc(n), n, cfg, &device).unwrap();
        assert_eq!(sim.engine(), engine);
        seeded_bold::<f32>(&sim, &params, 3, 9)
    };
    let fused = run(Engine::Fused);
    let tensor = run(Engine::Tensor);
    assert_eq!(fused.len(), tensor.len());
    let scale = tensor.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let err = fused
        .iter()
        .zip(&tensor)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 2e-4 * scale, "fused vs tensor: {err} (scale {scale})");
    // Auto picks the fused engine for f32 on the CPU.
    let auto = Simulator::new(&toy_sc(n), n, short(Precision::F32), &device).unwrap();
    assert_eq!(auto.engine(), Engine::Fused);
    let f64_sim = Simulator::new(&toy_sc(n), n, short(Precision::F64), &device).unwrap();
    assert_eq!(f64_sim.engine(), Engine::Tensor);
}

/// The fused engine's AVX-512, AVX2 and portable builds of the Euler step (whichever this CPU
/// has) give the same bits: the step has no contracted multiply-adds and fixed summation orders.
#[test]
fn every_build_of_the_fused_step_gives_the_same_bits() {
    use crate::fused::simulate_fused_with;
    use machine::{CpuFeatures, SimdBuild};
    let n = 6;
    let sim = Simulator::new(&toy_sc(n), n, short(Precision::F32), &Device::flex()).unwrap();
    let params: Vec<RegionalParams> = (0..5).map(|k| toy_params(n, 0.01 * k as f64)).collect();
    let run = |build: SimdBuild| {
        let batch = HostBatch {
            cfg: &sim.config,
            coupling: &sim.coupling_host,
            n,
            params: &params,
            n_dup: 3,
            chunk: chunk_steps(n, 3),
        };
        simulate_fused_with(batch, &mut SeededNoise::new(9), build).unwrap()
    };
    let portable = run(SimdBuild::Portable);
    assert!(portable.iter().all(|x| x.is_finite()) && portable.len() > 1000);
    let builds = CpuFeatures::detect().runnable_builds();
    for build in builds.into_iter().filter(|b| *b != SimdBuild::Portable) {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        assert!(
            bits(&run(build)) == bits(&portable),
            "{build:?} differs from portable"
        );
    }
}

#[test]
fn noise_from_a_npy_file_reproduces_the_seeded_run_step_by_step() {
    use crate::data::write_npy_f64;
    use crate::noise::{FileNoise, NoiseError};
    let n = 4;
    let n_dup = 2;
    let device = Device::flex();
    let sim = Simulator::new(&toy_sc(n), n, short(Precision::F64), &device).unwrap();
    let total = sim.total_steps();
    let mut noise = vec![0.0; total * n_dup * n];
    SeededNoise::new(21).fill(&mut noise, total).unwrap();
    let dir = std::env::temp_dir().join(format!("pmfm-noise-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("noise.npy");
    write_npy_f64(&path, &[total, n_dup, n], &noise).unwrap();
    let p = [toy_params(n, 0.0)];
    let from_file = sim
        .simulate(
            &p,
            n_dup,
            &mut FileNoise::open(&path, total, n_dup, n).unwrap(),
        )
        .unwrap();
    let seeded = sim.simulate(&p, n_dup, &mut SeededNoise::new(21)).unwrap();
    assert_eq!(
        from_file.signal.into_data().try_to_vec::<f64>().unwrap(),
        seeded.signal.into_data().try_to_vec::<f64>().unwrap()
    );
    // Too few steps, or the wrong number of regions, is a clear error naming the file.
    let short_path = dir.join("short.npy");
    write_npy_f64(&short_path, &[10, n_dup, n], &noise[..10 * n_dup * n]).unwrap();
    let err = FileNoise::open(&short_path, total, n_dup, n).err().unwrap();
    assert!(matches!(err, NoiseError::Shape { .. }));
    assert!(err.to_string().contains("short.npy"), "{err}");
}

#[test]
fn gpu_kernel_engine_refuses_cpu_devices_and_f64() {
    let n = 4;
    let kernel = |precision| SimConfig {
        engine: Engine::Kernel,
        ..short(precision)
    };
    let err = Simulator::new(&toy_sc(n), n, kernel(Precision::F32), &Device::flex())
        .err()
        .expect("the kernel engine on the CPU device must be refused");
    assert!(matches!(err, SimError::Config(_)), "{err}");
    assert!(err.to_string().contains("GPU"), "{err}");
    let err = kernel(Precision::F64).validate().unwrap_err();
    assert!(err.to_string().contains("f32"), "{err}");
}

#[test]
fn kept_frames_are_the_reference_slots_after_burn_in() {
    let cfg = SimConfig::default();
    let kept: Vec<(usize, usize)> = (0..cfg.warmup_steps + cfg.main_steps())
        .filter_map(|step| cfg.kept_frame(step).map(|f| (step, f)))
        .collect();
    assert_eq!(kept.len(), 1200);
    // Frames are numbered in order, without gaps.
    assert!(kept.iter().enumerate().all(|(k, &(_, f))| f == k));
    // Slot 167 (the first kept) ends after main-loop step 72·168 − 1; the last slot after the
    // final step.
    assert_eq!(kept[0].0, cfg.warmup_steps + 72 * 168 - 1);
    assert_eq!(kept[1].0 - kept[0].0, 72);
    assert_eq!(kept[1199].0, cfg.warmup_steps + cfg.main_steps() - 1);
    assert_eq!(cfg.kept_frame(cfg.warmup_steps - 1), None);
}
