#!/usr/bin/env bash
# CPU and GPU figures of issue 7 in one run on one machine: the pMFM simulator (fused CPU engine,
# GPU kernel engine, GPU tensor engine), surrogate training and inference, and cRBM PCD updates,
# each on the CPU (flex) and on the GPU (wgpu). Prints the tables and keeps them, with a
# description of the machine, under $OUT.
#
#   scripts/gpu-bench.sh                      # builds with the README's feature set, then runs
#   BIN=/path/to/release scripts/gpu-bench.sh # prebuilt binaries (a GPU machine without network)
#   QUICK=1 GPU=wgpu-cpu scripts/gpu-bench.sh # minutes-long smoke run on Mesa's lavapipe
#
# A step that fails (no GPU adapter, say) is reported and the others still run; the exit code is
# non-zero then. For a machine without network or Rust, scripts/gpu-bundle.sh packs the binaries.
#
# BIN must hold bench-sim, pmfm-dataset, train-surrogate, surrogate-speedup and examples/pcd_bench
# (`cargo build --release --workspace --features experiments/wgpu --bins --examples`).
set -euo pipefail
cd "$(dirname "$0")/.."

GPU=${GPU:-wgpu}
OUT=${OUT:-out/gpu-bench}
QUICK=${QUICK:-0}
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --workspace --features experiments/wgpu --bins --examples
  BIN=${CARGO_TARGET_DIR:-target}/release
fi
PCD_BENCH=$BIN/examples/pcd_bench
[[ -x "$PCD_BENCH" ]] || PCD_BENCH=$BIN/pcd_bench # flat layout of scripts/gpu-bundle.sh
for b in "$BIN/bench-sim" "$BIN/pmfm-dataset" "$BIN/train-surrogate" "$BIN/surrogate-speedup" "$PCD_BENCH"; do
  [[ -x "$b" ]] || { echo "error: $b missing (see the header of $0)" >&2; exit 1; }
done
mkdir -p "$OUT"

if [[ "$QUICK" == 1 ]]; then
  SCHED=(--duration 60 --burn-in 5 --warmup-steps 100 --fcd-window 20)
  KERNEL_BATCHES=1,16,64; TENSOR_BATCHES=16; CPU_BATCHES=16,64
  DATASET_N=256; EPOCHS=20; PCD=(4000 50 50 5 3)
else
  SCHED=()
  KERNEL_BATCHES=64,256,1024,4096; TENSOR_BATCHES=256; CPU_BATCHES=64,256
  DATASET_N=4096; EPOCHS=200; PCD=(40000 200 100 15 5)
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) ($(nproc) threads)"
  if command -v nvidia-smi >/dev/null; then
    echo "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
  fi
  echo "vulkan drivers: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep json | xargs)"
  echo "device under test: $GPU; quick: $QUICK"
} | tee "$OUT/machine.txt"

stamp() { date +%s.%N; }
# A failing step (no adapter, say) is recorded and the next one runs; the exit code tells.
failed=0
step() {
  local log=$1; shift
  "$@" 2>&1 | tee -a "$log" || { echo "FAILED: $*" | tee -a "$log"; failed=1; }
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "== pMFM simulator: seconds per parameter set (simulate + FC/FCD cost) ==" | tee "$OUT/sim.txt"
step "$OUT/sim.txt" "$BIN/bench-sim" --devices flex --engines fused --batches "$CPU_BATCHES" "${SCHED[@]}"
step "$OUT/sim.txt" "$BIN/bench-sim" --devices "$GPU" --engines kernel --reps 2 --batches "$KERNEL_BATCHES" "${SCHED[@]}"
step "$OUT/sim.txt" "$BIN/bench-sim" --devices "$GPU" --engines tensor --batches "$TENSOR_BATCHES" "${SCHED[@]}"

echo "== surrogate: training (MLP ensemble) and inference ==" | tee "$OUT/surrogate.txt"
DS="$OUT/dataset"
t0=$(stamp)
if "$BIN/pmfm-dataset" --device "$GPU" --n "$DATASET_N" --out "$DS" --resume "${SCHED[@]}" >"$OUT/dataset.log" 2>&1; then
  echo "dataset: $DATASET_N θ simulated on $GPU in $(secs "$t0" "$(stamp)") s" | tee -a "$OUT/surrogate.txt"
else
  echo "dataset on $GPU failed (see $OUT/dataset.log); simulating it on flex" | tee -a "$OUT/surrogate.txt"
  "$BIN/pmfm-dataset" --n "$DATASET_N" --out "$DS" --resume "${SCHED[@]}" >>"$OUT/dataset.log" 2>&1
  failed=1
fi
for dev in flex "$GPU"; do
  t0=$(stamp)
  if "$BIN/train-surrogate" --device "$dev" --table "$DS" --models mlp --epochs "$EPOCHS" \
    --out "$OUT/surr-$dev" "${SCHED[@]}" >"$OUT/train-$dev.log" 2>&1; then
    echo "train-surrogate (mlp, $EPOCHS epochs) on $dev: $(secs "$t0" "$(stamp)") s" | tee -a "$OUT/surrogate.txt"
  else
    echo "FAILED: train-surrogate on $dev (see $OUT/train-$dev.log)" | tee -a "$OUT/surrogate.txt"
    failed=1
  fi
done
for dev in flex "$GPU"; do
  echo "-- surrogate-speedup on $dev --" | tee -a "$OUT/surrogate.txt"
  step "$OUT/surrogate.txt" "$BIN/surrogate-speedup" --device "$dev" --model "$OUT/surr-flex/mlp" \
    --sim-batches 16 "${SCHED[@]}"
done

echo "== cRBM: seconds per PCD update (N M batch sweeps updates = ${PCD[*]}) ==" | tee "$OUT/crbm.txt"
step "$OUT/crbm.txt" "$PCD_BENCH" "${PCD[@]}" device "$([[ "$GPU" == wgpu* ]] && echo wgpu)"

echo "tables kept in $OUT"
exit "$failed"
