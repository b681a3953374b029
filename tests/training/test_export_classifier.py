"""export-classifier: a finished run becomes a release that loads, sha256-checked, with its measured error."""
from __future__ import annotations

import pytest
import torch

import cafd_zoo
from cafd_zoo.errors import IntegrityError
from cafd_zoo.manifest import load_manifest
from training.__main__ import main as training_main

from ..cifar_files import write_binary_cifar


@pytest.fixture
def finished_run(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=4)
    config = tmp_path / "tiny.yaml"
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 8\ncheck_md5: false\nprecision: fp32\n")
    assert training_main(["train-classifier", "--config", str(config), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")]) == 0
    return tmp_path, config


def test_embedded_export_loads_through_the_manifest(finished_run, monkeypatch, capsys):
    tmp_path, config = finished_run
    argv = ["export-classifier", "--run", str(tmp_path / "run"), "--config", str(config), "--release", "tiny_r20",
            "--manifest", str(tmp_path / "m.json"), "--out", str(tmp_path / "pkg"), "--dtype", "float16"]
    assert training_main(argv) == 0
    assert "tiny_r20: embedded, clean test error" in capsys.readouterr().out
    info = load_manifest(tmp_path / "m.json").info("tiny_r20")
    assert info["metrics"][0]["n"] == 4 and info["metrics"][0]["command"].startswith("python -m training train-classifier")
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", tmp_path / "pkg")
    model = cafd_zoo.load("tiny_r20", manifest=load_manifest(tmp_path / "m.json"))
    trained = cafd_zoo.create_model("resnet20")
    from safetensors.torch import load_file

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
