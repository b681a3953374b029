#!/usr/bin/env bash
# Finished runs of baselines_vgg19_cifar10.sh become releases in the repository's release store hub/ (status
# "stored"): hgd_vgg19_cifar10 and apeg_vgg19_cifar10 (each purifier in front of the released vgg19_cifar10) and
# at_vgg19_cifar10 (the adversarially trained VGG-19), with the metrics the baselines' evaluation measured. Run it
# from the checkout that commits the store, not from the training worktree; re-running it after more evaluation
# rewrites model cards and manifest metrics, never the weight files.
#
#   RUNS=../runs DATA=../data bash training/recipes/release_baselines_vgg19_cifar10.sh
#
# Steps (default: all, in order): hgd, apeg, at (export and store once each), embedded (the clean errors on the
# embedded sample that tests/training/test_release_store.py checks on every stored release), metrics. One release
# as soon as its run finishes: RELEASES=at_vgg19_cifar10 ... release_baselines_vgg19_cifar10.sh at embedded metrics
set -euo pipefail
RUNS=${RUNS:-../runs}
EVAL=${EVAL:-$RUNS/eval_baselines_vgg19_cifar10}
PY=${PY:-python}
MACHINE=${MACHINE:-2-core Intel Xeon (AMX-BF16), torch 2.14.1, CPU only}
EXPORT=$RUNS/export
HGD_CONFIG=training/configs/denoiser/hgd_vgg19_cifar10_cpu.yaml
APEG_CONFIG=training/configs/denoiser/apeg_vgg19_cifar10.yaml
AT_CONFIG=training/configs/at_vgg19_cifar10_fastat.yaml
RELEASES=${RELEASES:-hgd_vgg19_cifar10 apeg_vgg19_cifar10 at_vgg19_cifar10}  # the ones the embedded and metrics steps visit

purifier() {  # RELEASE CONFIG RUN REPO WEIGHTS_ID
  # shellcheck disable=SC2046
  $PY -m training export-defended --run "$3" --config "$2" --classifier vgg19_cifar10 --classifier-run vgg19_cifar10 \
    --release "$1" --repo-id "$4" --weights-id "$5" --dtype float16 --out "$EXPORT" --machine "$MACHINE" \
    --command "DATA=DIR RUNS=RUNS bash training/recipes/baselines_vgg19_cifar10.sh" \
    --command "RUNS=RUNS DATA=DIR bash training/recipes/release_baselines_vgg19_cifar10.sh" \
    $(results "$1" table1.jsonl whitebox.jsonl embedded.jsonl)
  $PY -m training publish "$1" --export-dir "$EXPORT" --mirror-root hub --prune
}
hgd() {
  purifier hgd_vgg19_cifar10 "$HGD_CONFIG" "$RUNS/hgd_vgg19_cifar10" cafd-zoo/dunet-vgg19hgd-cifar10 dunet_vgg19hgd_cifar10
}
apeg() {
  purifier apeg_vgg19_cifar10 "$APEG_CONFIG" "$RUNS/apeg_vgg19_cifar10" cafd-zoo/apegan-vgg19-cifar10 apegan_vgg19_cifar10
}
at() {  # the last epoch's weights, or after catastrophic overfitting the kept epoch's, as the evaluation measured
  local epoch
  epoch=$(kept_epoch "$RUNS/at_vgg19_cifar10")
  # shellcheck disable=SC2046
  $PY -m training export-classifier --run "$RUNS/at_vgg19_cifar10" --config "$AT_CONFIG" --release at_vgg19_cifar10 \
    ${epoch:+--epoch "$epoch"} --repo-id cafd-zoo/at-vgg19-cifar10 --dtype float16 --out "$EXPORT" --machine "$MACHINE" \
    --summary "VGG-19 adversarially trained on CIFAR-10 at eps 8/255 (fast adversarial training: FGSM with a random \
start), the AT baseline of the paper's Table 1." \
    $(results at_vgg19_cifar10 table1.jsonl embedded.jsonl)
  $PY -m training publish at_vgg19_cifar10 --export-dir "$EXPORT" --mirror-root hub --prune
}

embedded() {  # on the stored files, as a user loads them; in fp32, as test_release_store.py checks them
  local release threat
  for release in $RELEASES; do
    threat=bare,oblivious
    [ "$release" = at_vgg19_cifar10 ] && threat=bare
    $PY -m cafd_zoo evaluate --embedded --resume --model "$release" --attacks none --threat "$threat" --n 200 \
      --precision fp32 --out "$EVAL/embedded.jsonl"
  done
}

metrics() {
  local release found
  for release in $RELEASES; do
    found=$(results "$release" table1.jsonl whitebox.jsonl embedded.jsonl)
    [ -n "$found" ] || { echo "metrics: no results of $release in $EVAL yet"; continue; }
    # shellcheck disable=SC2086
    $PY -m training record-metrics --release "$release" --store hub --machine "$MACHINE" $found
  done
}

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
run_steps "${@:-hgd apeg at embedded metrics}"
