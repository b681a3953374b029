"""Property-based fuzzing of the public input checks: whatever tensor (any dtype, shape, values, layout) or
non-tensor goes into DefendedClassifier, a classifier release or class_activation_map, the answer is a correct
result or one InvalidInputError, never another exception."""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import cafd_zoo
from cafd_zoo import DefendedClassifier, InvalidInputError, class_activation_map
from cafd_zoo.models.denoiser import DUNET

from ..conftest import TinyNet

FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
DTYPES = [*FLOATS, torch.uint8, torch.int64, torch.bool, torch.complex64, torch.float8_e4m3fn]
VALUES = ["unit", "0-255", "negative", "nan", "inf", "zeros", "ones", "just_over_1"]
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

shapes = st.one_of(
    st.tuples(st.integers(1, 2), st.just(3), st.just(32), st.just(32)),  # half the right shape: reach the model
    st.one_of(st.tuples(st.integers(1, 2), st.sampled_from([1, 3, 4]), st.sampled_from([1, 16, 32, 33]),
                        st.sampled_from([1, 16, 32])),
              st.lists(st.integers(0, 4), min_size=0, max_size=5).map(tuple)),
)
dtypes = st.one_of(st.sampled_from(FLOATS), st.sampled_from(DTYPES))  # float dtypes more often
values = st.one_of(st.just("unit"), st.sampled_from(VALUES))  # valid values more often


@st.composite
def inputs(draw: st.DrawFn) -> object:
    """A tensor of any dtype, shape, values and layout, or now and then something that is no tensor."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([None, 0.5, [[0.5]], "image.png"]))
    shape, dtype, kind = draw(shapes), draw(dtypes), draw(values)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(draw(st.integers(0, 2**16))))
    if x.numel():
        x = {"unit": x, "0-255": x * 255, "negative": x - 0.5, "zeros": x * 0, "ones": x * 0 + 1,
             "just_over_1": x * 0 + 1.001, "nan": x.index_fill(-1, torch.tensor([0]), float("nan")) if x.dim() else
             x * float("nan"), "inf": x * float("inf")}[kind]
    x = x.to(dtype)
    if x.dim() == 4 and draw(st.booleans()):
        x = x.contiguous(memory_format=torch.channels_last)
    if x.is_floating_point() and dtype in (torch.float32, torch.float64) and draw(st.booleans()):
        x.requires_grad_(True)
    return x


@pytest.fixture(scope="module")
def defended() -> DefendedClassifier:
    torch.manual_seed(0)
    return DefendedClassifier(DUNET(width=8), TinyNet()).eval()


@pytest.fixture(scope="module")
def release() -> torch.nn.Module:
    return cafd_zoo.load("resnet20_cifar10", local_files_only=True)


@pytest.fixture(scope="module")
def tiny() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet().eval()


def _n(x: object) -> int:
    assert isinstance(x, torch.Tensor)
    return x.shape[0]


@FUZZ
@given(x=inputs())
def test_defended_classifier_gives_logits_or_invalid_input(defended, x, one_thread):
    _assert_logits_or_refused(defended, x)


@FUZZ
@given(x=inputs())
def test_classifier_release_gives_logits_or_invalid_input(release, x, one_thread):
    with torch.no_grad():
        _assert_logits_or_refused(release, x)


def _assert_logits_or_refused(model: torch.nn.Module, x: object) -> None:
    """Finite float32 logits of the right shape, or exactly one InvalidInputError: nothing else."""
    try:
        logits = model(x)
    except InvalidInputError:
        event("refused")
        return
    event("accepted")
    assert logits.shape == (_n(x), 10) and logits.dtype == torch.float32 and torch.isfinite(logits).all()


@FUZZ
@given(x=inputs())
def test_class_activation_map_gives_a_picture_or_invalid_input(tiny, x, one_thread):
    try:
        heat = class_activation_map(tiny, x)
    except InvalidInputError:
        event("refused")
        return
    event("accepted")
    assert isinstance(x, torch.Tensor)
    assert heat.shape == (x.shape[0], *x.shape[-2:]) and heat.dtype == torch.float32
    assert heat.min() >= 0 and heat.max() <= 1
