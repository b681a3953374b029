#!/usr/bin/env bash
# Table 2's CIFAR-10 ResNet-50 columns on the stored releases, as a user loads them: the bare resnet50_cifar10,
# cafd_resnet50_cifar10 (transfer) and cafd_resnet50_cifar10_ft (fine-tuned). The transfer and the fine-tuned
# release share the classifier, so what is crafted on it (bare, oblivious) is crafted once and read back from
# the adversarial cache. Sharded and resumable: run it again after any stop. One heavy job at a time, from a git
# worktree at the commit that holds the releases:
#
#   git worktree add --detach ../wt-eval50 HEAD && cd ../wt-eval50
#   DATA=../data OUT=../runs/eval_cafd_resnet50_cifar10 nohup bash training/recipes/evaluate_cafd_resnet50_cifar10.sh \
#     > ../runs/eval50.log 2>&1 &
#
# Steps (default: all, most important first): classifier, embedded, headline, table2, whitebox, table2_sta.
# A ResNet-50 step costs about 3x a VGG-19 one here: headline ~1.5 h, table2 ~2 h, table2_sta ~4 h (each crafted
# once for both releases).
set -euo pipefail
DATA=${DATA:?set DATA to the folder holding cifar-10-batches-bin/}
OUT=${OUT:-../runs/eval_cafd_resnet50_cifar10}
PY=${PY:-python}
CACHE=${CACHE:-$(dirname "$OUT")/adversarial_cache}
RELEASES=${RELEASES:-cafd_resnet50_cifar10 cafd_resnet50_cifar10_ft}
mkdir -p "$OUT"

evaluate() { $PY -m cafd_zoo evaluate --data "$DATA" --resume --cache "$CACHE" "$@"; }

classifier() {  # the bare ResNet-50: clean error on all 10,000 and the gradient-masking check (PGD-20 vs AutoAttack)
  evaluate --model resnet50_cifar10 --attacks none --threat bare --n 10000 --out "$OUT/classifier.jsonl"
  evaluate --model resnet50_cifar10 --attacks pgd_n,autoattack --threat bare --n 1000 --out "$OUT/classifier.jsonl"
  $PY -m cafd_zoo evaluate --embedded --resume --model resnet50_cifar10 --attacks none --threat bare --n 200 \
    --out "$OUT/embedded.jsonl"
}

embedded() {  # what tests/training/test_release_store.py checks on every stored release
  for release in $RELEASES; do
    $PY -m cafd_zoo evaluate --embedded --resume --model "$release" --attacks none --threat bare,oblivious --n 200 \
      --out "$OUT/embedded.jsonl"
  done
}

headline() {  # clean and PGD-20 oblivious on all 10,000 (crafted once for both releases), white-box PGD-20 on 1,000
  for release in $RELEASES; do
    evaluate --model "$release" --attacks none,pgd_n --threat bare,oblivious --n 10000 --out "$OUT/table2.jsonl"
    evaluate --model "$release" --attacks pgd_n --threat whitebox --n 1000 --out "$OUT/whitebox.jsonl"
  done
}

table2() {
  for release in $RELEASES; do
    evaluate --model "$release" --attacks pgd_t --threat bare,oblivious --n 10000 --out "$OUT/table2.jsonl"
    evaluate --model "$release" --attacks ddn,autoattack --threat bare,oblivious --n 1000 --out "$OUT/table2.jsonl"
  done
}

whitebox() {  # AutoAttack through the whole defended model
  for release in $RELEASES; do
    evaluate --model "$release" --attacks autoattack --threat whitebox --n 1000 --out "$OUT/whitebox.jsonl"
  done
}

table2_sta() {  # STA: about 4 h per release here; the cache crafts it once for both
  for release in $RELEASES; do
    evaluate --model "$release" --attacks sta,sta_t --threat bare,oblivious --n 1000 --out "$OUT/table2.jsonl"
  done
}

# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
run_steps "${@:-classifier embedded headline table2 whitebox table2_sta}"
