# Sourced by the recipes of training/recipes/: steps that resume where they stopped, or are skipped once finished.
# Each recipe sets DATA and PY, defines its steps as shell functions, and ends with `run_steps "${@:-default steps}"`.

# Recipes run for hours under nohup with their output in a log: progress bars and AutoAttack's stage lines go there
# too (cafd_zoo/progress.py; CAFD_PROGRESS=0 silences them).
export CAFD_PROGRESS=${CAFD_PROGRESS:-1}

resume_if_started() { if [ -f "$1/checkpoint.pt" ]; then echo --resume; fi; }

finished() {  # RUN CONFIG: the run has a result for as many epochs as CONFIG asks (raise them and it trains on)
  [ -f "$1/result.json" ] || return 1
  [ "$(grep -o '"epochs": [0-9]*' "$1/result.json" | head -1 | grep -o '[0-9]*$')" = \
    "$(sed -n 's/^epochs: *\([0-9]*\).*/\1/p' "$2")" ]
}

train_classifier() {  # CONFIG RUN
  finished "$2" "$1" && { echo "classifier: done ($2)"; return; }
  # shellcheck disable=SC2046
  $PY -m training train-classifier --config "$1" --data "$DATA" --out "$2" $(resume_if_started "$2")
}

craft_cafa() {  # CLASSIFIER_CONFIG CLASSIFIER_RUN OUT STEPS [more craft-cafa flags]: finished shards are kept
  local config=$1 run=$2 out=$3 steps=$4
  shift 4
  $PY -m training craft-cafa --classifier-run "$run" --classifier-config "$config" --data "$DATA" --out "$out" \
    --steps "$steps" "$@"
}

train_denoiser() {  # COMMAND CONFIG CLASSIFIER_CONFIG CLASSIFIER_RUN CAFA_DIR RUN [more flags]
  local command=$1 config=$2 classifier_config=$3 classifier_run=$4 cafa_dir=$5 run=$6
  shift 6
  finished "$run" "$config" && { echo "$command: done ($run)"; return; }
  # shellcheck disable=SC2046
  $PY -m training "$command" --config "$config" --classifier-run "$classifier_run" \
    --classifier-config "$classifier_config" --cafa-dir "$cafa_dir" --data "$DATA" --out "$run" "$@" \
    $(resume_if_started "$run")
}

results() {  # RELEASE FILE...: --results EVAL/FILE for each of the release recipe's results files that holds rows
  # of RELEASE (export refuses a file without them)
  local release=$1
  shift
  for f in "$@"; do
    grep -qs "\"release\": \"$release\"" "$EVAL/$f" && printf -- '--results %s ' "$EVAL/$f"
  done
  true
}

kept_epoch() {  # RUN: after catastrophic overfitting (the adversarial-training probe's PGD-10 accuracy collapsed,
  # Wong et al. 2020) the epoch of the best probe, whose weights the run kept; nothing when training never collapsed
  grep -qs '"catastrophic_overfitting": true' "$1/metrics.jsonl" || return 0
  sed -n 's/.*"best_probe_epoch": *\([0-9][0-9]*\).*/\1/p' "$1/result.json"
}

run_steps() {  # each argument: one or more step names, run in order
  for step in "$@"; do
    for s in $step; do
      echo "== $s ($(date -u +%FT%TZ))"
      "$s"
    done
  done
}
