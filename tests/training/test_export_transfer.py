"""export-transfer: a released denoiser before another released classifier (the paper's Table 2), as a release that
writes no file, loads both components verified, and refuses pairs that cannot work."""
from __future__ import annotations

import pytest
import torch

import cafd_zoo
from cafd_zoo.manifest import load_manifest
from cafd_zoo.metrics_log import read_metrics
from training.__main__ import main as training_main
from training.release.export_transfer import transfer_status

from .test_export_defended import chain  # noqa: F401  (the fixture: a classifier release and a defended release)


@pytest.fixture
def second_classifier(chain):  # noqa: F811
    """Another classifier release of the same data set, trained with another seed."""
    tmp_path, export = chain
    assert training_main(export + ["--classifier-run", "tiny_r20"]) == 0
    (tmp_path / "clf2.yaml").write_text((tmp_path / "clf.yaml").read_text() + "seed: 7\n")
    assert training_main(["train-classifier", "--config", str(tmp_path / "clf2.yaml"), "--data", str(tmp_path / "data"),
                          "--out", str(tmp_path / "clf2")]) == 0
    assert training_main(["export-classifier", "--run", str(tmp_path / "clf2"), "--config", str(tmp_path / "clf2.yaml"),
                          "--release", "tiny_r20b", "--manifest", str(tmp_path / "m.json"),
                          "--out", str(tmp_path / "pkg"), "--dtype", "float16"]) == 0
    return tmp_path, ["export-transfer", "--denoiser-release", "tiny_cafd", "--classifier", "tiny_r20b",
                      "--release", "tiny_cafd_b", "--manifest", str(tmp_path / "m.json")]


def test_the_pair_loads_the_released_denoiser_before_the_other_classifier(second_classifier, capsys):
    tmp_path, transfer = second_classifier
    files = sorted(p.name for p in (tmp_path / "pkg").iterdir())
    assert training_main(transfer) == 0
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == files  # no file written
    assert "tiny_cafd_b: embedded, the denoiser of tiny_cafd before tiny_r20b" in capsys.readouterr().out
    info = load_manifest(tmp_path / "m.json").info("tiny_cafd_b")
    source = load_manifest(tmp_path / "m.json").info("tiny_cafd")
    assert info["components"] == {"denoiser": source["components"]["denoiser"], "classifier": "tiny_r20b"}
    assert info["training"]["config"] == source["training"]["config"] and "cross-model transfer" in info["summary"]
    pair, defended, other = cafd_zoo.load("tiny_cafd_b"), cafd_zoo.load("tiny_cafd"), cafd_zoo.load("tiny_r20b")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(pair(x), other(defended.purify(x)))
        assert not torch.equal(pair(x), defended(x))  # the other classifier really is behind it


def test_its_evaluation_becomes_its_metrics(second_classifier):
    tmp_path, transfer = second_classifier
    assert training_main(transfer) == 0
    results = tmp_path / "transfer.jsonl"
    assert training_main(["evaluate", "--model", "tiny_cafd_b", "--embedded", "--n", "4", "--batch-size", "4",
                          "--attacks", "pgd_n", "--threat", "oblivious", "--steps", "1", "--precision", "fp32",
                          "--out", str(results)]) == 0
    assert training_main(transfer + ["--results", str(results), "--embedded", "--summary", "hand-written"]) == 0
    info = load_manifest(tmp_path / "m.json").info("tiny_cafd_b")
    metric = next(m for m in info["metrics"] if m["threat_model"] == "oblivious")
    assert metric["error_rate"] == read_metrics(results)[0]["error_rate"]
    assert metric["command"].startswith("cafd evaluate --model tiny_cafd_b --embedded --n 4")
    assert training_main(transfer) == 0  # exported again: the hand-written summary stays
    assert load_manifest(tmp_path / "m.json").info("tiny_cafd_b")["summary"] == "hand-written"


def test_refuses_pairs_that_cannot_work(second_classifier, capsys):
    tmp_path, transfer = second_classifier
    swapped = transfer[:2] + ["tiny_r20b"] + transfer[3:]  # a classifier release has no denoiser
    assert training_main(swapped) == 1
    assert "'tiny_r20b' has no denoiser" in capsys.readouterr().err
    unknown = transfer[:4] + ["tiny_r20c"] + transfer[5:]
    assert training_main(unknown) == 1
    assert "unknown model 'tiny_r20c'" in capsys.readouterr().err
    before = (tmp_path / "m.json").read_text()
    assert training_main(transfer[:-3] + ["tiny_cafd"] + transfer[-2:]) == 1  # would repoint the trained release
    assert "a transfer release gets a name of its own" in capsys.readouterr().err
    assert (tmp_path / "m.json").read_text() == before


def test_the_pair_is_as_available_as_its_least_available_part():
    assert transfer_status(["stored", "published"]) == "stored"
    assert transfer_status(["published", "published"]) == "published"
    assert transfer_status(["embedded", "published"]) == "published"
    assert transfer_status(["embedded", "embedded"]) == "embedded"
