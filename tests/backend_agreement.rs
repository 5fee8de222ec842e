//! The CPU (flex) and wgpu backends agree on a short deterministic simulation (σ = 0) to f32
//! precision, and so do the FC and costs computed from it; the cRBM's device PCD runs on wgpu. Needs `--features wgpu` and a
//! Vulkan/Metal/DX12 adapter (on CI: Mesa's lavapipe). Set PMFM_REQUIRE_WGPU=1 to make a
//! missing adapter a failure instead of a skip.

#[cfg(feature = "wgpu")]
#[test]
fn flex_and_wgpu_agree_on_a_deterministic_simulation() {
    use pmfm_sim::noise::ZeroNoise;
    use pmfm_sim::observables::{evaluate, fc_host, Targets};
    use pmfm_sim::params::RegionalParams;
    use pmfm_sim::synthetic::{region_positions, synthetic_maps, synthetic_sc, TRUE_THETA};
    use pmfm_sim::{SimConfig, Simulator};
    use rand::SeedableRng;

    let Some(gpu) = wgpu_or_skip() else {
        return;
    };
    let cpu = experiments::device::select("flex").unwrap();

    let n = 68;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2021);
    let pos = region_positions(n, &mut rng);
    let sc = synthetic_sc(&pos, &mut rng);
    let (m, g) = synthetic_maps(&pos, &mut rng);
    let params: Vec<RegionalParams> = [1.0, 0.9, 1.1]
        .iter()
        .map(|f| {
            let mut t = TRUE_THETA;
            t[6] *= f;
            RegionalParams::from_theta(&t, &m, &g)
        })
        .collect();
    let cfg = SimConfig {
        warmup_steps: 200,
        duration: 60.0,
        burn_in: 5.0,
        ..SimConfig::default()
    };
    let run = |device: &burn::tensor::Device| {
        let sim = Simulator::new(&sc.data, n, cfg, device).unwrap();
        sim.simulate(&params, 1, &mut ZeroNoise).unwrap()
    };
    let a = run(&cpu);
    let b = run(&gpu);
    let va = a.signal.clone().into_data().try_to_vec_as::<f32>().unwrap();
    let vb = b.signal.clone().into_data().try_to_vec_as::<f32>().unwrap();
    assert_eq!(va.len(), vb.len());
    let scale = va.iter().fold(0.0f32, |s, x| s.max(x.abs()));
    let err = va
        .iter()
        .zip(&vb)
        .fold(0.0f32, |s, (x, y)| s.max((x - y).abs()));
    eprintln!(
        "BOLD: max |flex − wgpu| = {err:e} (scale {scale:e}, relative {:e})",
        err / scale
    );
    assert!(
        scale > 0.0 && err <= 1e-4 * scale,
        "BOLD differs: {err} vs scale {scale}"
    );

    let fa = fc_host(a.signal.clone());
    let fb = fc_host(b.signal.clone());
    let fc_err = fa
        .iter()
        .flatten()
        .zip(fb.iter().flatten())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .fold(0.0f64, |s, (x, y)| s.max((x - y).abs()));
    eprintln!("FC: max |flex − wgpu| = {fc_err:e}");
    assert!(fc_err < 1e-3, "FC differs by {fc_err}");

    // Costs against the CPU run's own FC: the GPU run must score ≈ 0 FC cost too.
    let targets = Targets::new(&fa[0], n, vec![1.0; pmfm_sim::observables::FCD_BINS]);
    let ca = evaluate(&a, &targets, 20);
    let cb = evaluate(&b, &targets, 20);
    for (x, y) in ca.iter().zip(&cb) {
        assert!((x.fc - y.fc).abs() < 1e-3, "fc cost {} vs {}", x.fc, y.fc);
        assert!((x.ks - y.ks).abs() < 1e-3, "ks cost {} vs {}", x.ks, y.ks);
    }
}

/// The wgpu device, or None (skip) when no adapter opens and PMFM_REQUIRE_WGPU is not 1.
#[cfg(feature = "wgpu")]
fn wgpu_or_skip() -> Option<burn::tensor::Device> {
    let required = std::env::var("PMFM_REQUIRE_WGPU").is_ok_and(|v| v == "1");
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
