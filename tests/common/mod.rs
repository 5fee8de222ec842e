//! Helpers shared by the end-to-end tests in `tests/` (each test file is its own crate and pulls
//! them in with `mod common;`, so a file uses only some of them).
//!
//! | module | what |
//! | --- | --- |
//! | this file | the built binaries, scratch directories, short schedules, running a binary and checking its one-line error |
//! | [`files`] | tiny inputs: `.npy` arrays, a 6-region data directory, a dataset table, the HDF5 fixture |
//! | [`tables`] | Parquet columns as plain vectors |
//! | [`sweep`] | running `lambda-sweep` and `analyze-sweep`, the sweep table without wall times |
#![allow(dead_code)]

pub mod files;
pub mod sweep;
pub mod tables;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A short pMFM schedule for synthetic runs: 80 s main loop, 5 s burn-in, FCD window 20,
/// 100 warm-up steps (the synthetic groups and defaults are built with it too).
pub const SHORT: [&str; 8] = [
    "--duration",
    "80",
    "--burn-in",
    "5",
    "--fcd-window",
    "20",
    "--warmup-steps",
    "100",
];

/// A short pMFM schedule for the 6-region data directory: 60 s main loop, 5 s burn-in
/// ([`SHORT_60_FRAMES`] BOLD frames), FCD window 20, 200 warm-up steps.
pub const SHORT_60: [&str; 8] = [
    "--duration",
    "60",
    "--burn-in",
    "5",
    "--fcd-window",
    "20",
    "--warmup-steps",
    "200",
];
/// BOLD frames [`SHORT_60`] keeps.
pub const SHORT_60_FRAMES: usize = 77;

/// θ for the 6-region data directory (G = 2).
pub const THETA6: &str = "0.5,0,0,0.3,0,0,2,0.005,0,0";

/// Path of the experiments binary `name`, built by Cargo for the integration tests.
pub fn exe(name: &str) -> &'static str {
    match name {
        "simulate" => env!("CARGO_BIN_EXE_simulate"),
        "cost" => env!("CARGO_BIN_EXE_cost"),
        "pmfm-dataset" => env!("CARGO_BIN_EXE_pmfm-dataset"),
        "pmfm-assumptions" => env!("CARGO_BIN_EXE_pmfm-assumptions"),
        "fit" => env!("CARGO_BIN_EXE_fit"),
        "pipeline" => env!("CARGO_BIN_EXE_pipeline"),
        "train-surrogate" => env!("CARGO_BIN_EXE_train-surrogate"),
        "compare-optimizers" => env!("CARGO_BIN_EXE_compare-optimizers"),
        "surrogate-speedup" => env!("CARGO_BIN_EXE_surrogate-speedup"),
        "bench-sim" => env!("CARGO_BIN_EXE_bench-sim"),
        "train-crbm" => env!("CARGO_BIN_EXE_train-crbm"),
        "voxelize" => env!("CARGO_BIN_EXE_voxelize"),
        "lambda-sweep" => env!("CARGO_BIN_EXE_lambda-sweep"),
        "analyze-sweep" => env!("CARGO_BIN_EXE_analyze-sweep"),
        other => panic!("unknown binary {other}"),
    }
}

/// A command for binary `name` that runs on its default device and not as a Slurm array task,
/// whatever the environment of the test run says.
pub fn bin(name: &str) -> Command {
    let mut c = Command::new(exe(name));
    c.env_remove("BURN_DEVICE")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT");
    c
}

/// `<temp>/<prefix>-<pid>-<name>`, removed if it exists (and not created: for outputs a binary
/// must create itself).
pub fn fresh_path(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// [`fresh_path`], created empty.
pub fn tmp_dir(prefix: &str, name: &str) -> PathBuf {
    let d = fresh_path(prefix, name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A file of the workspace, found from the experiments crate's directory at run time (a shared
/// target directory may hold a test binary compiled in another checkout).
pub fn workspace_file(relative: &str) -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("..")
    .join(relative)
}

/// Runs `c` to completion, capturing its output.
pub fn run(c: &mut Command) -> Output {
    c.output().expect("binary runs")
}

/// Runs `c`, which must succeed (else the test fails showing its output); returns the output.
pub fn run_ok(c: &mut Command) -> Output {
    let o = run(c);
    assert!(o.status.success(), "{c:?}: {}", text(&o));
    o
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard output, then standard error.
pub fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// The lines of `text` that start with `prefix` (e.g. `"error:"`).
pub fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// What is wrong with a run that should have failed cleanly: a panic, an exit code other than
/// 1, other than exactly one `error:` line on stderr, or that line missing one of `needles`.
pub fn error_problem(o: &Output, needles: &[&str]) -> Option<String> {
    let err = stderr(o);
    let lines = lines_starting(&err, "error:");
    if err.contains("panicked") {
        Some("panicked".into())
    } else if o.status.code() != Some(1) {
        Some("exit code is not 1".into())
    } else if lines.len() != 1 {
        Some("not exactly one error: line".into())
    } else {
        needles
            .iter()
            .find(|n| !lines[0].contains(*n))
            .map(|n| format!("error line does not name {n:?}"))
    }
}

/// The run failed with exit code 1 and exactly one `error:` line containing every `needle`,
/// without a panic; `what` names the case in the failure message.
pub fn assert_one_error(o: &Output, needles: &[&str], what: &str) {
    if let Some(problem) = error_problem(o, needles) {
        panic!("{what}: {problem}; stderr: {}", stderr(o));
    }
}

/// `p` is a decodable image larger than 100 × 100 pixels.
pub fn is_png(p: &Path) -> bool {
    image::open(p)
        .map(|i| i.width() > 100 && i.height() > 100)
        .unwrap_or(false)
}
