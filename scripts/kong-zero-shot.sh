#!/usr/bin/env bash
# Zero-shot fit of a real group the predictor never saw (issue 18, must-show 2): CMA-ES
# trajectories on synthetic family groups and on kong2021's train and vali splits train the
# group-conditioned predictors (kong2021 test's own trajectories are simulated only to measure the
# predictor on it, and held out of training with --group-split); then compare-optimizers fits
# kong2021 test with Euler-CMA-ES, with CMA-ES / gradient descent on the conditioned predictor and
# with the active loop started from it (surrogate-tuned: 6 rounds of 16 θ × 2 duplicates), all
# validated with the same noise duplicates, and reports the speedup at equal validated cost.
# FAMILY=group compares with the group MLP instead of the group region-token model; SYN=synthetic:0-66
# trains on DELSSOME's 64+ groups. REAL=1 adds 64 family groups on kong2021 train's own connectome
# and maps (--family-layout), their hidden θ* around kong2021 train's best simulated θ (TH), each
# group's runs from their own starts (--distinct-starts). EULER_GENS sets the comparison's
# --generations (Euler-CMA-ES's, and by default CMA-ES's on the predictor: SURROGATE_GENS).
# ANCHORS=k validates the k training groups' best θ the predictor scores lowest beside the
# searches' own picks (--anchor-candidates); CENTRE=best centres the tuned loop's first box on
# the best-scored of the training mean and those anchors (--tune-prior-centre). SUPPORT=R confines
# CMA-ES and gradient descent on the predictor to within R training sd (every coordinate) of one
# of its training rows (--support-radius R, with the training tables as --support-table).
# GD_STEPS sets the Adam steps of gradient descent on the predictor (--gd-steps, default 300).
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
# LONG=1: also 2 runs × LONG_GENS (default 20) generations on the two other real splits (their
# low-cost regions), from the starts of LONG_SEED (default 12; other settings: distinct starts).
# DELSSOME's training runs were 100 generations long; Euler-CMA-ES on kong2021 needs 200–450 to
# reach its good basin.
TABLES=(--table "$OUT/dataset")
if [ "${LONG:-0}" = 1 ]; then
  LONG_GENS=${LONG_GENS:-20}
  LONG_SEED=${LONG_SEED:-12}
  LONG_OUT="$OUT/dataset-long"
  LONG_FLAGS=()
  # Other lengths or seeds: their own table, and the two splits' runs from four distinct starts.
  if [ "$LONG_GENS" != 20 ] || [ "$LONG_SEED" != 12 ]; then
    LONG_OUT="$OUT/dataset-long-g$LONG_GENS-s$LONG_SEED"
    LONG_FLAGS=(--distinct-starts)
  fi
  "$BIN/pmfm-dataset" --groups "$DATA:train,$DATA:vali" --design cmaes --cma-runs 2 \
    --generations "$LONG_GENS" --batch 32 --seed "$LONG_SEED" "${LONG_FLAGS[@]}" --out "$LONG_OUT" --resume
  TABLES+=(--table "$LONG_OUT")
fi
# REAL=1: 64 groups varying the train split's layout, 2 runs × 6 generations from 128 starts.
if [ "${REAL:-0}" = 1 ]; then
  TH=${TH:-0.656555,-0.199878,-0.013596,0.314807,0.001733,0.003730,4.117419,0.006821,-0.001007,0.000046}
  "$BIN/pmfm-dataset" --groups synthetic:0-63 --family-layout "$DATA:train" --family-theta "$TH" \
    --theta-variability 0.1 --design cmaes --cma-runs 2 --generations 6 --batch 32 \
    --distinct-starts --seed 1000 --out "$OUT/dataset-real" --resume
  TABLES+=(--table "$OUT/dataset-real")
fi
t1=$(date +%s)
# The held-out group is the test split, by the name the dataset gave it.
TEST=$(grep -l -- "test" "$OUT"/dataset/groups/*/name.txt | head -1 | xargs cat)
"$BIN/train-surrogate" "${TABLES[@]}" --models group_tokens,group,mlp --group-split "$TEST" \
  --epochs group_tokens=8 --lr group_tokens=3e-3 --batch-size 64 --out "$OUT/surrogate"
t2=$(date +%s)
SUPPORT_FLAGS=()
if [ -n "${SUPPORT:-}" ]; then
  SUPPORT_FLAGS=(--support-radius "$SUPPORT")
  for ((k = 1; k < ${#TABLES[@]}; k += 2)); do SUPPORT_FLAGS+=(--support-table "${TABLES[$k]}"); done
fi
"$BIN/compare-optimizers" --data "$DATA" --split test --surrogate "$OUT/surrogate/${FAMILY:-group_tokens}" \
  --methods euler-cmaes,surrogate-cmaes,surrogate-gd,surrogate-tuned --validate-top 8 --n-dup-validate 10 \
  --generations "${EULER_GENS:-30}" --surrogate-generations "${SURROGATE_GENS:-${EULER_GENS:-30}}" \
  --anchor-candidates "${ANCHORS:-0}" --tune-prior-centre "${CENTRE:-mean}" "${SUPPORT_FLAGS[@]}" \
  --gd-steps "${GD_STEPS:-300}" \
  --active-rounds 6 --active-batch 16 --active-n-dup 2 \
  --groups-served 15 --seed 7 --out "$OUT/compare"
t3=$(date +%s)
echo "dataset $((t1 - t0)) s; predictor $((t2 - t1)) s; comparison $((t3 - t2)) s"
