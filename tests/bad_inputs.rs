//! The bad-input corpus: every binary, given a bad setting or a truncated / garbage file for each
//! loader (.npy, .npz, .csv, .mat, .h5, .json, .toml, Parquet), exits with code 1 (not 101, a
//! panic), prints exactly one line starting with `error:` that names the culprit, and never
//! `panicked`. Schedules are tiny and the data directory has 6 regions, so each case fails at
//! validation or loading in well under a second; none may start a long simulation.

mod common;

use std::path::{Path, PathBuf};

use common::files::{h5_fixture, npy_f64, samples, write, write_data_dir};
use common::{
    bin, error_problem, tmp_dir, SHORT_60 as SHORT, SHORT_60_FRAMES as SHORT_FRAMES, THETA6,
};

/// One bad invocation: the binary, its arguments, and a word the error line must contain.
struct Case {
    what: String,
    bin: &'static str,
    args: Vec<String>,
    needle: String,
}

fn tmp(name: &str) -> PathBuf {
    tmp_dir("bad-inputs", name)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A copy of the good data directory with `file` replaced by `bytes` (and `remove` deleted).
fn broken_data_dir(base: &Path, name: &str, remove: &[&str], file: &str, bytes: &[u8]) -> PathBuf {
    let d = base.join(name);
    write_data_dir(&d, 6);
    for r in remove {
        std::fs::remove_file(d.join(r)).unwrap();
    }
    write(&d, file, bytes);
    d
}

/// The corpus, built in `dir`.
fn corpus(dir: &Path) -> Vec<Case> {
    let data = dir.join("data");
    write_data_dir(&data, 6);
    let out = s(&dir.join("out"));
    let mut cases = Vec::new();
    let mut add = |what: &str, bin: &'static str, args: Vec<String>, needle: &str| {
        cases.push(Case {
            what: what.into(),
            bin,
            args,
            needle: needle.into(),
        })
    };
    let v = |xs: &[&str]| -> Vec<String> { xs.iter().map(|x| x.to_string()).collect() };
    // `bin --data DATA [SHORT with overrides] extra`: later flags override SHORT's.
    let on_data = |extra: &[&str]| -> Vec<String> {
        let mut a = v(&["--data", data.to_str().unwrap()]);
        a.extend(v(&SHORT));
        a.extend(v(extra));
        a
    };
    let simulate = |extra: &[&str]| -> Vec<String> {
        let mut a = on_data(&["--theta", THETA6, "--n-dup", "1"]);
        a.extend(v(&["--out", &out]));
        a.extend(v(extra));
        a
    };

    // Files: garbage and truncated, one per loader.
    let garbage_csv = write(dir, "garbage.csv", b"w0,wm\n\x00\x01 not, numbers\n");
    let npy_good = npy_f64(&[SHORT_FRAMES, 6, 1], &vec![0.5; SHORT_FRAMES * 6]);
    let trunc_npy = write(dir, "trunc.npy", &npy_good[..npy_good.len() / 2]);
    let garbage_npy = write(dir, "garbage.npy", b"this is not a numpy file at all\n");
    let short_bold = write(dir, "short_bold.npy", &npy_f64(&[10, 6, 1], &[0.5; 60]));
    let flat_bold = write(dir, "flat_bold.npy", &npy_f64(&[60], &[0.5; 60]));
    let garbage_npz = write(dir, "garbage.npz", b"PK\x03\x04 truncated zip archive");
    let garbage_h5 = write(dir, "garbage.h5", b"\x89HDF\r\n\x1a\n then nothing useful");
    let fixture = h5_fixture();
    let h5 = std::fs::read(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let trunc_h5 = write(dir, "trunc.h5", &h5[..h5.len() / 3]);
    let garbage_parquet = write(dir, "garbage.parquet", b"PAR1 this is no parquet PAR1");
    let parquet = parquet_bytes();
    let trunc_parquet = write(dir, "trunc.parquet", &parquet[..parquet.len() / 2]);
    let garbage_toml = write(dir, "garbage.toml", b"[data\nraster = = \"x\"\n\x00");
    let model_dir = dir.join("model");
    std::fs::create_dir_all(&model_dir).unwrap();
    write(
        &model_dir,
        "ensemble.json",
        b"{\"format\": \"brainfit-surrogate-ens",
    );
    let mut mat = b"MATLAB 5.0 MAT-file, Platform: GLNXA64".to_vec();
    mat.resize(116, b' ');
    mat.extend_from_slice(&[0; 8]);
    mat.extend_from_slice(&[0x00, 0x01, b'I', b'M']);
    mat.extend_from_slice(&[14, 0, 0, 0, 0x00, 0x10, 0, 0, 6, 0]); // a miMATRIX tag, cut short
    let (sp, tr, gb) = (s(&trunc_npy), s(&trunc_h5), s(&garbage_npy));

    // simulate: schedule and FCD window (checked before anything is simulated).
    let frames = SHORT_FRAMES.to_string();
    for (w, why) in [
        ("500", "window > frames"),
        ("0", "window 0"),
        ("1", "window 1"),
    ] {
        add(
            why,
            "simulate",
            simulate(&["--fcd-window", w]),
            "--fcd-window",
        );
    }
    add(
        "window = frames",
        "simulate",
        simulate(&["--fcd-window", &frames]),
        "--fcd-window",
    );
    add(
        "duration inf",
        "simulate",
        simulate(&["--duration", "inf"]),
        "--duration",
    );
    add(
        "duration 1e15",
        "simulate",
        simulate(&["--duration", "1e15"]),
        "--duration",
    );
    add("dt 1e-12", "simulate", simulate(&["--dt", "1e-12"]), "--dt");
    add("dt 0", "simulate", simulate(&["--dt", "0"]), "--dt");
    add("dt negative", "simulate", simulate(&["--dt=-0.01"]), "--dt");
    add("tr NaN", "simulate", simulate(&["--tr", "NaN"]), "--tr");
    add(
        "burn-in ≥ duration",
        "simulate",
        simulate(&["--burn-in", "100"]),
        "--burn-in",
    );
    add(
        "warm-up 1e18 steps",
        "simulate",
        simulate(&["--warmup-steps", "1000000000000000000"]),
        "--warmup-steps",
    );
    add(
        "n-dup 0",
        "simulate",
        simulate(&["--n-dup", "0"]),
        "duplicate",
    );
    add(
        "BOLD over the memory cap",
        "simulate",
        simulate(&["--n-dup", "1000000000000"]),
        "too large",
    );
    add(
        "garbage θ CSV",
        "simulate",
        simulate(&["--theta-file", &s(&garbage_csv)]),
        "garbage.csv",
    );
    add(
        "truncated noise .npy",
        "simulate",
        simulate(&["--noise", &sp]),
        "trunc.npy",
    );
    add(
        "garbage noise .npy",
        "simulate",
        simulate(&["--noise", &gb]),
        "garbage.npy",
    );
    let d = broken_data_dir(dir, "mat", &["fcd_train.csv"], "fcd_train.mat", &mat);
    let mut a = simulate(&[]);
    a[1] = s(&d);
    add("truncated .mat", "simulate", a, "fcd_train.mat");
    let d = broken_data_dir(dir, "matjunk", &["fcd_train.csv"], "fcd_train.mat", b"junk");
    let mut a = simulate(&[]);
    a[1] = s(&d);
    add("garbage .mat", "simulate", a, "fcd_train.mat");
    let d = broken_data_dir(
        dir,
        "npytwin",
        &["sc_train.csv"],
        "sc_train.npy",
        &npy_good[..70],
    );
    let mut a = simulate(&[]);
    a[1] = s(&d);
    add("truncated SC .npy twin", "simulate", a, "sc_train.npy");

    // cost: BOLD files.
    let cost = |bold: &str, extra: &[&str]| -> Vec<String> {
        let mut a = on_data(&["--bold", bold, "--n-dup", "1"]);
        a.extend(v(&["--out", &format!("{out}/c.csv")]));
        a.extend(v(extra));
        a
    };
    add("garbage BOLD", "cost", cost(&gb, &[]), "garbage.npy");
    add("truncated BOLD", "cost", cost(&sp, &[]), "trunc.npy");
    add(
        "1-D BOLD",
        "cost",
        cost(&s(&flat_bold), &[]),
        "flat_bold.npy",
    );
    add(
        "window ≥ the file's frames",
        "cost",
        cost(&s(&short_bold), &[]),
        "--fcd-window",
    );
    add(
        "cost n-dup 0",
        "cost",
        cost(&s(&short_bold), &["--n-dup", "0"]),
        "--n-dup",
    );

    // pmfm-dataset.
    let dataset = |extra: &[&str]| -> Vec<String> {
        let mut a = on_data(&["--n", "4", "--batch", "2"]);
        a.extend(v(&["--out", &format!("{out}/ds")]));
        a.extend(v(extra));
        a
    };
    add(
        "dataset window > frames",
        "pmfm-dataset",
        dataset(&["--fcd-window", "500"]),
        "--fcd-window",
    );
    add(
        "dataset duration inf",
        "pmfm-dataset",
        dataset(&["--duration", "inf"]),
        "--duration",
    );
    add(
        "dataset n-dup 0",
        "pmfm-dataset",
        dataset(&["--n-dup", "0"]),
        "--n-dup",
    );
    add(
        "dataset batch 0",
        "pmfm-dataset",
        dataset(&["--batch", "0"]),
        "batch",
    );
    add(
        "garbage centres CSV",
        "pmfm-dataset",
        dataset(&["--design", "gaussian", "--centres", &s(&garbage_csv)]),
        "garbage.csv",
    );
    let resumed = dir.join("resumed");
    std::fs::create_dir_all(&resumed).unwrap();
    write(
        &resumed,
        "manifest.json",
        b"{\"dataset\": \"x\", \"seed\": ",
    );
    let mut a = dataset(&["--resume"]);
    let k = a.iter().position(|x| x == "--out").unwrap();
    a[k + 1] = s(&resumed);
    add(
        "truncated manifest.json",
        "pmfm-dataset",
        a,
        "manifest.json",
    );

    // fit: method settings (checked before the data is loaded) and its inputs.
    let fit = |extra: &[&str]| -> Vec<String> {
        let mut a = on_data(&["--method", "random", "--random-budget", "2"]);
        a.extend(v(&["--out", &format!("{out}/fit")]));
        a.extend(v(extra));
        a
    };
    add(
        "active-n-dup 0",
        "fit",
        fit(&["--active-n-dup", "0"]),
        "n_dup",
    );
    add(
        "validate-top 0",
        "fit",
        fit(&["--validate-top", "0"]),
        "validate_top",
    );
    add(
        "n-dup-validate 0",
        "fit",
        fit(&["--n-dup-validate", "0"]),
        "n_dup_validate",
    );
    add(
        "anchor-candidates above validate-top",
        "fit",
        fit(&["--validate-top", "2", "--anchor-candidates", "3"]),
        "anchor_candidates",
    );
    add(
        "population 1",
        "fit",
        fit(&["--population", "1"]),
        "population",
    );
    add("sigma0 negative", "fit", fit(&["--sigma0=-1"]), "sigma0");
    add(
        "gd-starts 0",
        "fit",
        fit(&["--gd-starts", "0"]),
        "gd_starts",
    );
    add(
        "gd-steps 0",
        "fit",
        fit(&["--gd-steps", "0"]),
        "gradient.steps",
    );
    add(
        "fit window 1",
        "fit",
        fit(&["--fcd-window", "1"]),
        "--fcd-window",
    );
    add(
        "garbage starting table",
        "fit",
        fit(&[
            "--method",
            "surrogate-active",
            "--table",
            &s(&garbage_parquet),
        ]),
        "garbage.parquet",
    );
    add(
        "garbage ensemble.json",
        "fit",
        fit(&["--method", "surrogate-cmaes", "--surrogate", &s(&model_dir)]),
        "ensemble.json",
    );

    // pipeline, compare-optimizers, train-surrogate, surrogate-speedup, bench-sim.
    let with_out = |extra: &[&str], o: &str| -> Vec<String> {
        let mut a = on_data(extra);
        a.extend(v(&["--out", &format!("{out}/{o}")]));
        a
    };
    add(
        "pipeline window",
        "pipeline",
        with_out(&["--fcd-window", "1000"], "p"),
        "--fcd-window",
    );
    add(
        "pipeline dt",
        "pipeline",
        with_out(&["--dt", "1e-12"], "p"),
        "--dt",
    );
    add(
        "pipeline population 1",
        "pipeline",
        with_out(&["--population", "1"], "p"),
        "population",
    );
    add(
        "compare window 0",
        "compare-optimizers",
        with_out(&["--fcd-window", "0"], "c"),
        "--fcd-window",
    );
    add(
        "compare active-n-dup 0",
        "compare-optimizers",
        with_out(&["--active-n-dup", "0"], "c"),
        "n_dup",
    );
    add(
        "garbage table",
        "train-surrogate",
        v(&[
            "--table",
            &s(&garbage_parquet),
            "--out",
            &format!("{out}/ts"),
        ]),
        "garbage.parquet",
    );
    add(
        "truncated table",
        "train-surrogate",
        v(&["--table", &s(&trunc_parquet), "--out", &format!("{out}/ts")]),
        "trunc.parquet",
    );
    let model = s(&model_dir);
    add(
        "speedup garbage model",
        "surrogate-speedup",
        on_data(&["--model", &model]),
        "ensemble.json",
    );
    add(
        "speedup repeats 0",
        "surrogate-speedup",
        on_data(&["--model", &model, "--repeats", "0"]),
        "--repeats",
    );
    add(
        "speedup batch 0",
        "surrogate-speedup",
        on_data(&["--model", &model, "--sim-batches", "0"]),
        "batch",
    );
    let bench = |extra: &[&str]| -> Vec<String> {
        let mut a = v(&SHORT);
        a.extend(v(&["--batches", "1"]));
        a.extend(v(extra));
        a
    };
    add(
        "bench duration inf",
        "bench-sim",
        bench(&["--duration", "inf"]),
        "--duration",
    );
    add(
        "bench window 1",
        "bench-sim",
        bench(&["--fcd-window", "1"]),
        "--fcd-window",
    );
    add(
        "bench reps 0",
        "bench-sim",
        bench(&["--reps", "0"]),
        "--reps",
    );

    // The cRBM binaries (their loaders: .npz, .h5, .npy, .csv, .toml, Parquet).
    let crbm = |file: &str| {
        v(&[
            "--data",
            file,
            "--updates",
            "5",
            "--out",
            &format!("{out}/crbm"),
        ])
    };
    add(
        "garbage .npz",
        "train-crbm",
        crbm(&s(&garbage_npz)),
        "garbage.npz",
    );
    add(
        "garbage .h5",
        "train-crbm",
        crbm(&s(&garbage_h5)),
        "garbage.h5",
    );
    // The root dataset lies in the first third; /fish1/spikes does not.
    let mut a = crbm(&tr);
    a.extend(v(&["--key", "fish1/spikes"]));
    add("truncated .h5", "train-crbm", a, "trunc.h5");
    add(
        "garbage raster .npy",
        "train-crbm",
        crbm(&gb),
        "garbage.npy",
    );
    let huge = write(dir, "huge.h5", &with_huge_dataspace(&h5));
    let mut a = crbm(&s(&huge));
    a.extend(v(&["--key", "spikes"]));
    add("HDF5 shape over the value cap", "train-crbm", a, "2^31");
    let xyz = write(
        dir,
        "xyz.csv",
        b"0,0,0\n1,1,1\n2,2,2\n3,3,3\n5,5,5\n6,6,6\n",
    );
    let trace_values: Vec<f64> = (0..60).map(|k| ((k * 7 + k / 6 * 3) % 11) as f64).collect();
    let traces = write(dir, "traces.npy", &npy_f64(&[10, 6], &trace_values));
    let vox = |t: &str, c: &str| {
        v(&[
            "--traces",
            t,
            "--coords",
            c,
            "--out",
            &format!("{out}/v.npz"),
        ])
    };
    add(
        "voxelize garbage traces",
        "voxelize",
        vox(&gb, &s(&xyz)),
        "garbage.npy",
    );
    add(
        "voxelize truncated traces",
        "voxelize",
        vox(&sp, &s(&xyz)),
        "trunc.npy",
    );
    add(
        "voxelize garbage coords",
        "voxelize",
        vox(&s(&traces), &s(&garbage_csv)),
        "garbage.csv",
    );
    add(
        "garbage sweep config",
        "lambda-sweep",
        v(&[
            "run",
            "--config",
            &s(&garbage_toml),
            "--out",
            &format!("{out}/sw"),
        ]),
        "garbage.toml",
    );
    let sweep_dir = dir.join("sweep");
    std::fs::create_dir_all(&sweep_dir).unwrap();
    std::fs::copy(&trunc_parquet, sweep_dir.join("sweep.parquet")).unwrap();
    add(
        "truncated sweep table",
        "analyze-sweep",
        v(&[&s(&sweep_dir)]),
        "sweep.parquet",
    );
    drop(add);
    cases
}

/// The HDF5 fixture with every 40 × 7 dataspace (version-1 message: version, rank, flags, five
/// reserved bytes, then 8-byte dimensions) rewritten to 2⁴⁰ × 2⁴⁰: a shape whose value count
/// overflows, which the loader must refuse before allocating.
fn with_huge_dataspace(h5: &[u8]) -> Vec<u8> {
    let mut b = h5.to_vec();
    let mut dims = [0u8; 16];
    dims[..8].copy_from_slice(&40u64.to_le_bytes());
    dims[8..].copy_from_slice(&7u64.to_le_bytes());
    let mut patched = 0;
    for k in 0..b.len().saturating_sub(24) {
        if b[k] == 1 && b[k + 1] == 2 && b[k + 3..k + 8] == [0; 5] && b[k + 8..k + 24] == dims {
            for d in 0..2 {
                let at = k + 8 + 8 * d;
                b[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
            }
            patched += 1;
        }
    }
    assert!(patched > 0, "no 40 × 7 dataspace found in the fixture");
    b
}

/// A small valid Parquet table (the dataset schema), to be truncated.
fn parquet_bytes() -> Vec<u8> {
    let d = tmp("parquet");
    let p = d.join("t.parquet");
    let samples = samples(
        (0..8).map(|k| {
            let mut theta = pmfm_sim::synthetic::TRUE_THETA;
            theta[6] += k as f64 * 0.01;
            theta
        }),
        "t",
    );
    surrogate::table::write_samples(&p, &samples).unwrap();
    std::fs::read(&p).unwrap()
}

/// The arguments with each repeated `--flag [value]` reduced to its last value, kept where the
/// flag first appears (clap refuses a flag given twice; the cases override the defaults).
fn last_wins(args: &[String]) -> Vec<String> {
    let mut items: Vec<(String, Option<String>)> = Vec::new();
    let mut k = 0;
    while k < args.len() {
        let a = &args[k];
        let takes_value = a.starts_with("--")
            && !a.contains('=')
            && args.get(k + 1).is_some_and(|n| !n.starts_with("--"));
        let value = takes_value.then(|| args[k + 1].clone());
        k += 1 + usize::from(takes_value);
        match items
            .iter_mut()
            .find(|(f, _)| f.starts_with("--") && f == a)
        {
            Some(item) => item.1 = value,
            None => items.push((a.clone(), value)),
        }
    }
    items
        .into_iter()
        .flat_map(|(f, v)| std::iter::once(f).chain(v))
        .collect()
}

/// Runs every case and collects what went wrong: exit code 1, one `error:` line naming the
/// culprit, no panic.
fn check(cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let o = bin(c.bin).args(last_wins(&c.args)).output().unwrap();
        if let Some(p) = error_problem(&o, &[&c.needle]) {
            failures.push(format!(
                "{} ({} {}): {p} (exit {:?}, want {:?})\n{}",
                c.what,
                c.bin,
                c.args.join(" "),
                o.status.code(),
                c.needle,
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    failures
}

#[test]
fn every_bad_input_gives_exit_1_and_one_error_line() {
    let dir = tmp("corpus");
    let cases = corpus(&dir);
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let failures = check(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} bad inputs, each one clear error line", cases.len());
}
