//! Long jobs (datasets, λ sweeps, active rounds, CMA-ES checkpoints, model saves) that can be
//! killed at any moment, resumed, sharded across machines and merged, without depending on
//! what they compute.
//!
//! * [`durable`]: the workspace's one atomic durable write (temporary file beside the target,
//!   fsync, rename, fsync of the directory).
//! * [`table`]: Parquet tables and part files (`part-XXXXXX.parquet`), and the merge's
//!   coverage check (every part present once, none out of range).
//! * [`shard`]: shards `i/n` (from the command line or a Slurm array task), batches of a job
//!   and their noise seeds.
//! * [`settings`]: settings comparison for resumes ([`settings::same_settings`], the first
//!   differing key), FNV-1a fingerprints of inputs, and the [`settings::Manifest`] file that
//!   binds a directory to its settings.
//! * [`slurm`]: ready-to-submit Slurm scripts (job array of shards with `--resume`, a
//!   dependent merge job, the submit script) for any shardable binary.
//! * [`error`]: [`JobsError`], whose variants name the file or setting.

pub mod durable;
pub mod error;
pub mod settings;
pub mod shard;
pub mod slurm;
pub mod table;

pub use error::{JobsError, Result};
