#!/usr/bin/env bash
# The paper's release (vgg19_cifar10 -> CAFA copy -> cafd_denoiser_cifar10) from nothing, on a CPU, in
# resumable stretches: run it again after any stop and each step resumes where it was, or is skipped
# once finished. One heavy job at a time; start it with nohup from a git worktree at a fixed commit:
#
#   git worktree add --detach ../wt-train HEAD && cd ../wt-train
#   DATA=../data RUNS=../runs nohup bash training/recipes/cafd_vgg19_cifar10.sh > ../runs/recipe.log 2>&1 &
#
# DATA holds cifar-10-batches-bin/ (python ../shared/data/get-cifar10 DIR). Steps: classifier, cafa,
# denoiser (default: all three, in order); export, evaluation and the release store come after, by hand,
# as the README's "Reproducing the paper's release" says.
set -euo pipefail
DATA=${DATA:?set DATA to the folder holding cifar-10-batches-bin/}
RUNS=${RUNS:-../runs}
PY=${PY:-python}
CAFA_STEPS=${CAFA_STEPS:-20}
CLASSIFIER_CONFIG=training/configs/vgg19_cifar10.yaml
DENOISER_CONFIG=training/configs/denoiser/cafd_denoiser_vgg19_cifar10_cpu.yaml
CLASSIFIER_RUN=$RUNS/vgg19_cifar10
CAFA_DIR=$RUNS/cafa${CAFA_STEPS}_vgg19_cifar10
DENOISER_RUN=$RUNS/cafd_denoiser_vgg19_cifar10

resume_if_started() { if [ -f "$1/checkpoint.pt" ]; then echo --resume; fi; }

classifier() {
  [ -f "$CLASSIFIER_RUN/result.json" ] && { echo "classifier: done ($CLASSIFIER_RUN)"; return; }
  $PY -m training train-classifier --config "$CLASSIFIER_CONFIG" --data "$DATA" --out "$CLASSIFIER_RUN" \
    $(resume_if_started "$CLASSIFIER_RUN")
}

cafa() {  # resumable shards: finished shards are kept, the rest are crafted
  $PY -m training craft-cafa --classifier-run "$CLASSIFIER_RUN" --classifier-config "$CLASSIFIER_CONFIG" \
    --data "$DATA" --out "$CAFA_DIR" --steps "$CAFA_STEPS"
}

denoiser() {
  [ -f "$DENOISER_RUN/result.json" ] && { echo "denoiser: done ($DENOISER_RUN)"; return; }
  $PY -m training train-denoiser --config "$DENOISER_CONFIG" --classifier-run "$CLASSIFIER_RUN" \
    --classifier-config "$CLASSIFIER_CONFIG" --cafa-dir "$CAFA_DIR" --data "$DATA" --out "$DENOISER_RUN" \
    $(resume_if_started "$DENOISER_RUN")
}

for step in "${@:-classifier cafa denoiser}"; do
  for s in $step; do
    echo "== $s ($(date -u +%FT%TZ))"
    "$s"
  done
done
