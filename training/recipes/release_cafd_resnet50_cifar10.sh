#!/usr/bin/env bash
# Finished runs of cafd_resnet50_cifar10.sh become releases in the repository's release store hub/ (status
# "stored"), with the metrics evaluate_cafd_resnet50_cifar10.sh measured on them: resnet50_cifar10 (the classifier),
# cafd_resnet50_cifar10 (the released VGG-19-trained denoiser in front of it, no retraining: the paper's Table 2)
# and cafd_resnet50_cifar10_ft (that denoiser fine-tuned in ResNet-50's class activation feature space). Needs
# cafd_denoiser_cifar10 stored (release_cafd_vgg19_cifar10.sh). Run it from the checkout that commits the store;
# re-running it after more evaluation rewrites model cards and manifest metrics, never the weight files.
#
#   RUNS=../runs bash training/recipes/release_cafd_resnet50_cifar10.sh classifier
#
# Steps: classifier, transfer, finetuned (default: all three; transfer and finetuned need classifier stored).
set -euo pipefail
RUNS=${RUNS:-../runs}
EVAL=${EVAL:-$RUNS/eval_cafd_resnet50_cifar10}
PY=${PY:-python}
MACHINE=${MACHINE:-2-core AMD EPYC (AVX512-BF16), torch 2.14.1, CPU only}
EXPORT=$RUNS/export
CLASSIFIER_CONFIG=training/configs/resnet50_cifar10.yaml
FINETUNE_CONFIG=training/configs/denoiser/cafd_denoiser_finetune_cifar10.yaml

classifier() {
  # shellcheck disable=SC2046
  $PY -m training export-classifier --run "$RUNS/resnet50_cifar10" --config "$CLASSIFIER_CONFIG" \
    --release resnet50_cifar10 --repo-id cafd-zoo/resnet50-cifar10 --dtype float16 --out "$EXPORT" \
    --machine "$MACHINE" $(results resnet50_cifar10 classifier.jsonl embedded.jsonl)
  $PY -m training publish resnet50_cifar10 --export-dir "$EXPORT" --mirror-root hub --prune
}

transfer() {  # no file: the stored denoiser and the stored classifier, referenced where they are
  # shellcheck disable=SC2046
  $PY -m training export-transfer --denoiser-release cafd_denoiser_cifar10 --classifier resnet50_cifar10 \
    --release cafd_resnet50_cifar10 --machine "$MACHINE" \
    $(results cafd_resnet50_cifar10 table2.jsonl whitebox.jsonl embedded.jsonl)
}

finetuned() {
  # shellcheck disable=SC2046
  $PY -m training export-defended --run "$RUNS/cafd_denoiser_resnet50_cifar10_finetune" --config "$FINETUNE_CONFIG" \
    --classifier resnet50_cifar10 --classifier-run "$RUNS/resnet50_cifar10" --release cafd_resnet50_cifar10_ft \
    --repo-id cafd-zoo/dunet-resnet50caf-ft-cifar10 --weights-id dunet_resnet50caf_ft_cifar10 --dtype float16 \
    --out "$EXPORT" --machine "$MACHINE" \
    --summary "CAFD's released denoiser (cafd_denoiser_cifar10) fine-tuned in the class activation feature space \
of a ResNet-50, in front of it." \
    --command "DATA=DIR RUNS=RUNS bash training/recipes/cafd_resnet50_cifar10.sh" \
    --command "RUNS=RUNS bash training/recipes/release_cafd_resnet50_cifar10.sh finetuned" \
    $(results cafd_resnet50_cifar10_ft table2.jsonl whitebox.jsonl embedded.jsonl)
  $PY -m training publish cafd_resnet50_cifar10_ft --export-dir "$EXPORT" --mirror-root hub --prune
}

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
run_steps "${@:-classifier transfer finetuned}"
