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

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"

classifier() { train_classifier "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN"; }
cafa() { craft_cafa "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$CAFA_STEPS"; }
denoiser() {
  train_denoiser train-denoiser "$DENOISER_CONFIG" "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$DENOISER_RUN"
}

run_steps "${@:-classifier cafa denoiser}"
