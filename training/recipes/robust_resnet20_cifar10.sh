#!/usr/bin/env bash
# Issue 14, beyond the paper: a compact defense judged against an attacker who knows it. A fast-adversarially-
# trained ResNet-20 (eps 8/255), then two width-16 DUNETs in its class activation feature space: (a) the paper's
# recipe (an offline CAFA-10 copy crafted against the robust classifier) and (b) the adaptive variant (every batch
# attacked through denoiser + classifier). Then the three-row table (robust classifier alone, + CAFD, + adaptive
# CAFD), worst case first: full white-box AutoAttack, white-box PGD-50, BPDA, oblivious, Square, and the budget
# sweep that catches gradient masking. Resumable: run it again after any stop. One heavy job at a time, from a
# git worktree at a fixed commit:
#
#   git worktree add --detach ../wt-robust HEAD && cd ../wt-robust
#   DATA=../data RUNS=../runs nohup bash training/recipes/robust_resnet20_cifar10.sh > ../runs/robust.log 2>&1 &
#
# Steps (default: all, in order): classifier, cafa, denoiser, adaptive, evaluate, sweep. Results go to
# OUT (default RUNS/eval_robust_resnet20_cifar10); export and the embedded release come after, by hand.
set -euo pipefail
DATA=${DATA:?set DATA to the folder holding cifar-10-batches-bin/}
RUNS=${RUNS:-../runs}
PY=${PY:-python}
N=${N:-1000}
OUT=${OUT:-$RUNS/eval_robust_resnet20_cifar10}
CLASSIFIER_CONFIG=training/configs/resnet20_cifar10_fastat.yaml
DENOISER_CONFIG=training/configs/denoiser/cafd_denoiser_resnet20at_cifar10_compact.yaml
ADAPTIVE_CONFIG=training/configs/denoiser/cafd_denoiser_resnet20at_cifar10_compact_adaptive.yaml
CLASSIFIER_RUN=$RUNS/resnet20at_cifar10
CAFA_DIR=$RUNS/cafa10_resnet20at_cifar10
DENOISER_RUN=$RUNS/cafd_denoiser_resnet20at_cifar10
ADAPTIVE_RUN=$RUNS/cafd_denoiser_resnet20at_cifar10_adaptive

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"

classifier() { train_classifier "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN"; }
cafa() { craft_cafa "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" 10; }
denoiser() {
  train_denoiser train-denoiser "$DENOISER_CONFIG" "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$DENOISER_RUN"
}
adaptive() {  # crafts its own examples through the defended model on every batch: no CAFA copy
  finished "$ADAPTIVE_RUN" "$ADAPTIVE_CONFIG" && { echo "adaptive: done ($ADAPTIVE_RUN)"; return; }
  # shellcheck disable=SC2046
  $PY -m training train-denoiser --config "$ADAPTIVE_CONFIG" --classifier-run "$CLASSIFIER_RUN" \
    --classifier-config "$CLASSIFIER_CONFIG" --data "$DATA" --out "$ADAPTIVE_RUN" $(resume_if_started "$ADAPTIVE_RUN")
}

mkdir -p "$OUT"
measure() {  # RELEASE [--denoiser FILE] evaluate-flags...: resumable; what is crafted on the bare classifier is cached
  local release=$1
  shift
  $PY -m training evaluate --classifier-run "$CLASSIFIER_RUN" --classifier-config "$CLASSIFIER_CONFIG" \
    --release "$release" --data "$DATA" --n "$N" --resume --cache "$RUNS/adversarial_cache" "$@"
}

evaluate() {  # the worst case first in every row: full white-box AutoAttack (standard: APGD-CE, APGD-T, FAB-T, Square)
  robust_row resnet20at_cifar10 --threat bare
  local release run
  for pair in "cafd_resnet20at_cifar10 $DENOISER_RUN" "cafd_resnet20at_cifar10_adaptive $ADAPTIVE_RUN"; do
    read -r release run <<< "$pair"
    robust_row "$release" --denoiser "$run/denoiser.safetensors" --threat whitebox
    measure "$release" --denoiser "$run/denoiser.safetensors" --attacks pgd_n,autoattack --threat bpda,oblivious \
      --out "$OUT/table.jsonl"
  done
}

robust_row() {  # RELEASE [--denoiser FILE] --threat T: clean and AutoAttack, PGD-50, Square (the gradient-free check)
  measure "$@" --attacks none,autoattack,square --out "$OUT/table.jsonl"
  measure "$@" --attacks pgd_n --steps 50 --out "$OUT/table.jsonl"
}

sweep() {  # error against eps at PGD-20: it must rise to ~100% at an unbounded eps, or gradients are masked
  local release denoiser
  for pair in "resnet20at_cifar10 -" "cafd_resnet20at_cifar10 $DENOISER_RUN" \
      "cafd_resnet20at_cifar10_adaptive $ADAPTIVE_RUN"; do
    read -r release denoiser <<< "$pair"
    # shellcheck disable=SC2046
    $PY -m training sweep --classifier-run "$CLASSIFIER_RUN" --classifier-config "$CLASSIFIER_CONFIG" \
      --release "$release" $([ "$denoiser" = - ] || echo --denoiser "$denoiser/denoiser.safetensors") \
      --threat $([ "$denoiser" = - ] && echo bare || echo whitebox) --data "$DATA" --n 500 \
      --eps 2,4,8,16,255 --steps 10,20,50 --out "$OUT/sweep.jsonl"
  done
}

run_steps "${@:-classifier cafa denoiser adaptive evaluate sweep}"
