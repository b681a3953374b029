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


def test_attacks_run_channels_last_under_bf16_and_the_layout_changes_no_value():
    """bf16 attacks are faster in channels_last (bench_core.py); the model's function must stay the same."""
    from cafd_zoo import create_model
    from cafd_zoo.attacks import build_attack
    from cafd_zoo.data import embedded_cifar10_sample
    from cafd_zoo.evaluation import count_errors

    torch.manual_seed(0)
    model = create_model("resnet20").eval()
    x = torch.rand(4, 3, 32, 32)
    before = model(x)
    assert precision.to_attack_layout(model, "fp32") == torch.contiguous_format
    assert precision.to_attack_layout(model, "bf16") == torch.channels_last
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x), before)  # the same function, another layout
    seen = []
    model.register_forward_pre_hook(
        lambda _, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    count_errors(build_attack("pgd_n", steps=1), model, {"bare": model}, embedded_cifar10_sample().subset(4), 0, 4,
                 batch_size=4, seed_base=0, device=torch.device("cpu"), precision="bf16")
    assert seen and all(seen)  # the batches reach the model channels_last
