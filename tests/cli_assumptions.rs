//! End-to-end tests of `pmfm-assumptions`: on three small synthetic groups it writes the
//! summary, pair and cell tables and the plot, with finite, positive noise-floor distances;
//! bad inputs give one clear error line naming the flag.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use jobs::table::read_parquet;

use common::tables::{f64s, strs};
use common::{bin, fresh_path, run, stderr, SHORT};

fn cmd(out: &Path, extra: &[&str]) -> Command {
    let mut c = bin("pmfm-assumptions");
    c.args(SHORT).arg("--out").arg(out).args(extra);
    c
}

fn tmp(name: &str) -> PathBuf {
    fresh_path("pmfm-assumptions", name)
}

#[test]
fn three_synthetic_groups_give_tables_plot_and_a_noise_floor() {
    let out = tmp("run");
    let o = run(&mut cmd(
        &out,
        &[
            "--groups",
            "synthetic:0-2",
            "--n-theta",
            "3",
            "--n-dup",
            "2",
        ],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("verdict:"), "{stdout}");

    let summary = read_parquet(&out.join("assumptions.parquet")).unwrap();
    // 3 sources × 10 statistics.
    assert_eq!(summary.height(), 30);
    let (source, stat, value) = (
        strs(&summary, "source"),
        strs(&summary, "statistic"),
        f64s(&summary, "value"),
    );
    let get = |s: &str, st: &str| {
        (0..summary.height())
            .find(|&i| source[i] == s && stat[i] == st)
            .map(|i| value[i])
            .unwrap_or_else(|| panic!("no row {s}/{st}"))
    };
    for st in ["fc_distance_mean", "fcd_distance_mean"] {
        let v = get("noise", st);
        assert!(v > 0.0 && v.is_finite(), "noise {st} = {v}");
        let g = get("groups", st);
        assert!(g >= 0.0 && g.is_finite(), "groups {st} = {g}");
    }

    let pairs = read_parquet(&out.join("assumptions_pairs.parquet")).unwrap();
    // Groups 3·2·C(3,2) = 18, θ 3·2·C(3,2) = 18, noise 3·3·C(2,2) = 9.
    assert_eq!(pairs.height(), 45);
    let psrc = strs(&pairs, "source");
    let (fc, fcd) = (f64s(&pairs, "fc_distance"), f64s(&pairs, "fcd_distance"));
    for i in (0..pairs.height()).filter(|&i| psrc[i] == "noise") {
        assert!(
            fc[i] > 0.0 && fc[i].is_finite(),
            "noise pair {i}: {}",
            fc[i]
        );
        assert!(
            fcd[i] > 0.0 && fcd[i].is_finite(),
            "noise pair {i}: {}",
            fcd[i]
        );
    }
    let cells = read_parquet(&out.join("assumptions_cells.parquet")).unwrap();
    assert_eq!(cells.height(), 3 * 3 * 2);

    let png = std::fs::read(out.join("assumptions.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_inputs_give_one_line_naming_the_flag() {
    let out = tmp("bad");
    for (extra, flag) in [
        (
            vec!["--groups", "synthetic:0-1", "--n-theta", "1"],
            "--n-theta",
        ),
        (vec!["--groups", "synthetic:0-1", "--n-dup", "1"], "--n-dup"),
        (vec!["--groups", "synthetic:0"], "--groups"),
        (vec![], "--groups"),
    ] {
        let o = run(&mut cmd(&out, &extra));
        assert!(!o.status.success(), "{extra:?} succeeded");
        let e = stderr(&o);
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 1, "{extra:?}: {e}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(flag),
            "{extra:?}: {e}"
        );
    }
    assert!(!out.exists(), "a refused run wrote {}", out.display());
}
