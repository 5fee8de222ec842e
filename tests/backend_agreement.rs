//! The CPU (flex) and wgpu backends agree on a short deterministic simulation (σ = 0) to f32
//! precision, and so do the FC and costs computed from it, for both wgpu engines (tensor
//! operations and the fused CubeCL kernel); with noise, the GPU kernel follows the fused CPU
//! engine step for step; the cRBM's device PCD runs on wgpu. Needs `--features wgpu` and a
//! Vulkan/Metal/DX12 adapter (on CI: Mesa's lavapipe). Set PMFM_REQUIRE_WGPU=1 to make a
//! missing adapter a failure instead of a skip.

/// 68 synthetic regions and `k` parameter sets around the synthetic truth (G scaled).
#[cfg(feature = "wgpu")]
fn synthetic_problem(k: usize) -> (Vec<f64>, Vec<pmfm_sim::RegionalParams>) {
    use pmfm_sim::params::RegionalParams;
    use pmfm_sim::synthetic::{region_positions, synthetic_maps, synthetic_sc, TRUE_THETA};
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2021);
    let pos = region_positions(68, &mut rng);
    let sc = synthetic_sc(&pos, &mut rng);
    let (m, g) = synthetic_maps(&pos, &mut rng);
    let params = (0..k)
        .map(|j| {
            let mut t = TRUE_THETA;
            t[6] *= 0.9 + 0.2 * j as f64 / k.max(2).saturating_sub(1) as f64;
            RegionalParams::from_theta(&t, &m, &g)
        })
        .collect();
    (sc.data, params)
}

/// Largest |a − b| over the largest |a|, and that scale.
#[cfg(feature = "wgpu")]
fn relative_gap(a: &burn::tensor::Tensor<3>, b: &burn::tensor::Tensor<3>) -> (f32, f32) {
    let va = a.clone().into_data().try_to_vec_as::<f32>().unwrap();
    let vb = b.clone().into_data().try_to_vec_as::<f32>().unwrap();
    assert_eq!(va.len(), vb.len());
    let scale = va.iter().fold(0.0f32, |s, x| s.max(x.abs()));
    let err = va
        .iter()
        .zip(&vb)
        .fold(0.0f32, |s, (x, y)| s.max((x - y).abs()));
    assert!(scale > 0.0 && err.is_finite(), "scale {scale}, gap {err}");
    (err / scale, scale)
}

#[cfg(feature = "wgpu")]
#[test]
fn flex_and_wgpu_agree_on_a_deterministic_simulation() {
    use pmfm_sim::noise::ZeroNoise;
    use pmfm_sim::observables::{evaluate, fc_host, Targets};
    use pmfm_sim::{Engine, SimConfig, Simulator};

    let Some(gpu) = wgpu_or_skip() else {
        return;
    };
    let cpu = experiments::device::select("flex").unwrap();
    let n = 68;
    let (sc, params) = synthetic_problem(3);
    let cfg = SimConfig {
        warmup_steps: 200,
        duration: 60.0,
        burn_in: 5.0,
        ..SimConfig::default()
    };
    let run = |device: &burn::tensor::Device, engine: Engine| {
        let sim = Simulator::new(&sc, n, SimConfig { engine, ..cfg }, device).unwrap();
        sim.simulate(&params, 1, &mut ZeroNoise).unwrap()
    };
    let a = run(&cpu, Engine::Auto);
    // Auto on a GPU device is the kernel engine.
    let auto = Simulator::new(&sc, n, cfg, &gpu).unwrap();
    assert_eq!(auto.engine(), Engine::Kernel);
    for engine in [Engine::Tensor, Engine::Kernel] {
        let b = run(&gpu, engine);
        let (rel, scale) = relative_gap(&a.signal, &b.signal);
        eprintln!("BOLD: max |flex − wgpu {engine:?}| = {rel:e} relative (scale {scale:e})");
        assert!(rel <= 1e-4, "{engine:?}: BOLD differs by {rel} relative");

        let fa = fc_host(a.signal.clone());
        let fb = fc_host(b.signal.clone());
        let fc_err = fa
            .iter()
            .flatten()
            .zip(fb.iter().flatten())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .fold(0.0f64, |s, (x, y)| s.max((x - y).abs()));
        eprintln!("FC: max |flex − wgpu {engine:?}| = {fc_err:e}");
        assert!(fc_err < 1e-3, "{engine:?}: FC differs by {fc_err}");

        // Costs against the CPU run's own FC: the GPU run must score ≈ 0 FC cost too.
        let targets = Targets::new(&fa[0], n, vec![1.0; pmfm_sim::observables::FCD_BINS]);
        let ca = evaluate(&a, &targets, 20);
        let cb = evaluate(&b, &targets, 20);
        for (x, y) in ca.iter().zip(&cb) {
            assert!((x.fc - y.fc).abs() < 1e-3, "fc cost {} vs {}", x.fc, y.fc);
            assert!((x.ks - y.ks).abs() < 1e-3, "ks cost {} vs {}", x.ks, y.ks);
        }
    }
}

/// With noise, duplicates and a batch that does not fill the last work group, the GPU kernel
/// integrates the same paths as the fused CPU engine (same noise stream, frames collected across
/// launches), and different seeds give different paths (the noise really enters).
#[cfg(feature = "wgpu")]
#[test]
fn gpu_kernel_follows_the_fused_cpu_engine_with_noise() {
    use pmfm_sim::noise::SeededNoise;
    use pmfm_sim::{Engine, SimConfig, Simulator};

    let Some(gpu) = wgpu_or_skip() else {
        return;
    };
    let cpu = experiments::device::select("flex").unwrap();
    let n = 68;
    let (sc, params) = synthetic_problem(5);
    let cfg = SimConfig {
        warmup_steps: 150,
        duration: 30.0,
        burn_in: 3.0,
        ..SimConfig::default()
    };
    let run = |device: &burn::tensor::Device, engine: Engine, seed: u64| {
        let sim = Simulator::new(&sc, n, SimConfig { engine, ..cfg }, device).unwrap();
        assert_eq!(sim.engine(), engine);
        // 5 sets × 3 duplicates = 15 series: the last work group is partly idle.
        let bold = sim
            .simulate(&params, 3, &mut SeededNoise::new(seed))
            .unwrap();
        assert_eq!(bold.signal.dims(), [15, cfg.n_frames(), n]);
        bold.signal
    };
    let fused = run(&cpu, Engine::Fused, 4);
    let kernel = run(&gpu, Engine::Kernel, 4);
    let (rel, scale) = relative_gap(&fused, &kernel);
    eprintln!("noisy BOLD: max |fused CPU − GPU kernel| = {rel:e} relative (scale {scale:e})");
    assert!(
        rel < 2e-4,
        "GPU kernel differs from the fused engine by {rel} relative"
    );
    let other = run(&gpu, Engine::Kernel, 5);
    let (rel_seed, _) = relative_gap(&kernel, &other);
    assert!(
        rel_seed > 1e-2,
        "another seed moved BOLD by only {rel_seed}"
    );
}

/// The full reference schedule (1000 + 98,401 steps: 100 launches, 1200 frames) with noise: the
/// GPU kernel's BOLD and FC stay with the fused CPU engine's (measured: 2.1e-6 relative in BOLD,
/// 2.2e-5 in FC).
#[cfg(feature = "wgpu")]
#[test]
fn gpu_kernel_matches_the_fused_engine_over_the_reference_schedule() {
    use pmfm_sim::noise::SeededNoise;
    use pmfm_sim::observables::fc_host;
    use pmfm_sim::{Engine, SimConfig, Simulator};

    let Some(gpu) = wgpu_or_skip() else {
        return;
    };
    let cpu = experiments::device::select("flex").unwrap();
    let (sc, params) = synthetic_problem(4);
    let run = |device: &burn::tensor::Device, engine: Engine| {
        let cfg = SimConfig {
            engine,
            ..SimConfig::default()
        };
        let sim = Simulator::new(&sc, 68, cfg, device).unwrap();
        let bold = sim.simulate(&params, 1, &mut SeededNoise::new(3)).unwrap();
        assert_eq!(bold.signal.dims(), [4, 1200, 68]);
        bold.signal
    };
    let fused = run(&cpu, Engine::Fused);
    let kernel = run(&gpu, Engine::Kernel);
    let (rel, _) = relative_gap(&fused, &kernel);
    eprintln!("reference schedule: BOLD max |fused CPU − GPU kernel| = {rel:e} relative");
    assert!(rel < 1e-4, "BOLD differs by {rel} relative");
    for (a, b) in fc_host(fused).iter().zip(&fc_host(kernel)) {
        let gap = a
            .iter()
            .zip(b)
            .fold(0.0f64, |s, (x, y)| s.max((x - y).abs()));
        assert!(gap < 1e-3, "FC differs by {gap}");
    }
}

/// Whether a Vulkan driver (an ICD manifest) is installed. Without one, wgpu on Linux falls back
/// to a GL adapter on which these tests run for many minutes instead of seconds.
#[cfg(feature = "wgpu")]
fn vulkan_driver_installed() -> bool {
    if !cfg!(target_os = "linux") || std::env::var_os("VK_ICD_FILENAMES").is_some() {
        return true;
    }
    [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ]
    .iter()
    .filter_map(|d| std::fs::read_dir(d).ok())
    .flatten()
    .flatten()
    .any(|e| e.path().extension().is_some_and(|x| x == "json"))
}

/// The wgpu device, or None (skip) when no adapter opens — or only a non-Vulkan fallback would —
/// and PMFM_REQUIRE_WGPU is not 1.
#[cfg(feature = "wgpu")]
fn wgpu_or_skip() -> Option<burn::tensor::Device> {
    let required = std::env::var("PMFM_REQUIRE_WGPU").is_ok_and(|v| v == "1");
    if !vulkan_driver_installed() {
        let why = "no Vulkan driver installed (no ICD in /usr/share/vulkan/icd.d): wgpu would fall back to a slow non-Vulkan adapter; install mesa-vulkan-drivers";
        assert!(!required, "PMFM_REQUIRE_WGPU=1 but {why}");
        eprintln!("skipped: {why} (or set PMFM_REQUIRE_WGPU=1 to fail)");
        return None;
    }
    match std::panic::catch_unwind(|| {
        let d = experiments::device::select("wgpu").unwrap();
        let _ = burn::tensor::Tensor::<1>::zeros([1], &d).into_data();
        d
    }) {
        Ok(d) => Some(d),
        Err(_) if !required => {
            eprintln!("skipped: no wgpu adapter (install mesa-vulkan-drivers, or set PMFM_REQUIRE_WGPU=1 to fail)");
            None
        }
        Err(_) => panic!("PMFM_REQUIRE_WGPU=1 but no wgpu adapter could be opened"),
    }
}

/// cRBM on wgpu: the PCD gradient computed with device tensors equals the host (f64) sufficient
/// statistics, and device PCD training raises the exact log-likelihood of a tiny model (the
/// same checks as crbm's flex tests, `crbm::tensor_train::{gradient_error_vs_host,
/// training_gain}`).
#[cfg(feature = "wgpu")]
#[test]
fn crbm_pcd_on_wgpu_matches_host_gradient_and_learns() {
    use crbm::tensor_train::{
        check_config, gradient_error_vs_host, teacher_samples, training_gain,
    };

    let Some(gpu) = wgpu_or_skip() else {
        return;
    };
    let worst = gradient_error_vs_host(&gpu);
    eprintln!("cRBM PCD gradient: max relative |wgpu − host f64| = {worst:e}");
    assert!(
        worst < 2e-4,
        "wgpu gradient differs from the host by {worst}"
    );

    // Lavapipe runs each op on the CPU, so training is short here (150 updates gave +0.042);
    // the flex test in crbm trains 400 updates and asserts more.
    let data = teacher_samples(&gpu);
    let (ll0, ll1, report) = training_gain(&gpu, &data, check_config(100, 2, 2e-2)).unwrap();
    assert!(report.exploded.is_none(), "{report:?}");
    eprintln!("cRBM device PCD on wgpu: exact log-likelihood {ll0:.4} → {ll1:.4}");
    assert!(ll1 > ll0 + 0.01, "{ll0} → {ll1}");
}
