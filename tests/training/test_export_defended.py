"""export-defended: a denoiser run trained against a released classifier becomes a defended release that
loads through the manifest, carries evaluate's results as metrics, and refuses a classifier it was not trained on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import cafd_zoo
from cafd_zoo.manifest import load_manifest
from cafd_zoo.models import DefendedClassifier, create_model
from training.__main__ import main as training_main
from cafd_zoo.metrics_log import read_metrics
from training.engine.safetensors_io import read_metadata

from ..cifar_files import write_binary_cifar

REPO = Path(__file__).resolve().parents[2]
CLASSIFIER_YAML = ("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 8\ncheck_md5: false\n"
                   "precision: fp32\n")
DENOISER_YAML = ("dataset: cifar10\nepochs: 1\nbatch_size: 8\ndenoiser_width: 4\ndiscriminator_width: 4\n"
                 "adversarial_source: online\ncafa_steps: 1\neval_examples: 0\nprecision: fp32\ncheck_md5: false\n")


@pytest.fixture
def chain(tmp_path, monkeypatch):
    """train-classifier -> export-classifier (package, fp16) -> train-denoiser against that release, by name."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks run fastest on one thread; restored below, as later tests compare bits
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=4)
    (tmp_path / "clf.yaml").write_text(CLASSIFIER_YAML)
    (tmp_path / "den.yaml").write_text(DENOISER_YAML)
    manifest, package = tmp_path / "m.json", tmp_path / "pkg"
    monkeypatch.setenv("CAFD_MANIFEST", str(manifest))
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", package)
    data = str(tmp_path / "data")
    assert training_main(["train-classifier", "--config", str(tmp_path / "clf.yaml"), "--data", data,
                          "--out", str(tmp_path / "clf")]) == 0
    assert training_main(["export-classifier", "--run", str(tmp_path / "clf"), "--config", str(tmp_path / "clf.yaml"),
                          "--release", "tiny_r20", "--manifest", str(manifest), "--out", str(package),
                          "--dtype", "float16"]) == 0
    assert training_main(["train-denoiser", "--config", str(tmp_path / "den.yaml"), "--classifier-run", "tiny_r20",
                          "--classifier-config", str(tmp_path / "clf.yaml"), "--data", data,
                          "--out", str(tmp_path / "den")]) == 0
    export = ["export-defended", "--run", str(tmp_path / "den"), "--config", str(tmp_path / "den.yaml"), "--classifier",
              "tiny_r20", "--release", "tiny_cafd", "--manifest", str(manifest), "--out", str(package),
              "--dtype", "float16"]
    yield tmp_path, export
    torch.set_num_threads(threads)


def test_the_release_loads_and_computes_what_was_trained(chain, capsys):
    tmp_path, export = chain
    assert training_main(export + ["--classifier-run", "tiny_r20"]) == 0
    assert "tiny_cafd: embedded, 0 metrics" in capsys.readouterr().out
    info = load_manifest(tmp_path / "m.json").info("tiny_cafd")
    assert info["components"] == {"denoiser": "dunet4_tiny_cafd", "classifier": "tiny_r20"}
    model = cafd_zoo.load("tiny_cafd")
    assert isinstance(model, DefendedClassifier)
    denoiser = create_model("dunet", width=4, decoder="official", bn_momentum=0.9)
    trained = {k: v.half().float() if v.is_floating_point() else v
               for k, v in load_file(str(tmp_path / "den" / "denoiser.safetensors")).items()}
    denoiser.load_state_dict(trained)
    expected = DefendedClassifier(denoiser, cafd_zoo.load("tiny_r20")).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), expected(x))


def test_evaluate_results_become_metrics_with_their_commands(chain, capsys):
    tmp_path, export = chain
    assert training_main(export + ["--classifier-run", "tiny_r20"]) == 0
    results = tmp_path / "results.jsonl"
    assert training_main(["evaluate", "--model", "tiny_cafd", "--embedded", "--n", "4", "--batch-size", "4",
                          "--attacks", "pgd_n", "--threat", "bare,oblivious", "--steps", "1", "--precision", "fp32",
                          "--out", str(results)]) == 0
    assert training_main(export + ["--classifier-run", "tiny_r20", "--results", str(results), "--embedded"]) == 0
    metrics = {(m["threat_model"], m["target"], m["attack"]): m
               for m in load_manifest(tmp_path / "m.json").info("tiny_cafd")["metrics"]}
    assert set(metrics) == {("clean", "classifier", "none"), ("clean", "defended", "none"),
                            ("whitebox", "classifier", "pgd_n"), ("oblivious", "defended", "pgd_n")}
    rows = [r for r in read_metrics(results) if r["threat_model"] == "oblivious"]
    assert metrics[("oblivious", "defended", "pgd_n")]["error_rate"] == rows[0]["error_rate"]
    assert metrics[("oblivious", "defended", "pgd_n")]["command"].startswith(
        "cafd evaluate --model tiny_cafd --embedded --n 4")
    assert metrics[("oblivious", "defended", "pgd_n")]["budget"]["steps"] == 1
    assert "--steps 1 --precision fp32" in metrics[("oblivious", "defended", "pgd_n")]["command"]


def test_refuses_a_classifier_the_denoiser_was_not_trained_against(chain, capsys):
    tmp_path, export = chain
    other = tmp_path / "other"
    other.mkdir()
    torch.manual_seed(123)
    save_file(create_model("resnet20").state_dict(), str(other / "model.safetensors"))
    assert training_main(export + ["--classifier-run", str(other)]) == 1
    assert "trained against another classifier" in capsys.readouterr().err


def test_weight_files_are_byte_identical_across_processes(tmp_path):
    # safetensors orders its metadata map differently in each process; save_canonical must not
    script = ("import sys, torch; from training.engine.safetensors_io import save_canonical; "
              "save_canonical({'w': torch.arange(6.).reshape(2, 3)}, sys.argv[1], "
              "{'architecture': 'dunet', 'arguments': {'width': 4}, 'release': 'r', 'clamp': True})")
    for name in ("a", "b", "c"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], check=True, cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == (tmp_path / "c").read_bytes()
    assert read_metadata(tmp_path / "a") == {"architecture": "dunet", "arguments": {"width": 4}, "release": "r",
                                             "clamp": True}


def test_the_exported_file_records_what_it_holds(chain):
    tmp_path, export = chain
    assert training_main(export + ["--classifier-run", "tiny_r20"]) == 0
    stored = read_metadata(tmp_path / "pkg" / "dunet4_tiny_cafd.safetensors")
    assert stored == {"architecture": "dunet", "arguments": {"width": 4, "decoder": "official", "bn_momentum": 0.9},
                      "release": "tiny_cafd"}


def test_each_metric_command_carries_what_reproduces_its_row():
    from cafd_zoo.attacks import build_attack
    from training.release.result_metrics import evaluate_command

    def command(attack: str, threat: str = "whitebox", **extra) -> str:
        row = {"n": 100, "attack": attack, "threat_model": threat,
               "params": {**build_attack(attack, steps=7).params, **extra}}
        return evaluate_command("rel", "--embedded", row, 0, "fp32")

    assert "--eps 8 --steps 7" in command("pgd_n")
    assert "--eps" not in command("fwa") and "--steps 7" in command("fwa")  # FWA's eps is a transport budget
    assert "--steps 7" in command("sta") and "--steps 7" in command("cw_l2")
    assert "--eot" not in command("pgd_n", eot=1) and "--eot 4" in command("pgd_n", "bpda", eot=4)
    graybox = command("pgd_n", "graybox", surrogate={"source": "runs/dunet16_surrogate", "sha256": "ab"})
    assert "--threat graybox" in graybox and "--surrogate-denoiser runs/dunet16_surrogate" in graybox
    transfer = command("pgd_n", "transfer", source={"source": "vgg19_cifar10", "sha256": "ab"})
    assert "--threat transfer" in transfer and "--source-classifier vgg19_cifar10" in transfer


def test_the_clean_metric_is_the_one_of_most_images_and_rows_name_the_images_they_ran_on(chain):
    tmp_path, export = chain
    assert training_main(export + ["--classifier-run", "tiny_r20"]) == 0
    results = tmp_path / "results.jsonl"
    base = ["evaluate", "--model", "tiny_cafd", "--embedded", "--batch-size", "4", "--threat", "bare,oblivious",
            "--precision", "fp32", "--out", str(results), "--resume"]
    assert training_main(base + ["--attacks", "pgd_n", "--steps", "1", "--n", "4"]) == 0
    assert training_main(base + ["--attacks", "none", "--n", "8"]) == 0
    assert {r["images"] for r in read_metrics(results)} == {"embedded"}
    assert training_main(export + ["--classifier-run", "tiny_r20", "--results", str(results)]) == 0  # no --embedded
    metrics = load_manifest(tmp_path / "m.json").info("tiny_cafd")["metrics"]
    clean = {m["target"]: m for m in metrics if m["threat_model"] == "clean"}
    assert ({m["n"] for m in clean.values()} == {8}
            and not [m for m in metrics if m["threat_model"] != "clean" and m["attack"] == "none"])
    assert all(" --embedded " in m["command"] and "--data" not in m["command"] for m in metrics)


def test_a_classifier_release_takes_evaluate_results_as_metrics_too(chain):
    tmp_path, _ = chain
    results = tmp_path / "bare.jsonl"
    assert training_main(["evaluate", "--model", "tiny_r20", "--embedded", "--n", "8", "--batch-size", "8", "--attacks",
                          "none", "--threat", "bare", "--precision", "fp32", "--out", str(results)]) == 0
    assert training_main(["export-classifier", "--run", str(tmp_path / "clf"), "--config", str(tmp_path / "clf.yaml"),
                          "--release", "tiny_r20", "--manifest", str(tmp_path / "m.json"),
                          "--out", str(tmp_path / "pkg"), "--dtype", "float16", "--results", str(results)]) == 0
    metrics = load_manifest(tmp_path / "m.json").info("tiny_r20")["metrics"]
    assert ([m["command"].split()[:3] for m in metrics]
            == [["python", "-m", "training"], ["cafd", "evaluate", "--model"]])
    assert metrics[1]["n"] == 8 and metrics[1]["threat_model"] == "clean" and "--embedded" in metrics[1]["command"]
    assert metrics[1]["error_rate"] == read_metrics(results)[0]["error_rate"]


def test_an_fp16_release_holds_the_fp32_classifier_a_run_used_and_nothing_else(chain):
    from training.release.export_defended import same_classifier
    tmp_path, _ = chain
    run_weights = tmp_path / "clf" / "model.safetensors"  # fp32: what a denoiser run against the run folder used
    assert same_classifier(run_weights, "tiny_r20")  # the release stores exactly these, rounded to fp16
    weights = load_file(str(run_weights))
    key = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 1)
    weights[key] = weights[key] * 1.01  # beyond fp16 rounding
    save_file(weights, str(tmp_path / "other.safetensors"))
    assert not same_classifier(tmp_path / "other.safetensors", "tiny_r20")


def test_a_run_recorded_before_later_settings_existed_still_matches_its_config():
    import dataclasses
    import json

    from training.classifier.config import differences_from_record
    from training.denoiser.config_file import load_denoiser_config
    recorded = json.loads(
        (REPO / "results" / "cafd_resnet20_cifar10" / "train_denoiser_result.json").read_text())["config"]
    config = load_denoiser_config(
        REPO / "training" / "configs" / "denoiser" / "cafd_denoiser_resnet20_cifar10_compact.yaml")
    # recorded before it existed
    assert "probe_split" not in recorded and differences_from_record(recorded, config) == []
    changed = dict(recorded, epochs=recorded["epochs"] + 1)
    assert differences_from_record(changed, config) == ["epochs"]
    assert (differences_from_record(recorded, dataclasses.replace(config, probe_split="train_holdout"))
            == ["probe_split"])
