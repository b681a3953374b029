"""cafd_zoo.load_denoiser: a release's denoiser by name, or a training run's file, in one line; bad sources get one
message that says what they are."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import cafd_zoo
from cafd_zoo.errors import UnknownModelError


def test_a_release_name_gives_its_denoiser_the_same_weights_as_the_defended_release(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    denoiser = cafd_zoo.load_denoiser("cafd_resnet20_cifar10")  # a defended release gives its denoiser
    released = cafd_zoo.load("cafd_resnet20_cifar10").denoiser
    assert not denoiser.training
    assert all(torch.equal(a, b) for a, b in zip(denoiser.state_dict().values(), released.state_dict().values()))


def test_sources_that_are_not_a_denoiser_are_refused_with_what_they_are(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*writes RUN/denoiser.safetensors"):
        cafd_zoo.load_denoiser(tmp_path / "missing.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a train-denoiser output"):
        cafd_zoo.load_denoiser(tmp_path / "other.safetensors")
    (tmp_path / "damaged.safetensors").write_bytes(b"\x07" * 40)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        cafd_zoo.load_denoiser(tmp_path / "damaged.safetensors")
    with pytest.raises(ValueError, match="classifier release with no denoiser"):
        cafd_zoo.load_denoiser("resnet20_cifar10")
    with pytest.raises(UnknownModelError):
        cafd_zoo.load_denoiser("cafd_resnet20_cifar1O")
