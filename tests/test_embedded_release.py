"""The classifier that ships inside the package: loads offline through the manifest, sha256-checked,
and is as accurate on the embedded sample as the manifest says it is on the whole test split."""
from __future__ import annotations

import shutil

import pytest
import torch

import cafd_zoo
from cafd_zoo.cli import main
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.errors import IntegrityError


def test_loads_from_the_package_and_matches_its_recorded_accuracy(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network is needed: the file is package data
    model = cafd_zoo.load("resnet20_cifar10")
    info = cafd_zoo.model_info("resnet20_cifar10")
    assert info["status"] == "embedded" and info["files"]["classifier"]["source"] == "package"
    clean = next(m for m in info["metrics"] if m["threat_model"] == "clean")
    assert clean["n"] == 10_000
    sample = embedded_cifar10_sample()
    with torch.no_grad():
        accuracy = float((model(sample.batch(slice(None))[0]).argmax(1) == sample.labels).float().mean())
    # the first 1,000 test images are a sample of the 10,000: 3 points is over 3 standard errors
    assert abs(accuracy - (1 - clean["error_rate"])) < 0.03
    assert accuracy >= 0.87


def test_a_flipped_byte_in_the_packaged_weights_is_caught(tmp_path, monkeypatch):
    shutil.copytree(cafd_zoo.hub.PACKAGE_WEIGHTS, tmp_path / "release")
    target = tmp_path / "release" / "resnet20_cifar10.safetensors"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    monkeypatch.setattr(cafd_zoo.hub, "PACKAGE_WEIGHTS", tmp_path / "release")
    with pytest.raises(IntegrityError, match="sha256 mismatch.*reinstall cafd-zoo"):
        cafd_zoo.load("resnet20_cifar10")


def test_the_demo_default_release_says_it_has_no_weights_yet(capsys):
    assert main(["demo"]) == 1
    assert "'cafd_resnet20_cifar10' has no trained weights yet" in capsys.readouterr().err
