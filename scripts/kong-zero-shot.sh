#!/usr/bin/env bash
# Zero-shot fit of a real group the predictor never saw (issue 18, must-show 2): CMA-ES
# trajectories on synthetic family groups and on kong2021's train and vali splits train the
# group-conditioned predictors (kong2021 test's own trajectories are simulated only to measure the
# predictor on it, and held out of training with --group-split); then compare-optimizers fits
# kong2021 test with Euler-CMA-ES, with CMA-ES / gradient descent on the conditioned predictor and
# with the active loop started from it (surrogate-tuned: 6 rounds of 16 θ × 2 duplicates), all
# validated with the same noise duplicates, and reports the speedup at equal validated cost.
# FAMILY=group compares with the group MLP instead of the group region-token model; SYN=synthetic:0-66
# trains on DELSSOME's 64+ groups.
# Usage: scripts/kong-zero-shot.sh [OUT] [DATA]   (defaults out/kong-zero-shot,
# ../shared/data/kong2021; resumable: the dataset keeps finished batches)
set -euo pipefail
OUT=${1:-out/kong-zero-shot}
DATA=${2:-../shared/data/kong2021}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
SYN=${SYN:-synthetic:0-11}
RUNS=${RUNS:-2}
GENS=${GENS:-6}
mkdir -p "$OUT"
t0=$(date +%s)
"$BIN/pmfm-dataset" --groups "$SYN,$DATA:train,$DATA:vali,$DATA:test" --design cmaes \
  --cma-runs "$RUNS" --generations "$GENS" --batch 32 --seed 11 --out "$OUT/dataset" --resume
# LONG=1: also 2 runs × 20 generations on the two other real splits (their low-cost regions).
TABLES=(--table "$OUT/dataset")
if [ "${LONG:-0}" = 1 ]; then
  "$BIN/pmfm-dataset" --groups "$DATA:train,$DATA:vali" --design cmaes --cma-runs 2 \
    --generations 20 --batch 32 --seed 12 --out "$OUT/dataset-long" --resume
  TABLES+=(--table "$OUT/dataset-long")
fi
t1=$(date +%s)
# The held-out group is the test split, by the name the dataset gave it.
TEST=$(grep -l -- "test" "$OUT"/dataset/groups/*/name.txt | head -1 | xargs cat)
"$BIN/train-surrogate" "${TABLES[@]}" --models group_tokens,group,mlp --group-split "$TEST" \
  --epochs group_tokens=8 --lr group_tokens=3e-3 --batch-size 64 --out "$OUT/surrogate"
t2=$(date +%s)
"$BIN/compare-optimizers" --data "$DATA" --split test --surrogate "$OUT/surrogate/${FAMILY:-group_tokens}" \
  --methods euler-cmaes,surrogate-cmaes,surrogate-gd,surrogate-tuned --validate-top 8 --n-dup-validate 10 \
  --active-rounds 6 --active-batch 16 --active-n-dup 2 \
  --groups-served 15 --seed 7 --out "$OUT/compare"
t3=$(date +%s)
echo "dataset $((t1 - t0)) s; predictor $((t2 - t1)) s; comparison $((t3 - t2)) s"
