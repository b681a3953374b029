"""JPEG and TVM, the input-transformation baselines: range and shape kept, the strength each parameter
claims, TV reduced, repeatable under a seed, and BPDA by construction inside a DefendedClassifier."""
from __future__ import annotations

import pytest
import torch

from cafd_zoo import InvalidInputError, create_model
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.purifiers import JPEGPurifier, TVMPurifier, build_purifier, jpeg_roundtrip, total_variation, tv_minimize


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return embedded_cifar10_sample(16).batch(slice(None))[0]  # real photographs: JPEG is made for them


@pytest.mark.parametrize("purifier", [JPEGPurifier(75),
                                      TVMPurifier(steps=20, generator=torch.Generator().manual_seed(0))])
def test_purified_images_keep_shape_and_range(purifier, images):
    purified = images + purifier(images)
    assert purified.shape == images.shape and purified.dtype == images.dtype
    assert purified.min() >= 0 and purified.max() <= 1
    assert not purified.equal(images)


def test_jpeg_strength_follows_quality(images):
    change = {q: float((jpeg_roundtrip(images, q) - images).abs().mean()) for q in (100, 75, 10)}
    assert change[100] < 0.015 < change[75] < change[10] and change[10] > 0.04
    assert jpeg_roundtrip(images, 75).equal(jpeg_roundtrip(images, 75))  # the codec is deterministic


def test_tvm_reduces_total_variation_and_is_repeatable_under_a_seed(images):
    def purified(seed: int) -> torch.Tensor:
        return images + TVMPurifier(steps=30, generator=torch.Generator().manual_seed(seed))(images)
    first = purified(0)
    assert (total_variation(first) < total_variation(images)).all()
    assert first.equal(purified(0)) and not first.equal(purified(1))


def test_tv_minimize_keeps_pixels_without_a_tv_weight(images):
    mask = torch.ones(len(images), 1, 32, 32)
    assert torch.allclose(tv_minimize(images, mask, weight=0.0, steps=5), images, atol=1e-6)
    with pytest.raises(ValueError, match="does not cover"):
        tv_minimize(images, mask[:2])


def test_inside_a_defended_classifier_the_gradient_is_bpda(images):
    torch.manual_seed(0)
    classifier = create_model("resnet20").eval()
    model = DefendedClassifier(JPEGPurifier(75), classifier).eval()
    x = images[:4].clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), torch.arange(4)).backward()
    at_purified = jpeg_roundtrip(images[:4], 75).requires_grad_(True)
    torch.nn.functional.cross_entropy(classifier(at_purified), torch.arange(4)).backward()
    inside = (at_purified > 0) & (at_purified < 1)  # at 0 and 1 the wrapper's clamp may cut the gradient
    assert inside.float().mean() > 0.9
    assert torch.allclose(x.grad[inside], at_purified.grad[inside], rtol=1e-4, atol=1e-10)


def test_bad_parameters_and_inputs_get_clear_errors(images):
    with pytest.raises(ValueError, match="quality must be between 1 and 100"):
        JPEGPurifier(0)
    with pytest.raises(ValueError, match="keep"):
        TVMPurifier(keep=0)
    bad = images[:2].clone()
    bad[0, 0, 0, 0] = float("nan")
    for purifier in (JPEGPurifier(), TVMPurifier(steps=1)):
        with pytest.raises(InvalidInputError):
            purifier(bad)


def test_purifiers_by_name():
    assert build_purifier("jpeg").quality == 75 and build_purifier("jpeg:30").quality == 30
    assert build_purifier("tvm").weight == 0.003
    for bad in ("jpeg:high", "gaussian", "tvm:3"):
        with pytest.raises(ValueError, match="JPEG quality must be an integer|unknown purifier"):
            build_purifier(bad)
