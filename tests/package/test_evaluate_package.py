"""The evaluation for pip users: ``cafd_zoo.evaluate`` and ``cafd evaluate`` / ``cafd sweep``, on the embedded
release, with nothing from the training tree."""
from __future__ import annotations

import pytest
import torch

import cafd_zoo
from cafd_zoo.cli import main as cafd_main
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.metrics_log import read_metrics

pytestmark = pytest.mark.usefixtures("one_thread")
RELEASE = "cafd_resnet20_cifar10"  # embedded: no network


def test_the_python_api_runs_attacks_x_threats_on_tensors():
    images, labels = embedded_cifar10_sample().batch(slice(0, 4))
    rows = cafd_zoo.evaluate(RELEASE, images, labels, attacks=["pgd_n"], threats=["bare", "oblivious"], steps=1,
                             batch_size=4, precision="fp32")
    assert [(r["attack"], r["threat_model"], r["n"]) for r in rows] == [("pgd_n", "bare", 4), ("pgd_n", "oblivious", 4)]
    assert all(0 <= r["error_rate"] <= 1 for r in rows) and rows[0]["params"]["steps"] == 1


def test_the_api_takes_a_defended_classifier_and_refuses_a_bare_one():
    model = cafd_zoo.load(RELEASE)
    images, labels = embedded_cifar10_sample().batch(slice(0, 2))
    rows = cafd_zoo.evaluate(model, images, labels, attacks=["pgd_n"], threats=["whitebox"], steps=1, precision="fp32")
    assert rows[0]["threat_model"] == "whitebox" and rows[0]["n"] == 2
    with pytest.raises(TypeError, match="DefendedClassifier"):
        cafd_zoo.evaluate(model.classifier, images, labels)


def test_cafd_evaluate_writes_resumable_json_lines(tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    argv = ["evaluate", "--model", RELEASE, "--embedded", "--n", "4", "--attacks", "pgd_n", "--threat",
            "bare,oblivious", "--steps", "1", "--batch-size", "4", "--precision", "fp32", "--out", str(out)]
    assert cafd_main(argv) == 0
    rows = read_metrics(out)
    assert [r["threat_model"] for r in rows] == ["bare", "oblivious"] and rows[0]["release"] == RELEASE
    assert rows[0]["params"]["eps"] == pytest.approx(8 / 255)
    assert f"torch {torch.__version__}" in rows[0]["machine"]  # timings and bf16 results name where they ran
    assert "sanity checks" in capsys.readouterr().out
    assert cafd_main(argv) == 1  # results exist: --resume, or another --out
    assert "--resume" in capsys.readouterr().err
    assert cafd_main(argv + ["--resume"]) == 0 and len(read_metrics(out)) == 2


def test_cafd_sweep_runs_the_budget_points(tmp_path, capsys):
    out = tmp_path / "sweep.jsonl"
    assert cafd_main(["sweep", "--model", RELEASE, "--embedded", "--n", "2", "--eps", "2,8", "--steps", "1",
                      "--base-steps", "1", "--threat", "oblivious", "--precision", "fp32", "--out", str(out)]) == 0
    assert sorted((round(r["eps"] * 255), r["steps"]) for r in read_metrics(out)) == [(2, 1), (8, 1)]
    assert "gradient-masking checks" in capsys.readouterr().out


def test_a_classifier_release_is_evaluated_behind_a_purifier(tmp_path):
    out = tmp_path / "jpeg.jsonl"
    assert cafd_main(["evaluate", "--model", "resnet20_cifar10", "--purifier", "jpeg", "--embedded", "--n", "2",
                      "--attacks", "pgd_n", "--threat", "oblivious", "--steps", "1", "--precision", "fp32",
                      "--out", str(out)]) == 0
    assert read_metrics(out)[0]["release"] == "resnet20_cifar10+jpeg"


def test_a_transfer_row_crafts_on_the_source_classifier_and_names_it(tmp_path, capsys):
    """Table 1's AT row: the attacker crafts on the standard classifier release, the evaluated model is judged."""
    out = tmp_path / "transfer.jsonl"
    argv = ["evaluate", "--model", "resnet20_cifar10", "--embedded", "--n", "4", "--attacks", "pgd_n", "--steps", "1",
            "--batch-size", "4", "--precision", "fp32", "--out", str(out)]
    assert cafd_main(argv + ["--threat", "bare,transfer", "--source-classifier", "resnet20_cifar10"]) == 0
    bare, transfer = read_metrics(out)
    assert transfer["threat_model"] == "transfer" and transfer["params"]["source"]["source"] == "resnet20_cifar10"
    assert transfer["errors"] == bare["errors"]  # crafted on the very same weights, with the same seeds
    assert cafd_main(argv + ["--threat", "transfer", "--source-classifier", RELEASE, "--resume"]) == 1
    assert "takes a classifier release" in capsys.readouterr().err
    assert cafd_main(argv + ["--threat", "transfer", "--resume"]) == 1
    assert "--source-classifier" in capsys.readouterr().err
