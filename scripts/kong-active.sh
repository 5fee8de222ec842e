#!/usr/bin/env bash
# Surrogate-assisted fit of the real training data (kong2021, train split) with active learning:
# a starting table of Gaussian clouds around the reference example's five candidates, then the
# surrogate-active trust-region loop (the surrogate picks what the simulator runs next), and the
# reference candidates validated beside its best θ with the same 10 noise duplicates. Finally the
# comparison table is rebuilt from the saved Parquet run tables alone.
# Usage: scripts/kong-active.sh [OUT] [DATA]   (defaults out/kong-active, ../shared/data/kong2021;
# resumable: re-run after a kill and finished batches and rounds are kept)
set -euo pipefail
OUT=${1:-out/kong-active}
DATA=${2:-../shared/data/kong2021}
BIN=${CARGO_TARGET_DIR:-target}/release
REF="$DATA/kong2021_example_expected_output.csv"
# Every θ is simulated with the validation's 10 duplicates: a single duplicate's cost is both
# noisier (bimodal synchronisation) and biased against the 10-duplicate cost that is validated.
ROUNDS=${ROUNDS:-20}
BATCH=${BATCH:-32}
NDUP=${NDUP:-10}
NSTART=${NSTART:-384}
mkdir -p "$OUT"
t0=$(date +%s)
"$BIN/pmfm-dataset" --data "$DATA" --design gaussian --centres "$REF" --centres-by-column \
  --relative-sd 0.05 --n "$NSTART" --batch 64 --n-dup "$NDUP" --seed 2021 --out "$OUT/start" --resume
t1=$(date +%s)
"$BIN/compare-optimizers" --data "$DATA" --methods surrogate-active --table "$OUT/start" \
  --active-rounds "$ROUNDS" --active-batch "$BATCH" --active-n-dup "$NDUP" \
  --reference "$REF" --reference-by-column \
  --validate-top 8 --n-dup-validate 10 --seed 7 --out "$OUT/compare"
t2=$(date +%s)
"$BIN/compare-optimizers" --data "$DATA" --from-runs --out "$OUT/compare"
echo "starting table $((t1 - t0)) s ($NSTART θ × $NDUP duplicates); active fit + validation $((t2 - t1)) s"
