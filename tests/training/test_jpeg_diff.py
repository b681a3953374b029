"""jpeg_diff, kornia's differentiable JPEG: the real codec's output within a measured tolerance, and a true
gradient (not BPDA's identity), so --threat whitebox --purifier jpeg_diff attacks through JPEG itself."""
from __future__ import annotations

import sys

import pytest
import torch

from cafd_zoo import create_model
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.evaluation import attack_target
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.purifiers import DifferentiableJPEGPurifier, JPEGPurifier, build_purifier, jpeg_roundtrip
from training.__main__ import main as training_main
from cafd_zoo.metrics_log import read_metrics


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return embedded_cifar10_sample(16).batch(slice(None))[0]  # real photographs: JPEG is made for them


def test_shape_and_range_are_kept_and_the_image_changes(images):
    purified = images + DifferentiableJPEGPurifier(75)(images)
    assert purified.shape == images.shape and purified.dtype == images.dtype
    assert purified.min() >= 0 and purified.max() <= 1
    assert float((purified - images).abs().mean()) > 0.01


@pytest.mark.parametrize("quality", [75, 30])
def test_close_to_the_pillow_codec_at_the_same_quality(images, quality):
    # Measured on these 16 images: mean |kornia - Pillow| 0.0071 at q75 and 0.0085 at q30 (max 0.073 / 0.093),
    # against a mean change of 0.024 / 0.037 that Pillow's JPEG makes to the image.
    differentiable = images + DifferentiableJPEGPurifier(quality)(images)
    real = jpeg_roundtrip(images, quality)
    gap, change = float((differentiable - real).abs().mean()), float((real - images).abs().mean())
    assert gap < 0.01 and gap < 0.4 * change
    assert float((differentiable - real).abs().max()) < 0.12


def test_the_gradient_reaches_the_input_and_is_not_the_identity(images):
    x = images[:4].clone().requires_grad_(True)
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))

    def vjp(purifier: torch.nn.Module) -> torch.Tensor:
        (grad,) = torch.autograd.grad((x + purifier(x)) * upstream, x, grad_outputs=torch.ones_like(x))
        return grad

    true, bpda = vjp(DifferentiableJPEGPurifier(75)), vjp(JPEGPurifier(75))
    assert torch.equal(bpda, upstream)  # the real codec: identity backward
    assert true.abs().sum() > 0 and (true - upstream).abs().mean() > 0.3 * upstream.abs().mean()


def test_whitebox_attacks_through_the_codec_unlike_bpda(images):
    torch.manual_seed(0)
    defended = DefendedClassifier(build_purifier("jpeg_diff"), create_model("resnet20").eval()).eval()
    y = torch.arange(4)

    def input_gradient(model: torch.nn.Module) -> torch.Tensor:
        x = images[:4].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), x)
        return grad

    full = input_gradient(attack_target("whitebox", defended))
    straight = input_gradient(attack_target("bpda", defended))
    assert full.abs().sum() > 0 and not torch.allclose(full, straight, rtol=0.1, atol=1e-6)


def test_by_name_and_a_missing_kornia_gets_a_clear_error(monkeypatch):
    assert isinstance(build_purifier("jpeg_diff"), DifferentiableJPEGPurifier)
    assert build_purifier("jpeg_diff:30").quality == 30
    with pytest.raises(ValueError, match="quality must be an integer, e.g. jpeg_diff:75"):
        build_purifier("jpeg_diff:high")
    with pytest.raises(ValueError, match="between 1 and 100"):
        DifferentiableJPEGPurifier(0)
    monkeypatch.setitem(sys.modules, "kornia", None)  # what a venv without kornia does on import
    monkeypatch.setitem(sys.modules, "kornia.enhance", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'cafd-zoo\[eval\]'"):
        build_purifier("jpeg_diff")


def test_evaluate_runs_whitebox_through_jpeg_diff(classifier_run, tmp_path):
    out = tmp_path / "jd.jsonl"
    assert training_main(classifier_run + ["--purifier", "jpeg_diff", "--threat", "whitebox", "--out", str(out)]) == 0
    (row,) = read_metrics(out)
    assert row["release"] == "clf+jpeg_diff" and row["threat_model"] == "whitebox" and row["params"]["eot"] == 1
