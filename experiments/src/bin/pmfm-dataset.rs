//! Generates a parameter→cost dataset with the real pMFM simulator: draws θ by a design,
//! simulates them in batches, and writes one Parquet part per batch (atomically) plus a merged
//! `dataset.parquet`. `--resume` skips batches already on disk; `--shard i/n` (or a Slurm array
//! task) runs every n-th batch, so shards can run anywhere and be merged with `merge`.
//!
//! `--design cmaes` records simulator-driven CMA-ES runs instead (the published surrogate's
//! data): one batch per generation, shards split the runs, and `--resume` replays the
//! generations on disk before continuing (see `pmfm_fit::trajectory`).
//!
//! `--groups` runs the same design on every subject group (the surrogate's multi-group
//! training data): group g's batches follow group g−1's, the `dataset` column names the group,
//! each group's SC, FC, FCD and maps are stored once under `groups/`, and shards split
//! (group, run) pairs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use experiments::dataset::GroupArgs;
use experiments::output::exit_on_error;
use experiments::progress;
use experiments::sim_args::PmfmArgs;
use experiments::theta_input::{is_table, read_theta_csv, read_theta_table};
use jobs::shard::{batch_seed, Batches, Shard};
use jobs::slurm::{self, SlurmArgs};
use jobs::table::part_name;
use pmfm_fit::trajectory::{drive_run, TrajectoryDesign};
use pmfm_sim::params::{Bounds, Theta};
use pmfm_sim::simulator::SimConfig;
use serde::{Deserialize, Serialize};
use surrogate::design::{Design, DesignSpace};
use surrogate::evaluator::Evaluator;
use surrogate::table::{finished_batches, merge_parts, read_samples, write_samples};
use surrogate::Samples;

#[derive(Parser, Debug)]
#[command(
    about = "Simulate parameter sets drawn by a design and write a parameter→cost dataset (Parquet)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Merge the parts of a dataset directory into dataset.parquet (checks that every batch is
    /// present and no index repeats).
    Merge {
        /// The dataset directory (as given to --out).
        dir: PathBuf,
    },
    /// Write a Slurm job array (one shard per task, each run with --resume) and a dependent
    /// merge job for the dataset options given after `--`, e.g.
    /// `pmfm-dataset slurm --tasks 8 --mem 8G -- --n 100000 --out /scratch/ds`.
    Slurm {
        #[command(flatten)]
        slurm: SlurmArgs,
        /// The dataset options of a plain run (without --shard: the array task chooses it).
        #[arg(last = true, value_name = "RUN OPTIONS")]
        run: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    pmfm: PmfmArgs,
    #[command(flatten)]
    groups: GroupArgs,
    /// Number of parameter sets in the design [default: 1024; for cmaes: runs × generations ×
    /// batch].
    #[arg(long)]
    n: Option<usize>,
    /// Design: uniform, lhs (Latin hypercube per batch), gaussian (clouds around --centres),
    /// cmaes (trajectories of simulator-driven CMA-ES runs; population = --batch).
    #[arg(long, default_value = "lhs", value_parser = ["uniform", "lhs", "gaussian", "cmaes"])]
    design: String,
    /// cmaes design: independent runs, generations per run, parents μ (default batch/4), σ₀.
    #[arg(long, default_value_t = 4)]
    cma_runs: usize,
    #[arg(long, default_value_t = 16)]
    generations: usize,
    #[arg(long)]
    parents: Option<usize>,
    #[arg(long, default_value_t = 0.15)]
    sigma0: f64,
    /// cmaes design over several groups: every group's runs start from their own reference
    /// starts (seeds seed + g·runs + r) instead of sharing run r's start.
    #[arg(long)]
    distinct_starts: bool,
    /// Centres of a gaussian design: CSV with one θ per row (or per column, --centres-by-column),
    /// or a parameter→cost table (Parquet file or pmfm-dataset directory; its θ in index order).
    /// With --relative-sd 0 the design re-simulates exactly these θ, e.g. held-out θ with more
    /// duplicates for `train-surrogate --replicates`.
    #[arg(long)]
    centres: Option<PathBuf>,
    #[arg(long)]
    centres_by_column: bool,
    /// With a table as --centres: only the rows of this group (its `dataset` column).
    #[arg(long)]
    centres_group: Option<String>,
    /// Standard deviation of a gaussian design, relative to |centre| per coordinate.
    #[arg(long, default_value_t = 0.1)]
    relative_sd: f64,
    /// Seed of the design and of the noise (each batch derives its own noise seed).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Parameter sets simulated together (one Parquet part each).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Noise duplicates per parameter set.
    #[arg(long, default_value_t = 1)]
    n_dup: usize,
    /// Output directory.
    #[arg(long, default_value = "out/pmfm-dataset")]
    out: PathBuf,
    /// Skip batches already on disk (after a kill, or to add shards).
    #[arg(long)]
    resume: bool,
    /// Run only shard i of n (0-based, e.g. 0/4). Defaults to SLURM_ARRAY_TASK_ID /
    /// SLURM_ARRAY_TASK_COUNT when set, else the whole job.
    #[arg(long)]
    shard: Option<String>,
    /// Stop after this many batches (for tests and quick looks); the job stays resumable.
    #[arg(long)]
    max_batches: Option<usize>,
}

/// What identifies a dataset job; stored as `manifest.json` so that resumed runs and shards can
/// only add to a directory that was made with the same settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Manifest {
    dataset: String,
    design: JobDesign,
    seed: u64,
    n_total: usize,
    batch_size: usize,
    n_dup: usize,
    sim: SimConfig,
    fcd_window: usize,
    bounds: Bounds,
    /// `--groups`: each group's name and a fingerprint of its inputs (empty for one data set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<GroupStamp>,
}

/// What identifies one group's inputs in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct GroupStamp {
    name: String,
    fingerprint: String,
}

impl Manifest {
    /// Groups the design runs on (1 without `--groups`).
    fn n_groups(&self) -> usize {
        self.groups.len().max(1)
    }
}

const MANIFEST: &str = "manifest.json";
/// Sub-directory holding each group's inputs.
const GROUPS_DIR: &str = "groups";

/// A design whose θ are drawn independently of the costs, or a CMA-ES trajectory. Untagged: both
/// carry their own `kind`, so manifests written before trajectories existed still read back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
enum JobDesign {
    Drawn(Design),
    Trajectory(TrajectoryDesign),
}

impl JobDesign {
    fn name(&self) -> &'static str {
        match self {
            JobDesign::Drawn(d) => d.name(),
            JobDesign::Trajectory(_) => "cmaes",
        }
    }

    fn n_total(&self, n: Option<usize>) -> Result<usize> {
        match self {
            JobDesign::Drawn(_) => Ok(n.unwrap_or(1024)),
            JobDesign::Trajectory(t) => {
                if let Some(n) = n.filter(|&n| n != t.n_total()) {
                    bail!(
                        "--n {n} disagrees with the cmaes design's --cma-runs {} × --generations {} × --batch {} = {}; drop --n",
                        t.runs,
                        t.generations,
                        t.population,
                        t.n_total()
                    );
                }
                Ok(t.n_total())
            }
        }
    }
}

/// Marks the end of a `--max-batches` run (not a failure).
#[derive(Debug)]
struct BatchLimit;

impl std::fmt::Display for BatchLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("batch limit reached")
    }
}

impl std::error::Error for BatchLimit {}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Some(Cmd::Merge { dir }) => merge(&dir),
        Some(Cmd::Slurm { slurm, run }) => write_slurm(&slurm, run),
        None => run(cli.run),
    };
    exit_on_error(res);
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let p = dir.join(MANIFEST);
    if !p.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let m = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a dataset manifest", p.display()))?;
    Ok(Some(m))
}

fn merge(dir: &Path) -> Result<()> {
    let m = read_manifest(dir)?.with_context(|| {
        format!(
            "{}: no {MANIFEST}; is this a pmfm-dataset output directory?",
            dir.display()
        )
    })?;
    let batches = Batches::new(m.n_total, m.batch_size)?;
    let n_batches = batches.count() * m.n_groups();
    let merged = merge_parts(dir, n_batches)?;
    println!(
        "merged {} batches: {} rows ({} valid) into {}",
        n_batches,
        merged.len(),
        merged.valid.iter().filter(|v| **v).count(),
        dir.join(surrogate::table::MERGED_FILE).display()
    );
    Ok(())
}

/// Writes the Slurm scripts for a dataset run with `run_options`, after checking them.
fn write_slurm(cfg: &SlurmArgs, run_options: Vec<String>) -> Result<()> {
    let task_args = slurm::task_args(&run_options)?;
    let parsed = Cli::try_parse_from(
        std::iter::once("pmfm-dataset".to_string()).chain(task_args.iter().cloned()),
    )
    .map_err(|e| anyhow!("the run options after `--` are not valid:\n{e}"))?;
    if parsed.cmd.is_some() {
        bail!("after `--` give the options of a dataset run, not a subcommand");
    }
    let run = parsed.run;
    design_of(&run)?;
    if run.max_batches.is_some() {
        bail!("--max-batches would leave the dataset unfinished; drop it from the run options");
    }
    let job = slurm::Job {
        name: "pmfm-dataset".into(),
        task_args,
        merge_args: vec!["merge".into(), run.out.to_string_lossy().into_owned()],
    };
    let scripts = slurm::write_scripts(cfg, &job)?;
    println!("{}", scripts.instructions());
    Ok(())
}

fn design_of(args: &RunArgs) -> Result<JobDesign> {
    if args.batch == 0 {
        bail!("--batch must be at least 1 (parameter sets per batch and per Parquet part)");
    }
    if args.design == "cmaes" {
        let t = TrajectoryDesign {
            runs: args.cma_runs,
            generations: args.generations,
            population: args.batch,
            parents: args.parents.unwrap_or((args.batch / 4).max(1)),
            sigma0: args.sigma0,
            distinct_starts: args.distinct_starts,
        };
        t.check()?;
        return Ok(JobDesign::Trajectory(t));
    }
    if args.distinct_starts {
        bail!(
            "--distinct-starts applies to --design cmaes only (got --design {})",
            args.design
        );
    }
    let d = match args.design.as_str() {
        "uniform" => Design::Uniform,
        "lhs" => Design::Lhs { block: args.batch },
        "gaussian" => {
            let Some(path) = &args.centres else {
                bail!("--design gaussian needs --centres FILE (CSV of θ)");
            };
            let centres = if is_table(path) {
                read_theta_table(path, args.centres_group.as_deref())?
            } else if args.centres_group.is_some() {
                bail!("--centres-group needs a table as --centres (a .parquet file or a pmfm-dataset directory), not {}", path.display());
            } else {
                read_theta_csv(path, args.centres_by_column)?
            };
            Design::Gaussian {
                centres,
                relative_sd: args.relative_sd,
                absolute_sd: vec![],
                max_tries: 1000,
            }
        }
        other => bail!("unknown design '{other}'"),
    };
    d.validate()?;
    Ok(JobDesign::Drawn(d))
}

fn run(args: RunArgs) -> Result<()> {
    let shard = Shard::resolve(args.shard.as_deref().map(str::parse).transpose()?)?;
    let design = design_of(&args)?;
    let n_total = design.n_total(args.n)?;
    if n_total == 0 || args.n_dup == 0 {
        bail!("--n and --n-dup must be at least 1");
    }
    let batches = Batches::new(n_total, args.batch)?;
    let (device, sim) = args.pmfm.device_and_config()?;
    let groups = load_groups(&args, &device, &sim)?;
    let multi = args.groups.groups.is_some();
    let manifest = Manifest {
        dataset: groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        design: design.clone(),
        seed: args.seed,
        n_total,
        batch_size: args.batch,
        n_dup: args.n_dup,
        sim,
        fcd_window: args.pmfm.sim.fcd_window,
        bounds: Bounds::default(),
        groups: if multi {
            groups
                .iter()
                .map(|g| GroupStamp {
                    name: g.name.clone(),
                    fingerprint: surrogate::groups::fingerprint(g),
                })
                .collect()
        } else {
            Vec::new()
        },
    };
    let out = &args.out;
    check_or_write_manifest(out, &manifest, args.resume)?;
    if multi {
        for g in &groups {
            let dir = out
                .join(GROUPS_DIR)
                .join(surrogate::groups::group_dir_name(&g.name));
            surrogate::groups::write_group(&dir, g)?;
        }
    }
    let per_group = batches.count();
    let batch_len = |b: usize| {
        let r = batches.range(b % per_group);
        (r.end - r.start) as usize
    };
    let (done, broken) = finished_batches(out, batch_len)?;
    for p in &broken {
        eprintln!(
            "warning: {} is unreadable or short; redoing its batch",
            p.display()
        );
    }
    let mut job = Job {
        args: &args,
        design: &design,
        batches: &batches,
        shard,
        done: &done,
        limit: args.max_batches.unwrap_or(usize::MAX),
        simulated: 0,
        n_valid: 0,
        n_done: 0,
        t0: Instant::now(),
    };
    for (gi, g) in groups.iter().enumerate() {
        if job.simulated >= job.limit {
            break;
        }
        job.run_group(gi, g, groups.len(), &device, &sim)?;
    }
    let elapsed = job.t0.elapsed().as_secs_f64();
    eprintln!(
        "simulated {} θ ({} valid) in {elapsed:.1} s ({:.3} s per θ)",
        job.n_done,
        job.n_valid,
        elapsed / job.n_done.max(1) as f64
    );
    let (done, _) = finished_batches(out, batch_len)?;
    if done.len() == per_group * groups.len() {
        merge(out)?;
    } else {
        println!(
            "{} of {} batches on disk; run the remaining shards (or --resume), then `pmfm-dataset merge {}`",
            done.len(),
            per_group * groups.len(),
            out.display()
        );
    }
    Ok(())
}

/// The groups of `--groups`, or the one data set of `--data` / the synthetic default.
fn load_groups(
    args: &RunArgs,
    device: &burn::tensor::Device,
    sim: &SimConfig,
) -> Result<Vec<pmfm_sim::data::EmpiricalData>> {
    if args.groups.groups.is_some() && args.pmfm.data.data.is_some() {
        bail!("give the data as --groups or as --data, not both");
    }
    match args.groups.load(device, sim, args.pmfm.sim.fcd_window)? {
        Some(g) => Ok(g),
        None => Ok(vec![args.pmfm.load_data(device, sim)?]),
    }
}

/// Refuses a directory made with other settings or inputs (naming the first differing key or
/// group), or an existing dataset without `--resume`; writes the manifest of a new one.
fn check_or_write_manifest(out: &Path, manifest: &Manifest, resume: bool) -> Result<()> {
    let file =
        jobs::settings::Manifest::new(out.join(MANIFEST), "use another --out or the same settings");
    match read_manifest(out)? {
        Some(existing) if existing.groups != manifest.groups => {
            bail!(
                "{}: made with other groups or group inputs ({}); use another --out or the same --groups and family settings",
                out.join(MANIFEST).display(),
                group_difference(&existing.groups, &manifest.groups)
            )
        }
        Some(existing) => {
            file.check(
                &serde_json::to_value(&existing)?,
                &serde_json::to_value(manifest)?,
            )?;
            if !resume {
                bail!(
                    "{} already holds a dataset; pass --resume to continue it or choose another --out",
                    out.display()
                );
            }
            Ok(())
        }
        None => Ok(file.write(&serde_json::to_value(manifest)?)?),
    }
}

/// The first difference between the groups a directory was made with and the ones given now.
fn group_difference(was: &[GroupStamp], now: &[GroupStamp]) -> String {
    for (a, b) in was.iter().zip(now) {
        if a.name != b.name {
            return format!("group '{}' where the directory has '{}'", b.name, a.name);
        }
        if a.fingerprint != b.fingerprint {
            return format!(
                "group '{}' has other SC/FC/FCD/maps (fingerprint {}, directory has {})",
                a.name, b.fingerprint, a.fingerprint
            );
        }
    }
    format!(
        "{} groups given, the directory has {}",
        now.len(),
        was.len()
    )
}

/// The state of one dataset job across its groups.
struct Job<'a> {
    args: &'a RunArgs,
    design: &'a JobDesign,
    batches: &'a Batches,
    shard: Shard,
    done: &'a std::collections::BTreeSet<usize>,
    /// `--max-batches` and the batches simulated so far.
    limit: usize,
    simulated: usize,
    n_valid: usize,
    n_done: usize,
    t0: Instant,
}

/// One group's share of the job: where its batches and rows start, its simulator, its bar.
struct GroupRun<'d> {
    data: &'d pmfm_sim::data::EmpiricalData,
    /// Global batch number of the group's local batch 0.
    offset: usize,
    /// Global row index of the group's first θ.
    row_offset: u64,
    evaluator: Evaluator,
    space: DesignSpace,
    bar: indicatif::ProgressBar,
}

impl Job<'_> {
    /// Runs this shard's part of the design on group `gi` of `n_groups`: its batches are
    /// `gi·per_group + b`, its row indices `gi·n_total + k`; a shard owns the pairs
    /// (group, batch) — or (group, run) for a trajectory design — with its residue.
    fn run_group(
        &mut self,
        gi: usize,
        data: &pmfm_sim::data::EmpiricalData,
        n_groups: usize,
        device: &burn::tensor::Device,
        sim: &SimConfig,
    ) -> Result<()> {
        let per_group = self.batches.count();
        let offset = gi * per_group;
        let todo: Vec<usize> = self
            .owned_batches(gi)
            .into_iter()
            .filter(|b| !self.done.contains(&(offset + b)))
            .collect();
        let n_todo: u64 = todo
            .iter()
            .map(|&b| {
                let r = self.batches.range(b);
                r.end - r.start
            })
            .sum();
        eprintln!(
            "group {}/{n_groups} {} · design {} · shard {} · {} of {} batches to do ({} θ, batch {}, n_dup {}) → {}",
            gi + 1,
            data.name,
            self.design.name(),
            self.shard,
            todo.len(),
            per_group,
            n_todo,
            self.args.batch,
            self.args.n_dup,
            self.args.out.display()
        );
        let group = GroupRun {
            data,
            offset,
            row_offset: (gi * self.batches.range(per_group - 1).end as usize) as u64,
            evaluator: Evaluator::new(data, *sim, self.args.pmfm.sim.fcd_window, device)?,
            space: DesignSpace::new(&data.myelin, &data.gradient, Bounds::default())?,
            bar: progress::bar(n_todo, "θ"),
        };
        let design = self.design;
        match design {
            JobDesign::Drawn(d) => self.run_drawn(&group, d, &todo)?,
            JobDesign::Trajectory(t) => self.run_trajectories(&group, gi, t)?,
        }
        group.bar.finish_and_clear();
        Ok(())
    }

    /// The local batches of group `gi` this shard owns (all generations of its runs for a
    /// trajectory design).
    fn owned_batches(&self, gi: usize) -> Vec<usize> {
        let per_group = self.batches.count();
        match self.design {
            JobDesign::Drawn(_) => (0..per_group)
                .filter(|&b| self.shard.owns(gi * per_group + b))
                .collect(),
            JobDesign::Trajectory(t) => (0..t.runs)
                .filter(|&r| self.shard.owns(gi * t.runs + r))
                .flat_map(|r| (0..t.generations).map(move |g| t.batch(r, g)))
                .collect(),
        }
    }

    /// A drawn design: checks the finished parts hold exactly their batch's θ, then simulates
    /// the batches in `todo` (up to `--max-batches`).
    fn run_drawn(&mut self, g: &GroupRun, d: &Design, todo: &[usize]) -> Result<()> {
        let draw = |b: usize| -> Vec<Theta> {
            self.batches
                .range(b)
                .map(|k| g.space.draw(d, self.args.seed, k))
                .collect()
        };
        // Finished parts are kept only if they hold exactly their batch's θ (the draw is
        // deterministic), so a resume never mixes in rows of another design.
        for b in (0..self.batches.count()).filter(|b| self.done.contains(&(g.offset + b))) {
            let what = format!("the design draws for batch {}", g.offset + b);
            part_with_theta(
                &self.args.out.join(part_name(g.offset + b)),
                &draw(b),
                &what,
            )?;
        }
        let room = self.limit.saturating_sub(self.simulated);
        let thetas: Vec<(usize, Vec<Theta>)> =
            todo.iter().take(room).map(|&b| (b, draw(b))).collect();
        for (b, t) in thetas {
            self.simulated += 1;
            self.simulate(g, b, &t)?;
        }
        Ok(())
    }

    /// A trajectory design: drives this shard's CMA-ES runs of group `gi`, replaying finished
    /// generations from their parts and simulating the others (up to `--max-batches`).
    fn run_trajectories(&mut self, g: &GroupRun, gi: usize, t: &TrajectoryDesign) -> Result<()> {
        let runs: Vec<usize> = (0..t.runs)
            .filter(|&r| self.shard.owns(gi * t.runs + r))
            .collect();
        for r in runs {
            // Group g's run r starts where any group's run r would (from the group's own
            // maps), or from its own start with --distinct-starts.
            let res = drive_run::<anyhow::Error>(
                t,
                r,
                t.group_seed(gi, self.args.seed),
                &g.data.myelin,
                &g.data.gradient,
                &Bounds::default(),
                |b, thetas| {
                    let s = if self.done.contains(&(g.offset + b)) {
                        replayed(&self.args.out.join(part_name(g.offset + b)), r, b, thetas)?
                    } else if self.simulated >= self.limit {
                        return Err(BatchLimit.into());
                    } else {
                        self.simulated += 1;
                        self.simulate(g, b, thetas)?
                    };
                    Ok(search_costs(&s))
                },
            );
            match res {
                Err(e) if e.is::<BatchLimit>() => break,
                other => other.with_context(|| format!("{}: CMA-ES run {r}", g.data.name))?,
            }
        }
        Ok(())
    }

    /// Simulates local batch `b`'s θ of group `g`, writes its part and reports progress.
    fn simulate(&mut self, g: &GroupRun, b: usize, thetas: &[Theta]) -> Result<Samples> {
        let args = self.args;
        let range = self.batches.range(b);
        let seed = batch_seed(args.seed, g.offset + b);
        let s = g.evaluator.samples(
            thetas,
            g.row_offset + range.start,
            args.n_dup,
            seed,
            self.design.name(),
        )?;
        write_samples(&args.out.join(part_name(g.offset + b)), &s)?;
        self.n_valid += s.valid.iter().filter(|v| **v).count();
        self.n_done += s.len();
        g.bar.inc(s.len() as u64);
        g.bar.set_message(format!("{} valid", self.n_valid));
        if g.bar.is_hidden() {
            eprintln!(
                "batch {}: {} θ, {:.3} s/θ, {} done, {:.0} s elapsed",
                g.offset + b,
                s.len(),
                s.wall_s.first().copied().unwrap_or(0.0),
                self.n_done,
                self.t0.elapsed().as_secs_f64()
            );
        }
        Ok(s)
    }
}

/// A finished generation of a trajectory run, read back for replay after checking that it holds
/// exactly the θ the strategy asks for again.
fn replayed(path: &Path, run: usize, b: usize, thetas: &[Theta]) -> Result<Samples> {
    part_with_theta(path, thetas, &format!("run {run} asks for at batch {b}"))
}

/// The rows of a finished part, after checking that they hold exactly `thetas` in index order
/// (bit for bit: θ are drawn deterministically); `expected` says where `thetas` come from.
fn part_with_theta(path: &Path, thetas: &[Theta], expected: &str) -> Result<Samples> {
    let s = read_samples(path)?.sorted_by_index();
    if s.theta != thetas {
        let row = s
            .theta
            .iter()
            .zip(thetas)
            .position(|(a, b)| a != b)
            .unwrap_or(s.theta.len().min(thetas.len()));
        bail!(
            "{}: holds other θ than {expected} (first at row {row}); was the part changed or made by another version? Remove it to redo its batch, or use a fresh --out",
            path.display()
        );
    }
    Ok(s)
}

/// The costs a simulator-driven CMA-ES ranks by: the total, or +∞ for an invalid θ.
fn search_costs(s: &Samples) -> Vec<f64> {
    s.total_cost
        .iter()
        .zip(&s.valid)
        .map(|(&c, &v)| if v { c } else { f64::INFINITY })
        .collect()
}
