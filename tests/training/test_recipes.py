"""The recipe scripts of training/recipes/ run for hours: a misspelt flag must fail here, not after the first hour.
Each script runs with PY replaced by a recorder, and every command it would run is parsed by the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cafd_zoo.cli import build_parser as cafd_parser
from training.__main__ import build_parser as training_parser

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "training" / "recipes").glob("*.sh"))
RECORDER = "import json, sys; log = sys.argv.pop(1); print(json.dumps(sys.argv[1:]), file=open(log, 'a'))"


def recorded_commands(script: Path, tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "argv.jsonl"
    recorder = tmp_path / "py"
    recorder.write_text(f"#!/bin/sh\nexec {sys.executable} -c \"{RECORDER}\" {log} \"$@\"\n")
    recorder.chmod(0o755)
    env = {**os.environ, "PY": str(recorder), "DATA": str(tmp_path / "data"), "RUNS": str(tmp_path / "runs"),
           "OUT": str(tmp_path / "out"), "BEST": "cafd_wrn16_4at_cifar10",
           "CLASSIFIER_RUN": str(tmp_path / "runs" / "my_resnet18")}
    subprocess.run(["bash", str(script)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_there_are_recipes():
    assert {p.name for p in RECIPES} >= {"cafd_vgg19_cifar10.sh", "evaluate_cafd_vgg19_cifar10.sh"}


@pytest.mark.parametrize("script", RECIPES, ids=lambda p: p.name)
def test_every_command_of_a_recipe_parses(script, tmp_path):
    commands = recorded_commands(script, tmp_path)
    assert commands, f"{script.name} ran no command"
    parsers = {"cafd_zoo": cafd_parser(), "training": training_parser()}
    for argv in commands:
        assert argv[0] == "-m" and argv[1] in parsers, argv
        parsers[argv[1]].parse_args(argv[2:])  # SystemExit (argparse's error) fails the test with the message


def test_the_metrics_step_records_every_results_file_that_exists(tmp_path):
    """release_cafd_vgg19_cifar10.sh metrics: record-metrics for both releases, with the committed results."""
    log, recorder, evaluation = tmp_path / "argv.jsonl", tmp_path / "py", tmp_path / "eval"
    recorder.write_text(f"#!/bin/sh\nexec {sys.executable} -c \"{RECORDER}\" {log} \"$@\"\n")
    recorder.chmod(0o755)
    evaluation.mkdir()
    (evaluation / "classifier.jsonl").write_bytes((ROOT / "results/vgg19_cifar10/classifier.jsonl").read_bytes())
    (evaluation / "embedded.jsonl").write_bytes((ROOT / "results/cafd_vgg19_cifar10/embedded.jsonl").read_bytes())
    env = {**os.environ, "PY": str(recorder), "EVAL": str(evaluation)}
    subprocess.run(["bash", "training/recipes/release_cafd_vgg19_cifar10.sh", "metrics"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=60)
    commands = [json.loads(line) for line in log.read_text().splitlines()]
    for argv in commands:
        training_parser().parse_args(argv[2:])
    assert [(a[a.index("--release") + 1], [x for x in a if x.endswith(".jsonl")]) for a in commands] == [
        ("vgg19_cifar10", [str(evaluation / "classifier.jsonl"), str(evaluation / "embedded.jsonl")]),
        ("cafd_vgg19_cifar10", [str(evaluation / "embedded.jsonl")])]


def test_the_robust_recipe_stops_after_a_classifier_whose_fast_at_collapsed(tmp_path):
    run = tmp_path / "runs" / "wrn16_4at_cifar10"
    run.mkdir(parents=True)
    (run / "result.json").write_text('{"epochs": 15}')  # finished: the step skips training and checks the log
    (run / "metrics.jsonl").write_text('{"epoch": 9, "test_accuracy": 0.7, "train_pgd10_accuracy": 0.05, '
                                       '"catastrophic_overfitting": true}\n')
    env = {**os.environ, "PY": "false", "DATA": str(tmp_path / "data"), "RUNS": str(tmp_path / "runs")}
    done = subprocess.run(["bash", "training/recipes/robust_compact_cifar10.sh", "classifier", "cafa"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "export-classifier --run" in done.stderr and "--epoch K" in done.stderr
    assert "== cafa" not in done.stdout


def test_after_catastrophic_overfitting_the_at_baseline_is_evaluated_and_released_at_its_kept_epoch(tmp_path):
    """Fast adversarial training can collapse (Wong et al. 2020): the run keeps each epoch's weights and names the
    best probe epoch; the release recipe then ships that epoch, never the collapsed final weights, and the
    evaluation measures what was shipped (the stored release), never a run folder."""
    log, recorder, run = tmp_path / "argv.jsonl", tmp_path / "py", tmp_path / "runs" / "at_vgg19_cifar10"
    recorder.write_text(f"#!/bin/sh\nexec {sys.executable} -c \"{RECORDER}\" {log} \"$@\"\n")
    recorder.chmod(0o755)
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"epoch": 7, "train_pgd10_accuracy": 0.41}\n'
                                       '{"epoch": 8, "train_pgd10_accuracy": 0.02, "catastrophic_overfitting": true}\n')
    (run / "result.json").write_text(json.dumps({"epochs": 15, "best_probe_epoch": 7}, indent=2))
    env = {**os.environ, "PY": str(recorder), "DATA": str(tmp_path / "data"), "RUNS": str(tmp_path / "runs")}

    def commands(script, step):
        log.unlink(missing_ok=True)
        subprocess.run(["bash", f"training/recipes/{script}", step], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=60)
        return [json.loads(line) for line in log.read_text().splitlines()]

    evaluated = [argv for argv in commands("baselines_vgg19_cifar10.sh", "oblivious") if "at_vgg19_cifar10" in argv]
    assert evaluated and all(argv[argv.index("--model") + 1] == "at_vgg19_cifar10" and "--classifier-run" not in argv
                             for argv in evaluated)
    exported = commands("release_baselines_vgg19_cifar10.sh", "at")[0]
    assert exported[exported.index("--epoch") + 1] == "7"
    (run / "metrics.jsonl").write_text('{"epoch": 15, "train_pgd10_accuracy": 0.45}\n')  # no collapse: the last epoch
    assert "--epoch" not in commands("release_baselines_vgg19_cifar10.sh", "at")[0]


def test_a_classifier_run_can_be_one_of_its_kept_epochs(tmp_path):
    from training.classifier.trained import classifier_weights

    kept = tmp_path / "run" / "epochs" / "epoch_007.safetensors"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"")
    assert classifier_weights(kept) == kept
    with pytest.raises(FileNotFoundError, match="neither a folder nor a zoo release"):
        classifier_weights(tmp_path / "run" / "epochs" / "epoch_008.safetensors")


@pytest.mark.parametrize("module, function, argv, result", [
    ("training.classifier.train", "train_classifier",
     ["train-classifier", "--config", "training/configs/resnet20_cifar10_short.yaml", "--data", "D", "--out", "R"],
     {"stopped_at_step": 3}),
    ("training.crafting.craft_shards", "craft_shards",
     ["craft-cafa", "--classifier-run", "{tmp}", "--classifier-config", "training/configs/resnet20_cifar10_short.yaml",
      "--data", "D", "--out", "O"], {"stopped": True, "crafted_shards": 1, "num_shards": 50}),
])
def test_a_command_stopped_on_request_exits_75_so_a_recipe_stops_there_too(module, function, argv, result, tmp_path,
                                                                           monkeypatch, capsys):
    """A SIGTERM'd trainer checkpoints and returns; exit 0 would let `set -e` start the recipe's next step (hours)
    on unfinished work."""
    import importlib

    from training.__main__ import main as training_main

    (tmp_path / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(importlib.import_module(module), function, lambda *a, **k: result)
    assert training_main([a.format(tmp=tmp_path) for a in argv]) == 75
    assert "stopped" in capsys.readouterr().out
