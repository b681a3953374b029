#!/usr/bin/env bash
# The paper's cross-model transfer (Table 2) and the zoo's fine-tuning path, on a CPU, in resumable stretches:
# resnet50_cifar10 (train-classifier), a CAFA copy of the first 11,000 training images against it (craft-cafa),
# then the released cafd_denoiser_cifar10 fine-tuned in ResNet-50's class activation feature space
# (finetune-denoiser). Needs the released cafd_denoiser_cifar10 (training/recipes/cafd_vgg19_cifar10.sh, then
# release_cafd_vgg19_cifar10.sh). Run it again after any stop: each step resumes, or is skipped once finished.
#
#   git worktree add --detach ../wt-r50 HEAD && cd ../wt-r50
#   DATA=../data RUNS=../runs nohup bash training/recipes/cafd_resnet50_cifar10.sh > ../runs/r50.log 2>&1 &
#
# Steps: classifier, cafa, finetune (default: all three, in order).
set -euo pipefail
DATA=${DATA:?set DATA to the folder holding cifar-10-batches-bin/}
RUNS=${RUNS:-../runs}
PY=${PY:-python}
CAFA_STEPS=${CAFA_STEPS:-10}
CAFA_LIMIT=${CAFA_LIMIT:-11000}
CLASSIFIER_CONFIG=training/configs/resnet50_cifar10.yaml
FINETUNE_CONFIG=training/configs/denoiser/cafd_denoiser_resnet50_cifar10_finetune.yaml
CLASSIFIER_RUN=$RUNS/resnet50_cifar10
CAFA_DIR=$RUNS/cafa${CAFA_STEPS}_resnet50_cifar10
FINETUNE_RUN=$RUNS/cafd_denoiser_resnet50_cifar10_finetune

resume_if_started() { if [ -f "$1/checkpoint.pt" ]; then echo --resume; fi; }

classifier() {
  [ -f "$CLASSIFIER_RUN/result.json" ] && { echo "classifier: done ($CLASSIFIER_RUN)"; return; }
  $PY -m training train-classifier --config "$CLASSIFIER_CONFIG" --data "$DATA" --out "$CLASSIFIER_RUN" \
    $(resume_if_started "$CLASSIFIER_RUN")
}

cafa() {  # resumable shards: finished shards are kept, the rest are crafted
  $PY -m training craft-cafa --classifier-run "$CLASSIFIER_RUN" --classifier-config "$CLASSIFIER_CONFIG" \
    --data "$DATA" --out "$CAFA_DIR" --steps "$CAFA_STEPS" --limit "$CAFA_LIMIT"
}

finetune() {
  [ -f "$FINETUNE_RUN/result.json" ] && { echo "finetune: done ($FINETUNE_RUN)"; return; }
  $PY -m training finetune-denoiser --init cafd_denoiser_cifar10 --config "$FINETUNE_CONFIG" \
    --classifier-run "$CLASSIFIER_RUN" --classifier-config "$CLASSIFIER_CONFIG" --cafa-dir "$CAFA_DIR" \
    --data "$DATA" --out "$FINETUNE_RUN" $(resume_if_started "$FINETUNE_RUN")
}

for step in "${@:-classifier cafa finetune}"; do
  for s in $step; do
    echo "== $s ($(date -u +%FT%TZ))"
    "$s"
  done
done
