#!/usr/bin/env bash
# Issue 18, must-show 1 on groups of the real layout: family groups that vary kong2021 train's
# own connectome and maps (--family-layout), their hidden θ* around train's best simulated θ (TH),
# each group's 2 CMA-ES runs × 6 generations × 32 from their own starts (--distinct-starts), plus
# the first table of scripts/kong-zero-shot.sh (12 generated-layout groups and the three splits).
# Groups g58–g63 are held out; their θ are re-simulated with 4 noise duplicates (--replicates) so
# that r is also read against a less noisy cost. The group region-token model and the θ-only
# MLP are trained on everything else. TRAIN_GROUPS (64 or more) sets how many measured-layout
# groups there are, the six held out among them; groups 64 and up come from a second table.
# ENSEMBLE=k trains k-seed ensembles; MODELS (default group_tokens,mlp) picks the families.
# Usage: TRAIN_GROUPS=128 ENSEMBLE=1 scripts/held-out-groups.sh [OUT] [DATA]
#   (defaults out/held-out-groups, ../shared/data/kong2021; resumable: datasets keep finished
#   batches)
set -euo pipefail
OUT=${1:-out/held-out-groups}
DATA=${2:-../shared/data/kong2021}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
TRAIN_GROUPS=${TRAIN_GROUPS:-64}
ENSEMBLE=${ENSEMBLE:-1}
MODELS=${MODELS:-group_tokens,mlp}
if ! [[ "$TRAIN_GROUPS" =~ ^[0-9]+$ ]] || [ "$TRAIN_GROUPS" -lt 64 ]; then
  echo "held-out-groups.sh: TRAIN_GROUPS must be a whole number ≥ 64 (the held-out g58–g63 are among the first 64), got '$TRAIN_GROUPS'" >&2
  exit 2
fi
TH=${TH:-0.656555,-0.199878,-0.013596,0.314807,0.001733,0.003730,4.117419,0.006821,-0.001007,0.000046}
HELD_OUT=(58 59 60 61 62 63)
FAMILY=(--family-layout "$DATA:train" --family-theta "$TH" --theta-variability 0.1)
TRAJ=(--design cmaes --cma-runs 2 --generations 6 --batch 32 --distinct-starts --seed 1000)
mkdir -p "$OUT"
"$BIN/pmfm-dataset" --groups synthetic:0-63 "${FAMILY[@]}" "${TRAJ[@]}" --out "$OUT/dataset-real" --resume
TABLES=(--table "$OUT/dataset-real")
if [ "$TRAIN_GROUPS" -gt 64 ]; then
  "$BIN/pmfm-dataset" --groups "synthetic:64-$((TRAIN_GROUPS - 1))" "${FAMILY[@]}" "${TRAJ[@]}" \
    --out "$OUT/dataset-real-$TRAIN_GROUPS" --resume
  TABLES+=(--table "$OUT/dataset-real-$TRAIN_GROUPS")
fi
"$BIN/pmfm-dataset" --groups "synthetic:0-11,$DATA:train,$DATA:vali,$DATA:test" --design cmaes \
  --cma-runs 2 --generations 6 --batch 32 --seed 11 --out "$OUT/dataset" --resume
TABLES+=(--table "$OUT/dataset")
REPLICATES=()
HELD=()
for g in "${HELD_OUT[@]}"; do
  NAME="family-$(basename "$DATA")-train-f11/g$g"
  "$BIN/pmfm-dataset" --design gaussian --relative-sd 0 --centres "$OUT/dataset-real" --centres-group "$NAME" \
    --groups "synthetic:$g" "${FAMILY[@]}" --n 384 --n-dup 4 --seed 101 --out "$OUT/replicates-g$g" --resume
  REPLICATES+=(--replicates "$OUT/replicates-g$g")
  HELD+=("$NAME")
done
"$BIN/train-surrogate" "${TABLES[@]}" --models "$MODELS" \
  --group-split "$(IFS=,; echo "${HELD[*]}")" "${REPLICATES[@]}" --ensemble "$ENSEMBLE" \
  --epochs group_tokens=8 --lr group_tokens=3e-3 --batch-size 64 --out "$OUT/surrogate-$TRAIN_GROUPS-e$ENSEMBLE"
