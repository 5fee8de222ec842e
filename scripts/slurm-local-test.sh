#!/usr/bin/env bash
# Local Slurm test (issue 7, must-show 1): a real single-node Slurm cluster on localhost runs
# the job arrays written by `pmfm-dataset slurm` and `lambda-sweep slurm` (4 tasks each), and
# the merged Parquet tables must equal single-process runs with the same arguments (wall-time
# columns ignored). It also loses one part of the dataset, checks that `merge` refuses and names
# it, re-runs that one array task alone and checks the repaired table again.
#
# Needs root (it installs Debian's slurm-wlm and munge when missing and runs the daemons as
# root) and the release binaries:
#   CARGO_TARGET_DIR=... cargo build --release --workspace --features experiments/wgpu --bins --examples
# Run from the repository root:
#   scripts/slurm-local-test.sh
# Environment: CARGO_TARGET_DIR (default target), SLURM_TEST_TIMEOUT (seconds per wait,
# default 1800), SLURM_TEST_KEEP=1 keeps the work directory (always kept on failure).
# Everything (config, munge key, state, logs, outputs) lives in one temporary directory; the
# daemons it starts (munged, slurmctld, slurmd) are stopped on exit, whatever happens.
set -euo pipefail

T_START=$(date +%s)
STAGE="setup"
WORK=""
STARTED_DAEMONS=()
TIMEOUT=${SLURM_TEST_TIMEOUT:-1800}

say() { echo "[slurm-local-test $(date -u +%H:%M:%S)] $*"; }
fail() { say "error: $*" >&2; exit 1; }
pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_daemons() {
    # Cancel what is still queued on our private cluster, then stop our daemons by their pids.
    if [[ -n "${SLURM_CONF:-}" && -f "${SLURM_CONF}" ]] && pid_alive "$WORK/slurmctld.pid"; then
        scancel --quiet --user=root >/dev/null 2>&1 || true
        sleep 1
    fi
    local f pid i k
    # In reverse order of starting: slurmd, slurmctld, then munged.
    for (( k = ${#STARTED_DAEMONS[@]} - 1; k >= 0; k-- )); do
        f=${STARTED_DAEMONS[k]}
        [[ -s "$f" ]] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || continue
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
    done
}

finish() {
    local rc=$?
    set +e
    trap - EXIT
    stop_daemons
    local total=$(( $(date +%s) - T_START ))
    if [[ $rc -eq 0 ]]; then
        [[ -n "$WORK" && "${SLURM_TEST_KEEP:-0}" != 1 ]] && rm -rf "$WORK"
        echo "slurm-local-test: PASS: 4-task job arrays gave the same merged tables as single processes (dataset ${DS_ROWS:-?} rows: array ${T_DS_ARRAY:-?} s, single ${T_DS_SINGLE:-?} s, lost part re-run ${T_DS_REPAIR:-?} s; sweep ${SW_ROWS:-?} models: array ${T_SW_ARRAY:-?} s, single ${T_SW_SINGLE:-?} s; total ${total} s)"
    else
        if [[ -n "$WORK" && -d "$WORK" ]]; then
            echo "--- last lines of the logs in $WORK/log (kept) ---" >&2
            tail -n 15 "$WORK"/log/*.log "$WORK"/munge/munged.log >&2 2>/dev/null
        fi
        echo "slurm-local-test: FAIL at stage '$STAGE' (exit $rc, ${total} s); work directory: ${WORK:-none}"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
STAGE="checking binaries"
[[ $(id -u) -eq 0 ]] || fail "run as root (installs packages and runs slurmctld/slurmd as root)"
[[ -f Cargo.toml && -d experiments ]] || fail "run from the repository root"
TARGET=${CARGO_TARGET_DIR:-target}
[[ "$TARGET" = /* ]] || TARGET="$PWD/$TARGET"
DATASET="$TARGET/release/pmfm-dataset"
SWEEP="$TARGET/release/lambda-sweep"
EQUAL="$TARGET/release/examples/tables_equal"
for b in "$DATASET" "$SWEEP" "$EQUAL"; do
    [[ -x "$b" ]] || fail "$b is missing; build with: cargo build --release --workspace --features experiments/wgpu --bins --examples"
done

STAGE="installing slurm-wlm and munge"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurm-wlm munge
fi
say "$(slurmctld -V), $(munged --version 2>&1 | head -n 1)"

# ---------------------------------------------------------------------------------------------
STAGE="starting munged"
WORK=$(mktemp -d /tmp/slurm-local-test.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK"/{munge,state,spool,log,out}
chmod 755 "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
SOCKET="$WORK/munge/munge.socket.2"
STARTED_DAEMONS+=("$WORK/munge/munged.pid")
munged --force --socket="$SOCKET" --key-file="$WORK/munge/munge.key" \
    --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" \
    --seed-file="$WORK/munge/munged.seed"
for _ in $(seq 50); do [[ -S "$SOCKET" ]] && break; sleep 0.1; done
[[ -S "$SOCKET" ]] || fail "munged did not create $SOCKET"
munge --socket="$SOCKET" -n | unmunge --socket="$SOCKET" >/dev/null || fail "munge round trip failed"

STAGE="starting slurmctld and slurmd"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
CTLD_PORT=""
for p in $(seq 16817 2 16899); do
    if port_free "$p" && port_free $((p + 1)); then CTLD_PORT=$p; break; fi
done
[[ -n "$CTLD_PORT" ]] || fail "no free port pair in 16817-16900"
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
export SLURM_CONF="$WORK/slurm.conf"
cat > "$SLURM_CONF" <<EOF
# Minimal single-node cluster for scripts/slurm-local-test.sh
ClusterName=localtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
NodeName=localhost CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
STARTED_DAEMONS+=("$WORK/slurmctld.pid" "$WORK/slurmd.pid")
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N localhost

STAGE="waiting for the node"
state=""
for _ in $(seq 120); do
    state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
    [[ "$state" == idle ]] && break
    sleep 0.5
done
[[ "$state" == idle ]] || fail "node localhost is '${state:-unknown}', not idle after 60 s"
say "cluster up: localhost, $CPUS CPUs, ${MEM_MB} MB, ports $CTLD_PORT/$((CTLD_PORT + 1)), config $SLURM_CONF"

# Waits until the queue is empty (at most TIMEOUT s), then checks that every job in "$@"
# (array ids included) ended COMPLETED.
wait_jobs() {
    local t0 now n
    t0=$(date +%s)
    while n=$(squeue -h -o %i | wc -l); [[ $n -gt 0 ]]; do
        now=$(date +%s)
        if (( now - t0 > TIMEOUT )); then
            squeue >&2
            fail "jobs still queued after $TIMEOUT s"
        fi
        sleep 1
    done
    local id out bad
    for id in "$@"; do
        out=$(scontrol -o show job "$id") || fail "scontrol show job $id failed"
        bad=$(grep -v 'JobState=COMPLETED' <<<"$out" \
            | grep -o 'JobId=[0-9]*\|ArrayTaskId=[0-9]*\|JobState=[A-Z_]*\|Reason=[^ ]*\|ExitCode=[0-9:]*' \
            | paste -sd' ' || true)
        [[ -z "$bad" ]] || fail "job $id did not complete: $bad"
    done
}

# Compares two Parquet tables (ignoring the columns in $3); sets ROWS to their row count.
compare_tables() {
    local out
    out=$("$EQUAL" "$1" "$2" --ignore "$3") || { echo "$out"; fail "the tables differ"; }
    echo "$out"
    ROWS=$(sed -n 's/^equal: \([0-9]*\) rows.*/\1/p' <<<"$out")
}

# Runs a generated submit.sh and sets ARRAY_ID and MERGE_ID from what it prints
# ("submitted job array A (...) and merge job M ...").
submit_jobs() {
    local said ids
    said=$(bash "$1") || fail "$1 failed: $said"
    echo "$said"
    ids=$(sed -n 's/^submitted job array \([0-9]*\) .* merge job \([0-9]*\) .*/\1 \2/p' <<<"$said")
    read -r ARRAY_ID MERGE_ID <<<"$ids"
    [[ -n "${MERGE_ID:-}" ]] || fail "$1 did not report the job ids"
}

# Stage $1: binary $2's `slurm` command writes a 4-task job array (job name $3) and its merge job
# to $4, with the remaining arguments (more options, then `--` and the task command); then they
# run and must leave the merged table $5, each task running its own shard k/4 (from
# SLURM_ARRAY_TASK_ID: the task command has no --shard). Sets ARRAY_ID, MERGE_ID, T_ARRAY (s).
array_job() {
    local what=$1 bin=$2 name=$3 scripts=$4 table=$5 t0 k logs
    shift 5
    STAGE="$what: writing the Slurm scripts"
    "$bin" slurm --tasks 4 --cpus-per-task 1 --mem 2G --time 00:30:00 \
        --job-name "$name" --script-dir "$scripts" "$@"
    ! grep -q -- '--shard' "$scripts/array.sbatch" || fail "the task command contains --shard"

    STAGE="$what: job array"
    t0=$(date +%s)
    submit_jobs "$scripts/submit.sh"
    wait_jobs "$ARRAY_ID" "$MERGE_ID"
    T_ARRAY=$(( $(date +%s) - t0 ))
    [[ -f "$table" ]] || fail "no merged $(basename "$table") after the merge job"
    shopt -s nullglob
    logs=("$scripts/logs/$name-$ARRAY_ID"_*.out)
    shopt -u nullglob
    [[ ${#logs[@]} -eq 4 ]] || fail "expected 4 per-task logs, found ${#logs[@]}"
    for k in 0 1 2 3; do
        grep -q "shard $k/4" "$scripts/logs/$name-${ARRAY_ID}_$k.out" \
            || fail "task $k's log does not show shard $k/4"
    done
    say "$what array $ARRAY_ID + merge $MERGE_ID done in $T_ARRAY s"
}

STAGE="smoke test (sbatch --array=0-3 --wrap)"
SMOKE=$(sbatch --parsable --array=0-3 --output="$WORK/out/smoke-%a.out" --mem=100M \
    --wrap 'echo "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"')
wait_jobs "$SMOKE"
for k in 0 1 2 3; do
    [[ "$(cat "$WORK/out/smoke-$k.out")" == "$k/4" ]] || fail "smoke task $k wrote '$(cat "$WORK/out/smoke-$k.out")'"
done
say "smoke job array $SMOKE: 4 tasks saw SLURM_ARRAY_TASK_ID/COUNT = k/4"

# ---------------------------------------------------------------------------------------------
# (a) pmfm-dataset: 48 θ in 8 batches of 6, 4 shards.
DS_ARGS=(--duration 80 --burn-in 5 --fcd-window 20 --warmup-steps 100 --n 48 --batch 6 --seed 5)

array_job dataset "$DATASET" ds-test "$WORK/ds-scripts" "$WORK/ds-array/dataset.parquet" \
    --partition local -- "${DS_ARGS[@]}" --out "$WORK/ds-array"
DS_ARRAY=$ARRAY_ID DS_MERGE=$MERGE_ID T_DS_ARRAY=$T_ARRAY

STAGE="dataset: single process"
t0=$(date +%s)
env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT "$DATASET" "${DS_ARGS[@]}" --out "$WORK/ds-single" 2>"$WORK/log/ds-single.log"
T_DS_SINGLE=$(( $(date +%s) - t0 ))

STAGE="dataset: comparing the tables"
compare_tables "$WORK/ds-array/dataset.parquet" "$WORK/ds-single/dataset.parquet" wall_s
DS_ROWS=$ROWS
# The comparison is not vacuous: with the wall times kept, the tables differ.
if "$EQUAL" "$WORK/ds-array/dataset.parquet" "$WORK/ds-single/dataset.parquet" >/dev/null; then
    fail "tables_equal found equal wall_s columns; is the comparison working?"
fi

STAGE="dataset: lost part, merge refuses"
# Batch 5 belongs to shard 1 (5 mod 4); lose its part (and the merged table).
rm "$WORK/ds-array/part-000005.parquet" "$WORK/ds-array/dataset.parquet"
if "$DATASET" merge "$WORK/ds-array" 2>"$WORK/log/ds-merge-missing.log"; then
    fail "merge succeeded with a part missing"
fi
grep -q "batches 5" "$WORK/log/ds-merge-missing.log" || fail "merge did not name the missing batch: $(cat "$WORK/log/ds-merge-missing.log")"
say "merge refused: $(cat "$WORK/log/ds-merge-missing.log")"

STAGE="dataset: re-running task 1 alone"
t0=$(date +%s)
REPAIR=$(sbatch --parsable --array=1 "$WORK/ds-scripts/array.sbatch")
REPAIR=${REPAIR%%;*}
wait_jobs "$REPAIR"
REMERGE=$(sbatch --parsable "$WORK/ds-scripts/merge.sbatch")
REMERGE=${REMERGE%%;*}
wait_jobs "$REMERGE"
T_DS_REPAIR=$(( $(date +%s) - t0 ))
grep -q "shard 1/4" "$WORK/ds-scripts/logs/ds-test-${REPAIR}_1.out" || fail "the re-run task did not run shard 1/4"
compare_tables "$WORK/ds-array/dataset.parquet" "$WORK/ds-single/dataset.parquet" wall_s
say "task 1 re-run ($REPAIR) and merge ($REMERGE) restored the table in $T_DS_REPAIR s"

# ---------------------------------------------------------------------------------------------
# (b) lambda-sweep: 4 λ in two grids × 2 seeds = 8 models, 4 shards.
# The tiny sweep of the end-to-end tests (8 models, under a second each).
cp "$(dirname "$0")/../tests/tiny-sweep.toml" "$WORK/sweep.toml"

array_job sweep "$SWEEP" sweep-test "$WORK/sweep-scripts" "$WORK/sweep-array/sweep.parquet" \
    -- run --config "$WORK/sweep.toml" --out "$WORK/sweep-array"
SW_ARRAY=$ARRAY_ID SW_MERGE=$MERGE_ID T_SW_ARRAY=$T_ARRAY

STAGE="sweep: single process"
t0=$(date +%s)
env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT "$SWEEP" run --config "$WORK/sweep.toml" \
    --out "$WORK/sweep-single" 2>"$WORK/log/sweep-single.log"
T_SW_SINGLE=$(( $(date +%s) - t0 ))

STAGE="sweep: comparing the tables"
compare_tables "$WORK/sweep-array/sweep.parquet" "$WORK/sweep-single/sweep.parquet" train_s,eval_s
SW_ROWS=$ROWS

STAGE="done"
