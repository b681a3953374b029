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
CLASSIFIER_CONFIG=training/configs/resnet50_cifar10.yaml
CLASSIFIER_RUN=$RUNS/resnet50_cifar10

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"

classifier() { train_classifier "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN"; }
# the fine-tuning path any user's classifier takes (its CAFA copy: RUNS/cafa10_resnet50_cifar10; the fine-tuned
# denoiser: RUNS/cafd_denoiser_resnet50_cifar10_finetune); Table 2 is measured on the stored releases afterwards
finetune_path() {
  CLASSIFIER_RUN=$CLASSIFIER_RUN CLASSIFIER_CONFIG=$CLASSIFIER_CONFIG DATA=$DATA RUNS=$RUNS PY=$PY \
    bash "$(dirname "$0")/finetune_denoiser.sh" "$@"
}
cafa() { finetune_path cafa; }
finetune() { finetune_path finetune; }

run_steps "${@:-classifier cafa finetune}"
