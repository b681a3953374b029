#!/usr/bin/env bash
# Finished runs of robust_compact_cifar10.sh become embedded releases (package files in cafd_zoo/release, fp16,
# sha256 in the manifest): the robust classifier ARCHat_cifar10 and the pair BEST in front of it, with the metrics
# that recipe's evaluation measured (OUT/table.jsonl; the budget sweep stays a result). BEST is the row the three-row table judged
# best (cafd_ARCHat_cifar10, the paper's recipe, or cafd_ARCHat_cifar10_adaptive); the other denoiser stays a
# result, not a release. Run it from the checkout that commits the package files, not from the training worktree.
#
#   RUNS=../runs BEST=cafd_wrn16_4at_cifar10 DATA=../data bash training/recipes/release_robust_compact_cifar10.sh
#
# Steps (default: all, in order): classifier, defended (export once; the weight files are byte-reproducible, so a
# rerun rewrites the same bytes), confirm (clean error of the exported fp16 files on all 10,000 test images and on
# the embedded sample, and white-box PGD-50 on the first 1,000 through the exported pair: the numbers the
# evaluation measured on the training runs, reproduced on what a user loads), metrics (those rows become metrics).
set -euo pipefail
RUNS=${RUNS:-../runs}
ARCH=${ARCH:-wrn16_4}
PY=${PY:-python}
CLASSIFIER=${ARCH}at_cifar10
BEST=${BEST:?set BEST to cafd_${CLASSIFIER} or cafd_${CLASSIFIER}_adaptive: the row the three-row table judged best}
EVAL=${EVAL:-$RUNS/eval_robust_${ARCH}_cifar10}
MANIFEST=${MANIFEST:-weights_manifest.json}
PACKAGE=${PACKAGE:-cafd_zoo/release}
MACHINE=${MACHINE:-2-core Intel Xeon (AMX-BF16), torch 2.14.1, CPU only}
CLASSIFIER_CONFIG=${CLASSIFIER_CONFIG:-training/configs/${ARCH}_cifar10_fastat.yaml}
case $BEST in
  "cafd_$CLASSIFIER")
    DENOISER_CONFIG=${DENOISER_CONFIG:-training/configs/denoiser/cafd_denoiser_at_cifar10_compact.yaml}
    DENOISER_RUN=$RUNS/cafd_denoiser_$CLASSIFIER ;;
  "cafd_${CLASSIFIER}_adaptive")
    DENOISER_CONFIG=${ADAPTIVE_CONFIG:-training/configs/denoiser/cafd_denoiser_at_cifar10_compact_adaptive.yaml}
    DENOISER_RUN=$RUNS/cafd_denoiser_${CLASSIFIER}_adaptive ;;
  *) echo "BEST=$BEST: it is cafd_$CLASSIFIER or cafd_${CLASSIFIER}_adaptive" >&2; exit 2 ;;
esac
WEIGHTS_ID=dunet16_${BEST#cafd_}  # e.g. dunet16_wrn16_4at_cifar10: the width-16 DUNET of that release

classifier() {
  # shellcheck disable=SC2046
  $PY -m training export-classifier --run "$RUNS/$CLASSIFIER" --config "$CLASSIFIER_CONFIG" --release "$CLASSIFIER" \
    --dtype float16 --out "$PACKAGE" --manifest "$MANIFEST" --machine "$MACHINE" \
    --summary "A fast-adversarially-trained ${ARCH} CIFAR-10 classifier (FGSM with a random start, eps 8/255): \
robust on its own, small enough to ship in the package." \
    $(results "$CLASSIFIER" table.jsonl exported.jsonl)
}

defended() {
  # shellcheck disable=SC2046
  $PY -m training export-defended --run "$DENOISER_RUN" --config "$DENOISER_CONFIG" --classifier "$CLASSIFIER" \
    --classifier-run "$RUNS/$CLASSIFIER" --release "$BEST" --weights-id "$WEIGHTS_ID" --dtype float16 \
    --out "$PACKAGE" --manifest "$MANIFEST" --machine "$MACHINE" \
    --command "DATA=DIR RUNS=RUNS ARCH=$ARCH bash training/recipes/robust_compact_cifar10.sh" \
    --command "RUNS=RUNS BEST=$BEST DATA=DIR bash training/recipes/release_robust_compact_cifar10.sh" \
    $(results "$BEST" table.jsonl exported.jsonl)
}

confirm() {  # on the exported files, through the manifest, as a user loads them
  local data=${DATA:?set DATA to the folder holding cifar-10-batches-bin/}
  $PY -m cafd_zoo evaluate --model "$CLASSIFIER" --data "$data" --n 10000 --attacks none --threat bare --resume \
    --out "$EVAL/exported.jsonl"
  $PY -m cafd_zoo evaluate --model "$BEST" --data "$data" --n 10000 --attacks none --threat bare --resume \
    --out "$EVAL/exported.jsonl"
  $PY -m cafd_zoo evaluate --model "$BEST" --data "$data" --n 1000 --attacks pgd_n --steps 50 --threat whitebox \
    --resume --out "$EVAL/exported.jsonl"
  for release in "$CLASSIFIER" "$BEST"; do  # what the default test suite checks on the embedded sample
    $PY -m cafd_zoo evaluate --embedded --model "$release" --attacks none --threat bare --n 1000 --resume \
      --out "$EVAL/embedded.jsonl"
  done
}

metrics() {  # the confirmed rows join the evaluation's; weights untouched
  local release found
  for release in "$CLASSIFIER" "$BEST"; do
    found=$(results "$release" table.jsonl exported.jsonl embedded.jsonl)  # embedded: the default suite checks it
    [ -n "$found" ] || { echo "metrics: no results of $release in $EVAL yet (run the evaluation and confirm first)"; continue; }
    # shellcheck disable=SC2086
    $PY -m training record-metrics --release "$release" --manifest "$MANIFEST" --machine "$MACHINE" $found
  done
}

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
run_steps "${@:-classifier defended confirm metrics}"
