//! Running `lambda-sweep` and `analyze-sweep` in the sweep tests: a sweep run, killed, resumed,
//! sharded and merged, its table without wall times, bad configs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use analysis::table::{read_rows, ModelRow};

use super::{bin, run, run_ok, stderr, stdout};

/// Writes `text` to `dir/sweep.toml` and returns the path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    super::files::write(dir, "sweep.toml", text)
}

/// `lambda-sweep ARGS`.
pub fn sweep(args: &[&str]) -> Command {
    let mut c = bin("lambda-sweep");
    c.args(args);
    c
}

/// `lambda-sweep run --config CFG --out OUT EXTRA`.
pub fn run_sweep(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    run(sweep(&["run", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .args(extra))
}

/// `lambda-sweep merge DIR`.
pub fn merge(dir: &Path) -> Output {
    run(sweep(&["merge"]).arg(dir))
}

/// The merged table without the wall-time columns (the only ones that differ between runs).
pub fn rows(dir: &Path) -> Vec<ModelRow> {
    read_rows(&dir.join("sweep.parquet"))
        .expect("merged table")
        .into_iter()
        .map(|mut r| {
            r.train_s = 0.0;
            r.eval_s = 0.0;
            r
        })
        .collect()
}

/// Floats compared bit for bit, NaN equal to NaN.
pub fn same(a: &[ModelRow], b: &[ModelRow]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Finished models on disk (part files) in sweep directory `dir`.
pub fn parts(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("parts"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                .count()
        })
        .unwrap_or(0)
}

/// Starts the sweep `cfg` into `out`, kills it with SIGKILL as soon as `n` models are finished
/// (or after 300 s), and returns how many were finished then.
pub fn kill_after(cfg: &Path, out: &Path, n: usize) -> usize {
    let mut child = sweep(&["run", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while parts(out) < n && t0.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    parts(out)
}

/// `--resume` on the killed sweep in `out` trains only the models not among the `survived`
/// finished ones and ends with the `reference` table.
pub fn assert_resumes_to(cfg: &Path, out: &Path, survived: usize, reference: &[ModelRow]) {
    let o = run_sweep(cfg, out, &["--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{survived} already finished")),
        "{}",
        stderr(&o)
    );
    assert!(same(&rows(out), reference));
}

/// The 8-model sweep `cfg` run as two shards into `dir`: merge refuses while shard 0 is missing,
/// naming its models, and the merged table of both is `reference`.
pub fn assert_shards_merge_to(cfg: &Path, dir: &Path, reference: &[ModelRow]) {
    let o = run_sweep(cfg, dir, &["--shard", "1/2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("4 of 8 models finished"),
        "{}",
        stderr(&o)
    );
    let o = merge(dir);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("4 of 8 models missing (models 0, 2, 4, 6)"),
        "{}",
        stderr(&o)
    );
    let o = run_sweep(cfg, dir, &["--shard", "0/2", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = merge(dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(same(&rows(dir), reference));
}

/// `analyze-sweep DIR ARGS`.
pub fn analyze(dir: &Path, args: &[&str]) -> Output {
    run(bin("analyze-sweep").arg(dir).args(args))
}

/// `analyze-sweep DIR ARGS --out REPORT`, which must succeed; returns its standard output.
pub fn report(dir: &Path, args: &[&str], report: &Path) -> String {
    stdout(&run_ok(
        bin("analyze-sweep")
            .arg(dir)
            .args(args)
            .arg("--out")
            .arg(report),
    ))
}

/// Each `(config text, needle)`, written to `base/c<k>/sweep.toml` and run, fails with exit
/// code 1 and an error that starts with `error: ` and contains the needle, without a panic.
pub fn assert_bad_configs(base: &Path, cases: &[(&str, &str)]) {
    for (k, (text, needle)) in cases.iter().enumerate() {
        let dir = base.join(format!("c{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        let p = write_config(&dir, text);
        let o = run_sweep(&p, &dir.join("out"), &[]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{text}: {e}");
        assert!(
            e.starts_with("error: ") && e.contains(needle),
            "{text}: {e}"
        );
        assert!(!e.contains("panicked"), "{e}");
    }
}
