//! Running a λ sweep (or one shard of it) with progress: shared by `lambda-sweep` and the
//! main pipeline.

use std::path::Path;
use std::time::{Duration, Instant};

use analysis::sweep::{prepare_dir, run_model, SweepInput};
use analysis::table::{finished_models, merge, write_part, MERGED_FILE};
use analysis::{Job, ModelRow, SweepConfig};
use anyhow::{Context, Result};
use burn::tensor::Device;
use jobs::shard::Shard;

use crate::progress;

/// Runs the models of `cfg` that belong to `shard` and are not finished in `out` (at most
/// `max_models` of them), with a progress bar over models and one log line per model; merges
/// the table when every model is finished. Gaussian models train on `device`. Returns whether
/// the sweep is complete.
pub fn run_sweep(
    cfg: &SweepConfig,
    out: &Path,
    resume: bool,
    shard: Shard,
    max_models: Option<usize>,
    device: &Device,
) -> Result<bool> {
    let t0 = Instant::now();
    let done = prepare_dir(out, cfg, resume)?;
    let jobs = cfg.jobs();
    let todo: Vec<_> = jobs
        .iter()
        .filter(|j| shard.owns(j.index) && !done.contains(&j.index))
        .take(max_models.unwrap_or(usize::MAX))
        .collect();
    let data = SweepInput::prepare(cfg).context("preparing the recording")?;
    eprintln!(
        "{}: {} models ({} λ × {} recording(s) × {} seeds, {} visible units), shard {shard}: \
         {} to train, {} already finished; {}",
        cfg.name,
        jobs.len(),
        cfg.lambdas().len(),
        cfg.n_recordings(),
        cfg.seeds,
        cfg.visible.name(),
        todo.len(),
        done.len(),
        data.describe()
    );
    let bar = progress::bar(todo.len() as u64, "models");
    bar.enable_steady_tick(Duration::from_millis(250));
    let n_updates = match cfg.visible {
        analysis::config::Visible::Bernoulli => cfg.train.n_updates,
        analysis::config::Visible::Gaussian => cfg.gauss.train.n_updates,
    };
    for job in &todo {
        let label = job_label(cfg, job);
        let row = run_model(cfg, &data, job, out, device, |k| {
            if k % 10 == 0 || k == n_updates {
                bar.set_message(format!("{label}: update {k}/{n_updates}"));
            }
        })
        .with_context(|| format!("model {} ({label})", job.index))?;
        write_part(out, &row)?;
        bar.inc(1);
        let line = format!(
            "model {:>4} {label}: {} ({:.1} s)",
            job.index,
            verdict(&row),
            row.train_s + row.eval_s
        );
        // Without a terminal (CI, Slurm logs) the bar is hidden: log lines instead.
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    }
    bar.finish_and_clear();
    let complete = merge_if_complete(out, jobs.len(), t0)?;
    Ok(complete)
}

/// The job's λ, seed and (with several recordings) recording.
fn job_label(cfg: &SweepConfig, job: &Job) -> String {
    match cfg.n_recordings() {
        1 => format!("λ = {:.4}, seed {}", job.lambda, job.seed),
        _ => format!(
            "λ = {:.4}, recording {}, seed {}",
            job.lambda, job.recording, job.seed
        ),
    }
}

/// One model's outcome for the log: where it exploded, or its norm and good/bad.
fn verdict(row: &ModelRow) -> String {
    if row.exploded {
        format!(
            "exploded in {} at update {}{} (epoch {:.2}, stability margin {:.3})",
            row.exploded_phase.as_deref().unwrap_or("training"),
            row.exploded_update.unwrap_or(0),
            row.exploded_sweep
                .map(|s| format!(", sampling sweep {s}"))
                .unwrap_or_default(),
            row.exploded_epoch.unwrap_or(f64::NAN),
            row.stability_margin
        )
    } else {
        format!(
            "norm4 {:.3}{}",
            row.norm4,
            if row.good {
                ", good"
            } else if row.bad {
                ", bad"
            } else {
                ""
            }
        )
    }
}

/// Merges the table when all `n_jobs` models of `out` are finished; says what is left
/// otherwise. Returns whether the sweep is complete.
fn merge_if_complete(out: &Path, n_jobs: usize, t0: Instant) -> Result<bool> {
    let finished = finished_models(out)?.0.len();
    let complete = finished == n_jobs;
    if complete {
        let rows = merge(out, n_jobs)?;
        eprintln!(
            "all {} models finished; wrote {} in {:.1} s",
            rows.len(),
            out.join(MERGED_FILE).display(),
            t0.elapsed().as_secs_f64()
        );
    } else {
        eprintln!(
            "{finished} of {} models finished ({:.1} s); run the other shards (or --resume), then `lambda-sweep merge {}`",
            n_jobs,
            t0.elapsed().as_secs_f64(),
            out.display()
        );
    }
    Ok(complete)
}
