//! Voxelise whole-brain recordings (traces + coordinates; several fish on one common grid) or
//! the built-in synthetic brain, z-score the voxel signals, and write them as an `.npz` with a
//! JSON sidecar (layout: `crbm::voxel`). With `--synthetic` the archive also holds the ground
//! truth at voxel level: `true_coupling` [K, K] and `true_assemblies` [A, K].

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use crbm::brain::{save_synthetic_archive, synthetic_voxels, BrainConfig};
use crbm::data::{load_coordinates, load_traces};
use crbm::voxel::{voxelise, RecordingInput, VoxelConfig, Voxelised};
use crbm::Frames;
use experiments::output::one_line;

#[derive(Parser, Debug)]
#[command(
    about = "Voxelise traces (or the synthetic brain) on a common grid and write z-scored voxel signals",
    allow_negative_numbers = true
)]
struct Args {
    /// Traces, frames × neurons (.npy, .npz, .csv or .h5); repeat once per fish, each with
    /// its --coords in the same order.
    #[arg(long)]
    traces: Vec<PathBuf>,
    /// Array inside an .npz, or dataset path inside an HDF5 file, of every --traces.
    #[arg(long)]
    key: Option<String>,
    /// Neuron coordinates, neurons × 3 (µm), one per --traces.
    #[arg(long)]
    coords: Vec<PathBuf>,
    /// Array or dataset holding the coordinates inside every --coords.
    #[arg(long)]
    coords_key: Option<String>,
    /// Voxel edge, µm.
    #[arg(long, default_value_t = 20.0)]
    voxel_size: f64,
    /// Fewest neurons a voxel must hold, in every fish, to be kept.
    #[arg(long, default_value_t = 2)]
    min_neurons: usize,
    /// Bounding-box padding on each side, as a fraction of its span.
    #[arg(long, default_value_t = 0.1)]
    pad: f64,
    /// Most grid cells allowed (a guard against a voxel size far too small).
    #[arg(long, default_value_t = VoxelConfig::default().max_voxels)]
    max_voxels: u64,
    /// Voxelise the built-in whole-brain-like generator instead of files.
    #[arg(long, conflicts_with_all = ["traces", "coords"])]
    synthetic: bool,
    /// Synthetic: number of fish sharing one assembly layout.
    #[arg(long, default_value_t = 1, requires = "synthetic")]
    fish: usize,
    /// Synthetic: seed.
    #[arg(long, default_value_t = 0, requires = "synthetic")]
    seed: u64,
    /// Synthetic: neurons per fish [default: the generator's, 6000].
    #[arg(long, requires = "synthetic")]
    neurons: Option<usize>,
    /// Synthetic: frames per fish [default: the generator's, 3000].
    #[arg(long, requires = "synthetic")]
    frames: Option<usize>,
    /// Synthetic: number of assemblies [default: the generator's, 12].
    #[arg(long, requires = "synthetic")]
    assemblies: Option<usize>,
    /// Synthetic: a voxel belongs to an assembly when at least this fraction of its neurons do.
    #[arg(long, default_value_t = 0.5, requires = "synthetic")]
    member_fraction: f64,
    /// Output archive (.npz); the sidecar goes to the same stem with .json.
    #[arg(long)]
    out: PathBuf,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let config = VoxelConfig {
        voxel_size: args.voxel_size,
        min_neurons: args.min_neurons,
        pad: args.pad,
        max_voxels: args.max_voxels,
    };
    config.validate()?;
    if args.synthetic {
        run_synthetic(&args, &config)
    } else {
        run_files(&args, &config)
    }
}

fn run_files(args: &Args, config: &VoxelConfig) -> Result<()> {
    if args.traces.is_empty() {
        bail!("give --traces FILE --coords FILE (once per fish) or --synthetic");
    }
    if args.traces.len() != args.coords.len() {
        bail!(
            "--traces given {} time(s) but --coords {} time(s); give one --coords per --traces",
            args.traces.len(),
            args.coords.len()
        );
    }
    let start = Instant::now();
    let mut loaded: Vec<(String, Frames, Vec<[f64; 3]>)> = Vec::new();
    for (traces, coords) in args.traces.iter().zip(&args.coords) {
        let frames = load_traces(traces, args.key.as_deref())?;
        let xyz = load_coordinates(coords, args.coords_key.as_deref(), Some(frames.n_units))
            .with_context(|| format!("{} holds {} neurons", traces.display(), frames.n_units))?;
        loaded.push((traces.display().to_string(), frames, xyz));
    }
    let inputs: Vec<RecordingInput> = loaded
        .iter()
        .map(|(name, traces, coordinates)| RecordingInput {
            name,
            traces,
            coordinates,
        })
        .collect();
    let load_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let voxels = voxelise(&inputs, config)?;
    let voxelise_s = start.elapsed().as_secs_f64();
    let json = voxels.save(&args.out, &[], None)?;
    let timing = format!("input {load_s:.2} s, voxelise {voxelise_s:.2} s");
    summarise(&voxels, &args.out, &json, &timing);
    Ok(())
}

fn run_synthetic(args: &Args, config: &VoxelConfig) -> Result<()> {
    let d = BrainConfig::default();
    let brain_config = BrainConfig {
        n_neurons: args.neurons.unwrap_or(d.n_neurons),
        n_frames: args.frames.unwrap_or(d.n_frames),
        n_assemblies: args.assemblies.unwrap_or(d.n_assemblies),
        n_fish: args.fish,
        seed: args.seed,
        ..d
    };
    let start = Instant::now();
    let (_, voxels, truth) = synthetic_voxels(&brain_config, config, args.member_fraction)?;
    let timing = format!("generate + voxelise {:.2} s", start.elapsed().as_secs_f64());
    let json = save_synthetic_archive(
        &args.out,
        &brain_config,
        &voxels,
        &truth,
        args.member_fraction,
    )?;
    summarise(&voxels, &args.out, &json, &timing);
    let sizes: Vec<usize> = truth.assemblies.iter().map(Vec::len).collect();
    println!("  ground truth: voxels per assembly {sizes:?}");
    Ok(())
}

fn summarise(v: &Voxelised, out: &std::path::Path, json: &std::path::Path, timing: &str) {
    let [nx, ny, nz] = v.grid.shape;
    println!(
        "{} voxels of {} µm (grid {nx}×{ny}×{nz}), {} recording(s); {timing}",
        v.n_voxels(),
        v.config.voxel_size,
        v.recordings.len()
    );
    for r in &v.recordings {
        let kept = r.neuron_to_voxel.iter().flatten().count();
        println!(
            "  {}: {} frames, {kept}/{} neurons in kept voxels",
            r.name,
            r.signals.len(),
            r.neuron_to_voxel.len()
        );
    }
    println!("wrote {} and {}", out.display(), json.display());
}
