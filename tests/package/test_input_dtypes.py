"""Inputs of other float dtypes are cast to the model's dtype (float32 logits out); a classifier loaded as a
release and class_activation_map refuse NaN and 0-255 input like DefendedClassifier does."""
from __future__ import annotations

import pytest
import torch

import cafd_zoo
from cafd_zoo import DefendedClassifier, InvalidInputError, cafa, class_activation_map, create_model

OTHER_DTYPES = [torch.float64, torch.float16, torch.bfloat16]


@pytest.fixture(scope="module")
def release() -> torch.nn.Module:
    return cafd_zoo.load("resnet20_cifar10", local_files_only=True)


@pytest.mark.parametrize("dtype", OTHER_DTYPES)
def test_zoo_classifier_casts_other_dtypes_to_its_own(dtype, images, one_thread):
    torch.manual_seed(0)
    model = create_model("resnet20").eval()
    with torch.no_grad():
        logits = model(images.to(dtype))
        reference = model(images.to(dtype).float())
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, reference)


@pytest.mark.parametrize("dtype", OTHER_DTYPES)
def test_defended_classifier_casts_other_dtypes(dtype, tiny_dunet, tiny_net, images):
    model = DefendedClassifier(tiny_dunet, tiny_net).eval()
    with torch.no_grad():
        logits, restored = model(images.to(dtype)), model.purify(images.to(dtype))
    assert logits.dtype == restored.dtype == torch.float32
    torch.testing.assert_close(logits, model(images.to(dtype).float()))


def test_float64_keeps_gradients_flowing_to_the_input(tiny_dunet, tiny_net, images):
    x = images.double().requires_grad_(True)
    DefendedClassifier(tiny_dunet, tiny_net).eval()(x).sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float64 and x.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", OTHER_DTYPES)
def test_cam_and_cafa_cast_other_dtypes(dtype, tiny_net, images):
    x = images.to(dtype)
    heat = class_activation_map(tiny_net, x)
    assert heat.dtype == torch.float32 and heat.shape == (6, 32, 32)
    x_adv = cafa(tiny_net, x, steps=2, generator=torch.Generator().manual_seed(0))
    assert x_adv.dtype == torch.float32
    assert (x_adv - x.float()).abs().max() <= 8 / 255 + 1e-6


def test_unsupported_float_dtypes_get_the_one_error(tiny_dunet, tiny_net):
    x = torch.rand(2, 3, 32, 32).to(torch.float8_e4m3fn)
    with pytest.raises(InvalidInputError, match="float8_e4m3fn"):
        DefendedClassifier(tiny_dunet, tiny_net)(x)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.full((2, 3, 32, 32), float("nan")), "NaN or inf"),
        (torch.rand(2, 3, 32, 32) * 255, r"\[0, 1\]"),
        (torch.rand(2, 1, 32, 32), "3 channels"),
        (torch.rand(2, 3, 64, 64), "32x32"),
    ],
)
def test_classifier_release_checks_inputs_like_defended(release, bad, message):
    with pytest.raises(InvalidInputError, match=message):
        release(bad)
    with pytest.raises(InvalidInputError, match=message):
        release.forward_features(bad)


def test_classifier_release_check_keeps_autograd_and_autocast(release, images):
    x = images[:2].clone().requires_grad_(True)
    release(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        assert release(images[:2]).shape == (2, 10)


def test_bare_classifier_check_can_be_switched_off(release):
    release.check_inputs = False
    try:
        release(torch.rand(1, 3, 32, 32) * 255)  # no error: the caller said so
    finally:
        release.check_inputs = True


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.full((2, 3, 32, 32), float("nan")), "NaN or inf"),
        (torch.rand(2, 3, 32, 32) * 255, r"\[0, 1\]"),
        (torch.rand(2, 1, 32, 32), "3 channels"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "float tensor"),
    ],
)
def test_class_activation_map_checks_inputs(tiny_net, bad, message):
    with pytest.raises(InvalidInputError, match=message):
        class_activation_map(tiny_net, bad)
