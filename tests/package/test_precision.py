import contextlib

import pytest
import torch

from cafd_zoo import precision


@pytest.mark.parametrize(
    "flags, expected",
    [({"avx2", "fma"}, False), ({"avx2", "avx512_bf16"}, True), ({"amx_bf16", "amx_tile"}, True)],
)
def test_native_bf16_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset(flags))
    assert precision.native_bf16("cpu") is expected
    assert precision.resolve_precision("auto", "cpu") == ("bf16" if expected else "fp32")


def test_explicit_precisions_pass_through_and_bad_ones_fail():
    assert precision.resolve_precision("fp32") == "fp32"
    assert precision.resolve_precision("bf16") == "bf16"
    with pytest.raises(ValueError, match="'auto', 'bf16' or 'fp32'"):
        precision.resolve_precision("fp16")


def test_autocast_contexts():
    assert isinstance(precision.autocast("fp32"), contextlib.nullcontext)
    with precision.autocast("bf16"):
        out = torch.nn.functional.linear(torch.rand(2, 4), torch.rand(3, 4))
    assert out.dtype == torch.bfloat16
