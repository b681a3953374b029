#!/usr/bin/env bash
# Fine-tune the released denoiser for your classifier, and measure what it gained: a CAFA copy of the first
# CAFA_LIMIT training images crafted against your classifier, the released cafd_denoiser_cifar10 (INIT) fine-tuned
# in its class activation feature space for 2 epochs, then a before/after table on the first N test images: your
# classifier alone, with the released denoiser as it is (transfer) and with the fine-tuned one, each on clean
# images, oblivious PGD-20 (crafted on your classifier alone: the paper's setting) and full white-box PGD-20.
# Resumable: run it again after any stop. One heavy job at a time.
#
#   python -m training import-classifier --architecture timm:resnet18 --weights my_resnet18.safetensors \
#       --mean 0.4914 0.4822 0.4465 --std 0.2470 0.2435 0.2616 --out ../runs/my_resnet18   # or a train-classifier run
#   CLASSIFIER_RUN=../runs/my_resnet18 DATA=../data RUNS=../runs bash training/recipes/finetune_denoiser.sh
#
# Then, in Python: DefendedClassifier(cafd_zoo.load_denoiser("RUNS/cafd_denoiser_NAME_finetune/denoiser.safetensors"),
# your_classifier). Cost: `python benchmarks/bench_train.py --classifiers --no-denoisers --denoiser-classifiers ARCH`.
# Steps (default: all, in order): cafa, finetune, evaluate.
set -euo pipefail
DATA=${DATA:?set DATA to the folder holding cifar-10-batches-bin/}
CLASSIFIER_RUN=${CLASSIFIER_RUN:?set CLASSIFIER_RUN to your classifier: an import-classifier or train-classifier --out folder}
CLASSIFIER_CONFIG=${CLASSIFIER_CONFIG:-$CLASSIFIER_RUN/config.yaml}
RUNS=${RUNS:-../runs}
PY=${PY:-python}
NAME=${NAME:-$(basename "$CLASSIFIER_RUN")}
INIT=${INIT:-cafd_denoiser_cifar10}
FINETUNE_CONFIG=${FINETUNE_CONFIG:-training/configs/denoiser/cafd_denoiser_finetune_cifar10.yaml}
CAFA_STEPS=${CAFA_STEPS:-10}
CAFA_LIMIT=${CAFA_LIMIT:-11000}
N=${N:-1000}
CAFA_DIR=$RUNS/cafa${CAFA_STEPS}_$NAME
FINETUNE_RUN=$RUNS/cafd_denoiser_${NAME}_finetune
OUT=${OUT:-$RUNS/eval_finetune_$NAME}

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"

cafa() { craft_cafa "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$CAFA_STEPS" --limit "$CAFA_LIMIT"; }
finetune() {
  train_denoiser finetune-denoiser "$FINETUNE_CONFIG" "$CLASSIFIER_CONFIG" "$CLASSIFIER_RUN" "$CAFA_DIR" "$FINETUNE_RUN" \
    --init "$INIT"
}
evaluate() {  # before (transfer) and after (fine-tuned); the bare rows and the oblivious examples are crafted once
  mkdir -p "$OUT"
  local label denoiser
  for pair in "transfer_$NAME $INIT" "finetuned_$NAME $FINETUNE_RUN/denoiser.safetensors"; do
    read -r label denoiser <<< "$pair"
    $PY -m training evaluate --classifier-run "$CLASSIFIER_RUN" --classifier-config "$CLASSIFIER_CONFIG" \
      --denoiser "$denoiser" --release "$label" --data "$DATA" --n "$N" --resume --cache "$RUNS/adversarial_cache" \
      --attacks none,pgd_n --threat bare,oblivious,whitebox --out "$OUT/before_after.jsonl"
  done
  for label in "transfer_$NAME" "finetuned_$NAME"; do  # before, then after: attacks x threat models
    $PY -m training report "$OUT/before_after.jsonl" --release "$label"
  done
}

run_steps "${@:-cafa finetune evaluate}"
