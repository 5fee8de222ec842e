//! Ready-to-submit Slurm scripts for the shardable binaries (`pmfm-dataset`, `lambda-sweep`).
//!
//! [`write_scripts`] writes three files into a script directory:
//!
//! * `array.sbatch`: a job array of `tasks` tasks. Every task runs the same command (the
//!   binary with the user's run options plus `--resume`, never `--shard`): the binaries take
//!   their shard from `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT`, so task k runs shard
//!   k of n. A failed or pre-empted task is simply submitted again
//!   (`sbatch --array=K array.sbatch`): `--resume` skips the parts already on disk and parts
//!   are written atomically, so no row is duplicated.
//! * `merge.sbatch`: one job that runs `BINARY merge OUT`, which checks that every part is
//!   present (and names the missing ones) before it writes the merged table.
//! * `submit.sh`: submits the array with `sbatch --parsable`, then the merge job with
//!   `--dependency=afterok:ARRAY_ID` (and `--kill-on-invalid-dep=yes`, so that a failed task
//!   cancels the merge instead of leaving it pending forever).
//!
//! All paths in the scripts are absolute and every job runs in the directory the scripts were
//! generated from (`--chdir`), so relative paths in the run options mean the same thing on the
//! cluster as on the command line.
//!
//! With the `cli` feature, [`SlurmArgs`] is also a set of clap options (the binaries' `slurm`
//! subcommands flatten it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_err, JobsError, Result};

/// Refuses with a one-line [`JobsError::Config`].
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(JobsError::Config(format!($($t)*)))
    };
}

/// Resources and placement of the generated jobs (the `slurm` subcommand's options).
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlurmArgs {
    /// Number of array tasks (shards); task k runs shard k of this many.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 4))]
    pub tasks: usize,
    /// CPUs per task (`--cpus-per-task`); also caps each task's thread pool
    /// (RAYON_NUM_THREADS) unless that is already set.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 1))]
    pub cpus_per_task: usize,
    /// Memory per task (`--mem`), e.g. 4G or 500M.
    #[cfg_attr(feature = "cli", arg(long, default_value = "4G"))]
    pub mem: String,
    /// Time limit per task (`--time`), e.g. 04:00:00 or 1-00:00:00.
    #[cfg_attr(feature = "cli", arg(long, default_value = "04:00:00"))]
    pub time: String,
    /// Time limit of the merge job.
    #[cfg_attr(feature = "cli", arg(long, default_value = "01:00:00"))]
    pub merge_time: String,
    /// Partition (`--partition`); the cluster's default when absent.
    #[cfg_attr(feature = "cli", arg(long))]
    pub partition: Option<String>,
    /// Job name (`--job-name`; the merge job gets `-merge` appended). Default: the binary's name.
    #[cfg_attr(feature = "cli", arg(long))]
    pub job_name: Option<String>,
    /// Extra `#SBATCH` option for both jobs, e.g. --sbatch-option=--account=lab (repeatable).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "sbatch-option",
            value_name = "OPTION",
            allow_hyphen_values = true
        )
    )]
    pub sbatch_options: Vec<String>,
    /// Where the scripts are written. Default: slurm/JOB_NAME.
    #[cfg_attr(feature = "cli", arg(long))]
    pub script_dir: Option<PathBuf>,
    /// Where the per-task logs go (JOB_NAME-ARRAYID_TASK.out). Default: SCRIPT_DIR/logs.
    #[cfg_attr(feature = "cli", arg(long))]
    pub log_dir: Option<PathBuf>,
    /// Working directory of the jobs. Default: the current directory.
    #[cfg_attr(feature = "cli", arg(long))]
    pub chdir: Option<PathBuf>,
    /// The binary the tasks run. Default: this binary (its absolute path).
    #[cfg_attr(feature = "cli", arg(long))]
    pub binary: Option<PathBuf>,
}

impl Default for SlurmArgs {
    fn default() -> Self {
        Self {
            tasks: 4,
            cpus_per_task: 1,
            mem: "4G".into(),
            time: "04:00:00".into(),
            merge_time: "01:00:00".into(),
            partition: None,
            job_name: None,
            sbatch_options: vec![],
            script_dir: None,
            log_dir: None,
            chdir: None,
            binary: None,
        }
    }
}

/// What the jobs run: the binary's arguments for every array task and for the merge job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Default job name (the binary's name).
    pub name: String,
    /// Arguments of every array task (see [`task_args`]).
    pub task_args: Vec<String>,
    /// Arguments of the merge job, e.g. `["merge", "out/dir"]`.
    pub merge_args: Vec<String>,
}

/// The written scripts.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripts {
    pub dir: PathBuf,
    pub array: PathBuf,
    pub merge: PathBuf,
    pub submit: PathBuf,
    pub log_dir: PathBuf,
    pub tasks: usize,
}

impl Scripts {
    /// How to submit, follow and repair the jobs (printed by the `slurm` subcommands).
    pub fn instructions(&self) -> String {
        let q = |p: &Path| shell_quote(&p.to_string_lossy());
        format!(
            "wrote {array} ({n} tasks), {merge} and {submit}\n\
             submit:   bash {submit}   (extra sbatch options after it apply to both jobs)\n\
             follow:   squeue --me; per-task logs in {logs}\n\
             a failed or pre-empted task K: sbatch --array=K {array}   (finished parts are kept),\n\
             then:     sbatch {merge}   (merge lists any part still missing)",
            array = q(&self.array),
            merge = q(&self.merge),
            submit = q(&self.submit),
            logs = q(&self.log_dir),
            n = self.tasks,
        )
    }
}

/// Quotes `s` for a POSIX shell: unchanged when it holds only characters the shell never
/// interprets, else single-quoted (an embedded `'` becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('\'');
    for c in s.chars() {
        if c == '\'' {
            q.push_str("'\\''");
        } else {
            q.push(c);
        }
    }
    q.push('\'');
    q
}

/// A command line with every word quoted by [`shell_quote`].
pub fn shell_join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The arguments of an array task from the user's run arguments: refuses `--shard` (the array
/// task chooses the shard) and appends `--resume` unless present, so that a task run again
/// skips what is already on disk.
pub fn task_args(user_args: &[String]) -> Result<Vec<String>> {
    for a in user_args {
        if a == "--" {
            break;
        }
        if a == "--shard" || a.starts_with("--shard=") {
            bail!(
                "drop `{a}` from the run options: each array task takes its shard from \
                 SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT"
            );
        }
    }
    let mut args = user_args.to_vec();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    Ok(args)
}

/// Checks that an `#SBATCH` value is one word Slurm reads literally (no blanks, quotes,
/// comment signs or control characters).
fn check_word(what: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        bail!("{what} is empty");
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "'\"#\\".contains(*c))
    {
        bail!("{what} '{v}' contains {c:?}; #SBATCH lines need a value without blanks or quotes");
    }
    Ok(())
}

fn check_time(what: &str, v: &str) -> Result<()> {
    check_word(what, v)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_digit() || c == ':' || c == '-')
    {
        bail!("{what} '{v}' is not a Slurm time (MINUTES, HH:MM:SS or DAYS-HH:MM:SS)");
    }
    Ok(())
}

fn check_mem(v: &str) -> Result<()> {
    let digits = v.trim_end_matches(|c: char| "KMGTkmgt".contains(c));
    if digits.is_empty()
        || !digits.chars().all(|c| c.is_ascii_digit())
        || v.len() > digits.len() + 1
    {
        bail!("--mem '{v}' is not a Slurm memory size (e.g. 500M, 4G)");
    }
    Ok(())
}

/// `p` made absolute against `base` (without resolving links; the path may not exist yet).
fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The resolved settings that go into the scripts.
#[derive(Debug, Clone)]
struct Resolved {
    name: String,
    dir: PathBuf,
    log_dir: PathBuf,
    chdir: PathBuf,
    binary: PathBuf,
}

impl SlurmArgs {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.tasks == 0 {
            bail!("--tasks must be at least 1");
        }
        if self.cpus_per_task == 0 {
            bail!("--cpus-per-task must be at least 1");
        }
        check_mem(&self.mem)?;
        check_time("--time", &self.time)?;
        check_time("--merge-time", &self.merge_time)?;
        if let Some(p) = &self.partition {
            check_word("--partition", p)?;
        }
        if let Some(n) = &self.job_name {
            check_word("--job-name", n)?;
        }
        for o in &self.sbatch_options {
            if !o.starts_with('-') || o.contains(['\n', '\r']) {
                bail!("--sbatch-option '{o}' must be one sbatch option, e.g. --account=lab");
            }
        }
        Ok(())
    }

    fn resolve(&self, default_name: &str) -> Result<Resolved> {
        let cwd = std::env::current_dir().map_err(io_err(Path::new(".")))?;
        let name = self.job_name.clone().unwrap_or_else(|| default_name.into());
        check_word("--job-name", &name)?;
        let dir = absolute(
            &cwd,
            &self
                .script_dir
                .clone()
                .unwrap_or_else(|| Path::new("slurm").join(&name)),
        );
        let log_dir = absolute(&cwd, self.log_dir.as_deref().unwrap_or(&dir.join("logs")));
        let chdir = absolute(&cwd, self.chdir.as_deref().unwrap_or(&cwd));
        let binary = match &self.binary {
            Some(b) => absolute(&cwd, b),
            None => std::env::current_exe()
                .map_err(|e| JobsError::Config(format!("cannot find this binary's path: {e}")))?,
        };
        let utf8 = |what: &str, p: &Path| match p.to_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(JobsError::Config(format!(
                "{what} {} is not UTF-8",
                p.display()
            ))),
        };
        for (what, p) in [("log directory", &log_dir), ("--chdir", &chdir)] {
            check_word(what, &utf8(what, p)?)?;
        }
        utf8("binary", &binary)?;
        Ok(Resolved {
            name,
            dir,
            log_dir,
            chdir,
            binary,
        })
    }
}

/// `#SBATCH` lines shared by both jobs.
fn common_header(s: &mut String, cfg: &SlurmArgs, r: &Resolved) {
    if let Some(p) = &cfg.partition {
        writeln!(s, "#SBATCH --partition={p}").unwrap();
    }
    writeln!(s, "#SBATCH --chdir={}", r.chdir.display()).unwrap();
    for o in &cfg.sbatch_options {
        writeln!(s, "#SBATCH {o}").unwrap();
    }
}

fn array_script(cfg: &SlurmArgs, r: &Resolved, job: &Job) -> String {
    let n = cfg.tasks;
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    writeln!(s, "#SBATCH --job-name={}", r.name).unwrap();
    writeln!(s, "#SBATCH --array=0-{}", n - 1).unwrap();
    writeln!(s, "#SBATCH --ntasks=1").unwrap();
    writeln!(s, "#SBATCH --cpus-per-task={}", cfg.cpus_per_task).unwrap();
    writeln!(s, "#SBATCH --mem={}", cfg.mem).unwrap();
    writeln!(s, "#SBATCH --time={}", cfg.time).unwrap();
    writeln!(s, "#SBATCH --output={}/%x-%A_%a.out", r.log_dir.display()).unwrap();
    common_header(&mut s, cfg, r);
    let cmd = shell_join(
        &std::iter::once(r.binary.to_string_lossy().into_owned())
            .chain(job.task_args.iter().cloned())
            .collect::<Vec<_>>(),
    );
    write!(
        s,
        r#"#
# Task k of this array runs shard k of {n} of the job below: the binary reads its shard from
# SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT. With --resume a task run again skips the parts
# already on disk, so a failed or pre-empted task is simply submitted again:
#   sbatch --array=K {script}
set -euo pipefail
: "${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch (it is a job array)}}"
if (( SLURM_ARRAY_TASK_ID < 0 || SLURM_ARRAY_TASK_ID >= {n} )); then
    echo "array task $SLURM_ARRAY_TASK_ID is outside 0-{last}: this job has {n} shards" >&2
    exit 2
fi
# The shard count is fixed by this script, so a task re-submitted alone still runs its shard.
export SLURM_ARRAY_TASK_COUNT={n} SLURM_ARRAY_TASK_MIN=0
export RAYON_NUM_THREADS="${{RAYON_NUM_THREADS:-${{SLURM_CPUS_PER_TASK:-{cpus}}}}}"
echo "shard $SLURM_ARRAY_TASK_ID/{n} (job ${{SLURM_ARRAY_JOB_ID:-?}}) on $(hostname) at $(date -u +%FT%TZ)"
{cmd}
echo "shard $SLURM_ARRAY_TASK_ID/{n} finished at $(date -u +%FT%TZ)"
"#,
        script = shell_quote(&r.dir.join("array.sbatch").to_string_lossy()),
        last = n - 1,
        cpus = cfg.cpus_per_task,
    )
    .unwrap();
    s
}

fn merge_script(cfg: &SlurmArgs, r: &Resolved, job: &Job) -> String {
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    writeln!(s, "#SBATCH --job-name={}-merge", r.name).unwrap();
    writeln!(s, "#SBATCH --ntasks=1").unwrap();
    writeln!(s, "#SBATCH --cpus-per-task=1").unwrap();
    writeln!(s, "#SBATCH --mem={}", cfg.mem).unwrap();
    writeln!(s, "#SBATCH --time={}", cfg.merge_time).unwrap();
    writeln!(s, "#SBATCH --output={}/%x-%j.out", r.log_dir.display()).unwrap();
    common_header(&mut s, cfg, r);
    let cmd = shell_join(
        &std::iter::once(r.binary.to_string_lossy().into_owned())
            .chain(job.merge_args.iter().cloned())
            .collect::<Vec<_>>(),
    );
    write!(
        s,
        "#\n# Merges the parts of all {n} shards; fails, naming the missing parts, if any is absent.\n\
         set -euo pipefail\n\
         {cmd}\n",
        n = cfg.tasks
    )
    .unwrap();
    s
}

fn submit_script(r: &Resolved, tasks: usize) -> String {
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    format!(
        r#"#!/bin/bash
# Submits the job array ({tasks} tasks), then the merge job, which starts once every task has
# succeeded (and is cancelled if one fails). Arguments are passed to both sbatch calls.
set -euo pipefail
mkdir -p {logs}
array_id=$(sbatch --parsable "$@" {array})
array_id=${{array_id%%;*}}
merge_id=$(sbatch --parsable --dependency=afterok:"$array_id" --kill-on-invalid-dep=yes "$@" {merge})
merge_id=${{merge_id%%;*}}
echo "submitted job array $array_id ({tasks} tasks) and merge job $merge_id (after all tasks succeed)"
echo "logs:" {logs}
"#,
        logs = q(&r.log_dir),
        array = q(&r.dir.join("array.sbatch")),
        merge = q(&r.dir.join("merge.sbatch")),
    )
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    crate::durable::write_atomic(path, text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err(path))?;
    }
    Ok(())
}

/// Writes `array.sbatch`, `merge.sbatch` and `submit.sh` for `job` into the script directory
/// (and creates the log directory).
pub fn write_scripts(cfg: &SlurmArgs, job: &Job) -> Result<Scripts> {
    cfg.validate()?;
    task_args(&job.task_args)?;
    let r = cfg.resolve(&job.name)?;
    std::fs::create_dir_all(&r.dir).map_err(io_err(&r.dir))?;
    std::fs::create_dir_all(&r.log_dir).map_err(io_err(&r.log_dir))?;
    let scripts = Scripts {
        array: r.dir.join("array.sbatch"),
        merge: r.dir.join("merge.sbatch"),
        submit: r.dir.join("submit.sh"),
        dir: r.dir.clone(),
        log_dir: r.log_dir.clone(),
        tasks: cfg.tasks,
    };
    write_script(&scripts.array, &array_script(cfg, &r, job))?;
    write_script(&scripts.merge, &merge_script(cfg, &r, job))?;
    write_script(&scripts.submit, &submit_script(&r, cfg.tasks))?;
    Ok(scripts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("slurm-scripts-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Runs `bash -c 'printf "%s\0" WORDS'` and returns the words bash saw.
    fn bash_words(line: &str) -> Vec<String> {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .expect("bash runs");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut words: Vec<String> = text.split('\0').map(String::from).collect();
        assert_eq!(words.pop().as_deref(), Some(""));
        words
    }

    #[test]
    fn shell_quote_round_trips_through_bash() {
        assert_eq!(
            shell_quote("plain-word_1.5/x=y:z,@%+"),
            "plain-word_1.5/x=y:z,@%+"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        let words = strings(&[
            "a b",
            "it's",
            "$HOME",
            "`date`",
            "$(echo hi)",
            "*",
            "x;y|z&",
            "\"q\"",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "",
            "'",
            "ünïcødé λ",
            "--flag=va lue",
            "!bang",
            "~",
        ]);
        assert_eq!(bash_words(&shell_join(&words)), words);
    }

    #[test]
    fn task_args_refuse_shard_and_add_resume() {
        let a = task_args(&strings(&["--n", "48", "--out", "d"])).unwrap();
        assert_eq!(a, strings(&["--n", "48", "--out", "d", "--resume"]));
        let a = task_args(&strings(&["run", "--resume", "--out", "d"])).unwrap();
        assert_eq!(a, strings(&["run", "--resume", "--out", "d"]));
        for bad in [&["--shard", "0/4"][..], &["--out", "d", "--shard=1/2"]] {
            let e = task_args(&strings(bad)).unwrap_err().to_string();
            assert!(e.contains("SLURM_ARRAY_TASK_ID"), "{e}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let ok = SlurmArgs::default();
        ok.validate().unwrap();
        let bad = [
            SlurmArgs {
                tasks: 0,
                ..ok.clone()
            },
            SlurmArgs {
                mem: "lots".into(),
                ..ok.clone()
            },
            SlurmArgs {
                time: "4 hours".into(),
                ..ok.clone()
            },
            SlurmArgs {
                partition: Some("a b".into()),
                ..ok.clone()
            },
            SlurmArgs {
                sbatch_options: vec!["--account=x\n#SBATCH --qos=y".into()],
                ..ok.clone()
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?}");
        }
        for m in ["500M", "4G", "4096", "1t"] {
            check_mem(m).unwrap();
        }
        // Serde defaults agree with the command line's.
        let from_json: SlurmArgs = serde_json::from_str(r#"{"tasks": 8}"#).unwrap();
        assert_eq!(
            from_json,
            SlurmArgs {
                tasks: 8,
                ..SlurmArgs::default()
            }
        );
    }

    fn fake_bin(dir: &Path) -> PathBuf {
        // Prints its arguments one per line, then the shard the binaries would resolve.
        let p = dir.join("fake bin");
        std::fs::write(
            &p,
            "#!/bin/bash\nprintf '%s\\n' \"$@\"\n\
             echo \"SHARD=$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT min=$SLURM_ARRAY_TASK_MIN threads=$RAYON_NUM_THREADS\"\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        p
    }

    #[test]
    fn scripts_hold_the_array_the_dependency_and_the_quoted_command() {
        let d = tmp("scripts");
        let bin = fake_bin(&d);
        let cfg = SlurmArgs {
            tasks: 4,
            cpus_per_task: 2,
            mem: "3G".into(),
            time: "00:30:00".into(),
            partition: Some("short".into()),
            sbatch_options: vec!["--account=lab".into()],
            script_dir: Some(d.join("scripts")),
            chdir: Some(d.clone()),
            binary: Some(bin.clone()),
            ..SlurmArgs::default()
        };
        let user = strings(&["run", "--config", "my sweep.toml", "--out", "it's/$HOME"]);
        let job = Job {
            name: "lambda-sweep".into(),
            task_args: task_args(&user).unwrap(),
            merge_args: strings(&["merge", "it's/$HOME"]),
        };
        let s = write_scripts(&cfg, &job).unwrap();
        assert_eq!(s.log_dir, d.join("scripts/logs"));
        assert!(s.log_dir.is_dir());
        let array = std::fs::read_to_string(&s.array).unwrap();
        let merge = std::fs::read_to_string(&s.merge).unwrap();
        let submit = std::fs::read_to_string(&s.submit).unwrap();
        for line in [
            "#SBATCH --array=0-3",
            "#SBATCH --job-name=lambda-sweep",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem=3G",
            "#SBATCH --time=00:30:00",
            "#SBATCH --partition=short",
            "#SBATCH --account=lab",
            "set -euo pipefail",
        ] {
            assert!(array.lines().any(|l| l == line), "{line} in\n{array}");
        }
        let out_line = format!("#SBATCH --output={}/%x-%A_%a.out", s.log_dir.display());
        assert!(array.lines().any(|l| l == out_line), "{array}");
        assert!(
            array.contains(&format!(
                "{} run --config 'my sweep.toml' --out 'it'\\''s/$HOME' --resume",
                shell_quote(&bin.to_string_lossy())
            )),
            "{array}"
        );
        assert!(!array.contains("--shard"));
        assert!(merge.contains("#SBATCH --job-name=lambda-sweep-merge"));
        assert!(merge.contains("merge 'it'\\''s/$HOME'"), "{merge}");
        assert!(submit.contains("sbatch --parsable"));
        assert!(submit.contains("--dependency=afterok:\"$array_id\""));
        for p in [&s.array, &s.merge, &s.submit] {
            let st = Command::new("bash").arg("-n").arg(p).status().unwrap();
            assert!(st.success(), "bash -n {}", p.display());
        }
        assert!(s.instructions().contains("submit.sh"));

        // Run the task script as Slurm would (task 2 re-submitted alone: its array has one
        // task, min 2): the binary gets the user's words unchanged and shard 2 of 4.
        let out = Command::new("bash")
            .arg(&s.array)
            .env("SLURM_ARRAY_TASK_ID", "2")
            .env("SLURM_ARRAY_TASK_COUNT", "1")
            .env("SLURM_ARRAY_TASK_MIN", "2")
            .env("SLURM_CPUS_PER_TASK", "2")
            .env_remove("RAYON_NUM_THREADS")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let expect: Vec<&str> = job.task_args.iter().map(String::as_str).collect();
        let start = lines.iter().position(|l| *l == "run").unwrap();
        assert_eq!(&lines[start..start + expect.len()], &expect[..]);
        assert!(text.contains("SHARD=2/4 min=0 threads=2"), "{text}");
        // Outside an array, or with a task beyond the shards, the script refuses to run.
        for id in [None, Some("4")] {
            let mut c = Command::new("bash");
            c.arg(&s.array).env_remove("SLURM_ARRAY_TASK_ID");
            if let Some(id) = id {
                c.env("SLURM_ARRAY_TASK_ID", id);
            }
            assert!(!c.output().unwrap().status.success());
        }

        // submit.sh with a stand-in sbatch: the array first, then the merge after it.
        let fake = d.join("fakebin");
        std::fs::create_dir_all(&fake).unwrap();
        let log = d.join("sbatch.log");
        std::fs::write(
            fake.join("sbatch"),
            format!(
                "#!/bin/bash\necho \"$*\" >> {}\nn=$(wc -l < {})\necho \"$((100 + n));cluster\"\n",
                shell_quote(&log.to_string_lossy()),
                shell_quote(&log.to_string_lossy())
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(fake.join("sbatch"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
        let out = Command::new("bash")
            .arg(&s.submit)
            .arg("--qos=low")
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let calls = std::fs::read_to_string(&log).unwrap();
        let calls: Vec<&str> = calls.lines().collect();
        assert_eq!(
            calls,
            [
                format!("--parsable --qos=low {}", s.array.display()),
                format!(
                    "--parsable --dependency=afterok:101 --kill-on-invalid-dep=yes --qos=low {}",
                    s.merge.display()
                ),
            ]
        );
        let said = String::from_utf8(out.stdout).unwrap();
        assert!(
            said.contains("job array 101 (4 tasks) and merge job 102"),
            "{said}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn paths_with_blanks_are_refused_for_sbatch_lines() {
        let d = tmp("blank");
        let cfg = SlurmArgs {
            script_dir: Some(d.join("a b")),
            binary: Some("/bin/true".into()),
            ..SlurmArgs::default()
        };
        let job = Job {
            name: "x".into(),
            task_args: vec![],
            merge_args: strings(&["merge", "d"]),
        };
        let e = write_scripts(&cfg, &job).unwrap_err().to_string();
        assert!(e.contains("log directory"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
