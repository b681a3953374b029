"""The releases that ship inside the package (the compact ResNet-20 and the compact CAFD model in front
of it): they load offline through the manifest, sha256-checked, and on the embedded sample they do
what the manifest says they do on the whole test split."""
from __future__ import annotations

import shutil

import pytest
import torch

import cafd_zoo
from cafd_zoo.cli import main
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.attacks import pgd
from cafd_zoo.errors import IntegrityError
from cafd_zoo.manifest import load_manifest
from cafd_zoo.models import DefendedClassifier


EMBEDDED = [name for name, entry in load_manifest().releases.items() if entry["status"] == "embedded"]


def _on_the_sample(m: dict) -> bool:
    """A clean metric measured on the embedded sample itself (``--embedded``) or on the same first test images."""
    return (m["threat_model"] == "clean" and m["n"] <= 1000
            and ("--embedded" in m["command"] or "--data" in m["command"]))


@pytest.mark.parametrize("name", EMBEDDED)
def test_every_embedded_release_reproduces_its_recorded_clean_error_on_the_embedded_sample(
        name, one_thread, monkeypatch):
    """Each release shipped in the package, loaded offline with its sha256 checked, reproduces the clean errors its
    manifest records: to 1 point where the record was made on these very images (the record used bf16 autocast,
    this run fp32), else to 3 points of the whole test split's (1,000 of 10,000 images: over 3 standard errors)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    info = cafd_zoo.model_info(name)
    assert {f["source"] for f in info["files"].values()} == {"package"}
    assert sum(f["size"] for f in info["files"].values()) < 8_000_000  # the embedded budget: every file together
    clean = [m for m in info["metrics"] if m["threat_model"] == "clean"]
    same_images = [m for m in clean if _on_the_sample(m)]
    checked = same_images or [m for m in clean if m["n"] == 10_000]
    assert checked, f"{name} records no clean error to check"
    model = cafd_zoo.load(name)
    x, y = embedded_cifar10_sample().batch(slice(None))
    for m in checked:
        judged = model.classifier if isinstance(model, DefendedClassifier) and m["target"] == "classifier" else model
        with torch.no_grad():
            error = float((judged(x[: m["n"]]).argmax(1) != y[: m["n"]]).float().mean())
        assert abs(error - m["error_rate"]) <= (0.01 if same_images else 0.03), (name, m["command"], error)


def test_a_flipped_byte_in_the_packaged_weights_is_caught(tmp_path, monkeypatch):
    shutil.copytree(cafd_zoo.weight_sources.PACKAGE_WEIGHTS, tmp_path / "release")
    target = tmp_path / "release" / "resnet20_cifar10.safetensors"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", tmp_path / "release")
    with pytest.raises(IntegrityError, match="sha256 mismatch.*reinstall cafd-zoo"):
        cafd_zoo.load("resnet20_cifar10")


def _metric(info: dict, threat: str, target: str, attack: str) -> dict:
    return next(m for m in info["metrics"] if (m["threat_model"], m["target"], m["attack"]) == (threat, target, attack))


def test_the_compact_cafd_release_removes_oblivious_pgd_as_its_manifest_says(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = cafd_zoo.load("cafd_resnet20_cifar10")
    info = cafd_zoo.model_info("cafd_resnet20_cifar10")
    assert isinstance(model, DefendedClassifier) and info["status"] == "embedded"
    assert {f["source"] for f in info["files"].values()} == {"package"}
    assert sum(f["size"] for f in info["files"].values()) < 8_000_000  # the budget for both files
    clean, oblivious = _metric(info, "clean", "defended", "none"), _metric(info, "oblivious", "defended", "pgd_n")
    assert clean["n"] == oblivious["n"] == 10_000
    x, y = embedded_cifar10_sample(200).batch(slice(None))
    x_adv = pgd(model.classifier, x, y, eps=8 / 255, steps=20, step_size=2 / 255,
                generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        clean_error = float((model(x).argmax(1) != y).float().mean())
        bare_error = float((model.classifier(x_adv).argmax(1) != y).float().mean())
        defended_error = float((model(x_adv).argmax(1) != y).float().mean())
    # 200 images: a binomial standard error of at most 3.5 points, so 10 points is about 3 of them
    assert abs(clean_error - clean["error_rate"]) < 0.10
    assert abs(defended_error - oblivious["error_rate"]) < 0.10
    assert bare_error > 0.9 and defended_error < 0.5 * bare_error  # the defense does its job


def test_a_flipped_byte_in_the_packaged_denoiser_is_caught(tmp_path, monkeypatch):
    shutil.copytree(cafd_zoo.weight_sources.PACKAGE_WEIGHTS, tmp_path / "release")
    name = cafd_zoo.model_info("cafd_resnet20_cifar10")["files"]["denoiser"]["filename"]
    target = tmp_path / "release" / name
    data = bytearray(target.read_bytes())
    data[-3] ^= 0x10
    target.write_bytes(bytes(data))
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", tmp_path / "release")
    with pytest.raises(IntegrityError, match=f"sha256 mismatch.*{name}"):
        cafd_zoo.load("cafd_resnet20_cifar10")


def test_cafd_demo_runs_on_the_default_release_and_prints_its_table(tmp_path, capsys):
    figure = tmp_path / "demo.png"
    assert main(["demo", "--n", "32", "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "cafd_resnet20_cifar10 on the first 32 CIFAR-10 test images" in out
    for setting in ("clean", "PGD-20, oblivious", "CAFA-20", "PGD-20, full white-box"):
        assert setting in out
    assert figure.stat().st_size > 10_000
