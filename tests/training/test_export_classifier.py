"""export-classifier: a finished run becomes a release that loads, sha256-checked, with its measured error."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import cafd_zoo
from cafd_zoo.errors import IntegrityError
from cafd_zoo.manifest import load_manifest
from cafd_zoo.metrics_log import read_metrics
from training.__main__ import main as training_main
from training.release.export_classifier import export_classifier

from ..cifar_files import write_binary_cifar


@pytest.fixture
def finished_run(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=4)
    config = tmp_path / "tiny.yaml"
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 8\ncheck_md5: false\n"
                      "precision: fp32\n")
    assert training_main(["train-classifier", "--config", str(config), "--data", str(tmp_path / "data"),
                          "--out", str(tmp_path / "run")]) == 0
    return tmp_path, config


def test_embedded_export_loads_through_the_manifest(finished_run, monkeypatch, capsys):
    tmp_path, config = finished_run
    argv = ["export-classifier", "--run", str(tmp_path / "run"), "--config", str(config), "--release", "tiny_r20",
            "--manifest", str(tmp_path / "m.json"), "--out", str(tmp_path / "pkg"), "--dtype", "float16"]
    assert training_main(argv) == 0
    assert "tiny_r20: embedded, clean test error" in capsys.readouterr().out
    info = load_manifest(tmp_path / "m.json").info("tiny_r20")
    assert (info["metrics"][0]["n"] == 4
            and info["metrics"][0]["command"].startswith("python -m training train-classifier"))
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", tmp_path / "pkg")
    model = cafd_zoo.load("tiny_r20", manifest=load_manifest(tmp_path / "m.json"))
    trained = cafd_zoo.create_model("resnet20")
    trained.load_state_dict(load_file(str(tmp_path / "run" / "model.safetensors")))
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), trained.eval()(x), atol=5e-2)  # fp16 storage, fp32 compute
    stored = tmp_path / "pkg" / "tiny_r20.safetensors"
    data = bytearray(stored.read_bytes())
    data[-10] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 mismatch.*reinstall cafd-zoo"):
        cafd_zoo.load("tiny_r20", manifest=load_manifest(tmp_path / "m.json"))


def test_refuses_a_config_the_run_did_not_use(finished_run):
    tmp_path, config = finished_run
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text().replace("batch_size: 8", "batch_size: 16"))
    argv = ["export-classifier", "--run", str(tmp_path / "run"), "--config", str(other), "--release", "tiny_r20",
            "--manifest", str(tmp_path / "m.json"), "--out", str(tmp_path / "pkg")]
    assert training_main(argv) == 1


def test_an_early_stop_exports_the_weights_kept_at_that_epoch_with_its_logged_accuracy(tmp_path):
    """A fast adversarial training that collapses is exported at the last epoch before the collapse (--epoch)."""
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)
    config = tmp_path / "at.yaml"
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 2\nbatch_size: 8\ncheck_md5: false\n"
                      "precision: fp32\neval_batch_size: 16\nadversarial: {attack: pgd, steps: 1}\n"
                      "robust_probe_images: 8\n")
    run = tmp_path / "run"
    assert training_main(["train-classifier", "--config", str(config), "--data", str(tmp_path / "data"),
                          "--out", str(run)]) == 0
    export = ["export-classifier", "--run", str(run), "--config", str(config), "--release", "tiny_at",
              "--manifest", str(tmp_path / "m.json"), "--out", str(tmp_path / "pkg")]
    assert training_main(export + ["--epoch", "1"]) == 0
    info = load_manifest(tmp_path / "m.json").info("tiny_at")
    logged = next(r["test_accuracy"] for r in read_metrics(run / "metrics.jsonl")
                  if r.get("epoch") == 1 and "test_accuracy" in r)
    assert info["metrics"][0]["error_rate"] == round(1 - logged, 6)
    assert info["training"]["epoch"] == 1 and info["training"]["commands"][1].endswith("--epoch 1")
    exported = load_file(str(tmp_path / "pkg" / "tiny_at.safetensors"))
    kept = load_file(str(run / "epochs" / "epoch_001.safetensors"))
    assert all(torch.equal(exported[k], kept[k]) for k in kept)
    assert not all(torch.equal(exported[k], v) for k, v in load_file(str(run / "model.safetensors")).items())
    with pytest.raises(ValueError, match="kept no weights of epoch 3: it kept epochs 1, 2"):
        export_classifier(run, config, "tiny_at", tmp_path / "m.json", tmp_path / "pkg", epoch=3)
