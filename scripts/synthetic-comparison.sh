#!/usr/bin/env bash
# Surrogate-assisted vs simulator-driven CMA-ES on the synthetic default (ground truth θ*), the
# way the published surrogate was built: a Latin-hypercube dataset plus the trajectories of
# simulator-driven CMA-ES runs (seeds other than the compared run's), an MLP ensemble trained on
# them, then one comparison run whose candidates are all validated with 10 noise duplicates.
# Usage: scripts/synthetic-comparison.sh [OUT]   (default out/synthetic-comparison; resumable)
set -euo pipefail
OUT=${1:-out/synthetic-comparison}
BIN=${CARGO_TARGET_DIR:-target}/release
S=(--duration 400 --burn-in 40)
mkdir -p "$OUT"
t0=$(date +%s)
"$BIN/pmfm-dataset" "${S[@]}" --design lhs --n 1024 --batch 64 --seed 0 --out "$OUT/lhs" --resume
"$BIN/pmfm-dataset" "${S[@]}" --design cmaes --cma-runs 2 --generations 8 --batch 32 --seed 100 --out "$OUT/traj-a" --resume
"$BIN/pmfm-dataset" "${S[@]}" --design cmaes --cma-runs 4 --generations 12 --batch 32 --seed 200 --out "$OUT/traj-b" --resume
t1=$(date +%s)
"$BIN/train-surrogate" --table "$OUT/lhs" --table "$OUT/traj-a" --table "$OUT/traj-b" --models mlp --ensemble 3 --out "$OUT/surrogate"
t2=$(date +%s)
"$BIN/compare-optimizers" "${S[@]}" --surrogate "$OUT/surrogate/mlp" --methods euler-cmaes,surrogate-cmaes,surrogate-gd \
  --surrogate-population 128 --surrogate-generations 60 --n-dup-validate 10 --out "$OUT/compare"
echo "dataset generation $((t1 - t0)) s (3,072 θ), surrogate training $((t2 - t1)) s"
