#!/usr/bin/env bash
# Finished runs of cafd_vgg19_cifar10.sh become the releases vgg19_cifar10, cafd_vgg19_cifar10 and
# cafd_denoiser_cifar10 in the repository's release store hub/ (status "stored"), with the metrics that
# evaluate_cafd_vgg19_cifar10.sh measured on them. Run it from the checkout that commits the store (not a worktree
# of a running job): it edits weights_manifest.json and hub/.
#
#   RUNS=../runs EVAL=../runs/eval_cafd_vgg19_cifar10 bash training/recipes/release_cafd_vgg19_cifar10.sh classifier
#   EVAL=../runs/eval_cafd_vgg19_cifar10 bash training/recipes/release_cafd_vgg19_cifar10.sh metrics
#
# Steps: classifier (vgg19_cifar10) and defended (cafd_vgg19_cifar10 and cafd_denoiser_cifar10) export the finished
# runs once; before the first evaluation there are no results yet, so the releases carry the training metrics only.
# metrics (run it after each stretch of evaluation) needs no run folder: `record-metrics` makes the evaluation
# results the releases' metrics and rewrites their model cards in hub/; the weight files stay byte-identical.
set -euo pipefail
RUNS=${RUNS:-../runs}
EVAL=${EVAL:-$RUNS/eval_cafd_vgg19_cifar10}
PY=${PY:-python}
MACHINE=${MACHINE:-2-core CPU (AMD EPYC or Intel Xeon, AVX512-BF16), torch 2.14.1, no GPU}
EXPORT=$RUNS/export
CLASSIFIER_CONFIG=training/configs/vgg19_cifar10.yaml
DENOISER_CONFIG=training/configs/denoiser/cafd_denoiser_vgg19_cifar10_cpu.yaml

classifier() {
  # shellcheck disable=SC2046
  $PY -m training export-classifier --run "$RUNS/vgg19_cifar10" --config "$CLASSIFIER_CONFIG" --release vgg19_cifar10 \
    --repo-id cafd-zoo/vgg19-cifar10 --dtype float16 --out "$EXPORT" --machine "$MACHINE" \
    $(results vgg19_cifar10 classifier.jsonl embedded.jsonl)
  $PY -m training publish vgg19_cifar10 --export-dir "$EXPORT" --mirror-root hub --prune
}

defended() {
  # shellcheck disable=SC2046
  $PY -m training export-defended --run "$RUNS/cafd_denoiser_vgg19_cifar10" --config "$DENOISER_CONFIG" \
    --classifier vgg19_cifar10 --classifier-run "$RUNS/vgg19_cifar10" --release cafd_vgg19_cifar10 \
    --repo-id cafd-zoo/dunet-vgg19caf-cifar10 --weights-id dunet_vgg19caf_cifar10 --dtype float16 --out "$EXPORT" \
    --machine "$MACHINE" $(results cafd_vgg19_cifar10 table1.jsonl table3.jsonl embedded.jsonl)
  $PY -m training publish cafd_vgg19_cifar10 --export-dir "$EXPORT" --mirror-root hub --prune
  $PY -m training publish cafd_denoiser_cifar10 --export-dir "$EXPORT" --mirror-root hub --prune
}

metrics() {
  # shellcheck disable=SC2046
  $PY -m training record-metrics --release vgg19_cifar10 --store hub --machine "$MACHINE" \
    $(results vgg19_cifar10 classifier.jsonl embedded.jsonl)
  # shellcheck disable=SC2046
  $PY -m training record-metrics --release cafd_vgg19_cifar10 --store hub --machine "$MACHINE" \
    $(results cafd_vgg19_cifar10 table1.jsonl table3.jsonl embedded.jsonl)
}

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
run_steps "${@:-classifier defended}"
