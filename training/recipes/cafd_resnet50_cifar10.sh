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

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"

classifier() { train_classifier "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN"; }
cafa() { craft_cafa "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$CAFA_STEPS" --limit "$CAFA_LIMIT"; }
finetune() {
  train_denoiser finetune-denoiser "$FINETUNE_CONFIG" "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$FINETUNE_RUN" \
    --init cafd_denoiser_cifar10
}

run_steps "${@:-classifier cafa finetune}"
