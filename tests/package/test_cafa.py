import inspect

import pytest
import torch
import torch.nn.functional as F

from cafd_zoo.cafa import CAFA, CAFAConfig, FeatureDistance, cafa, resolve_config
from cafd_zoo.cam import ClassActivationFeatures

EPS = 8 / 255


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("preset", ["official", "paper"])
def test_stays_in_the_eps_ball_and_the_image_range(tiny_net, preset):
    x = torch.rand(6, 3, 32, 32, generator=seeded())
    x[0] = 0.0  # pixels on both edges of [0, 1]
    x[1] = 1.0
    x_adv = cafa(tiny_net, x, preset=preset, steps=5, generator=seeded())
    assert (x_adv - x).abs().max() <= EPS + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert not torch.equal(x_adv, x)


@pytest.mark.parametrize("preset", ["official", "paper"])
def test_raises_the_feature_distance_over_steps(tiny_net, images, preset):
    history = []
    x_adv = cafa(tiny_net, images, preset=preset, steps=15, generator=seeded(), callback=lambda s, d: history.append(d))
    assert len(history) == 15
    extractor = ClassActivationFeatures(tiny_net)
    dist = FeatureDistance(resolve_config(preset), (8, 8), (32, 32), images.device)
    with torch.no_grad():
        target = dist.prepare(extractor.phi(images))
        final = float(dist(extractor.phi(x_adv), target))
    assert final > 2 * history[0]
    assert history[-1] > history[0]


def test_uses_no_labels(tiny_net, images):
    assert "labels" not in inspect.signature(cafa).parameters and "y" not in inspect.signature(cafa).parameters
    attack = CAFA(tiny_net, steps=3)
    a = attack(images, torch.zeros(6, dtype=torch.long), generator=seeded())
    b = attack(images, torch.arange(6), generator=seeded())
    assert torch.equal(a, b)


def test_is_deterministic_under_a_seed(tiny_net, images):
    a = cafa(tiny_net, images, steps=3, generator=seeded(1))
    b = cafa(tiny_net, images, steps=3, generator=seeded(1))
    c = cafa(tiny_net, images, steps=3, generator=seeded(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_leaves_the_model_as_it_found_it(tiny_net, images):
    tiny_net.train()
    tiny_net.fc.weight.requires_grad_(False)
    for p in tiny_net.parameters():
        p.grad = torch.full_like(p, 0.5) if p.requires_grad else None
    state = {k: v.clone() for k, v in tiny_net.state_dict().items()}
    cafa(tiny_net, images, steps=3, generator=seeded())
    assert all(m.training for m in tiny_net.modules())
    assert tiny_net.fc.weight.requires_grad is False and tiny_net.conv1.weight.requires_grad is True
    assert all(torch.equal(v, tiny_net.state_dict()[k]) for k, v in state.items())  # incl. BN running stats
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in tiny_net.parameters() if p.requires_grad)


def test_computes_phi_of_x_once_and_one_pass_per_step(tiny_net, images):
    calls = []
    original = tiny_net.forward_features
    tiny_net.forward_features = lambda x: calls.append(1) or original(x)
    cafa(tiny_net, images, steps=4, generator=seeded())
    assert len(calls) == 1 + 4


@pytest.mark.parametrize("normalization", ["sample", "batch"])
def test_quadratic_form_equals_the_literal_upsampled_mse(normalization):
    g = seeded(3)
    phi_nat, phi_adv = torch.randn(4, 12, 2, 3, generator=g), torch.randn(4, 12, 2, 3, generator=g)
    dist = FeatureDistance(CAFAConfig(normalization=normalization), (2, 3), (32, 40), torch.device("cpu"))
    fast = dist(phi_adv, dist.prepare(phi_nat))
    up = lambda p: F.interpolate(dist.normalize(p), size=(32, 40), mode="bilinear", align_corners=False)  # noqa: E731
    assert torch.allclose(fast, F.mse_loss(up(phi_adv), up(phi_nat)), rtol=1e-5)


def test_batch_normalisation_couples_samples_and_sample_normalisation_does_not():
    g = seeded(4)
    phi = torch.rand(3, 5, 2, 2, generator=g)
    scaled = phi.clone()
    scaled[2] *= 10
    for mode, coupled in (("sample", False), ("batch", True)):
        dist = FeatureDistance(CAFAConfig(normalization=mode), (2, 2), (32, 32), torch.device("cpu"))
        assert torch.allclose(dist.normalize(phi)[0], dist.normalize(scaled)[0]) != coupled


def test_runs_under_bf16_autocast_and_channels_last(tiny_net, images):
    net = tiny_net.to(memory_format=torch.channels_last)
    x = images.contiguous(memory_format=torch.channels_last)
    history = []
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x_adv = cafa(net, x, steps=8, generator=seeded(), callback=lambda s, d: history.append(d))
    assert x_adv.dtype == torch.float32
    assert (x_adv - x).abs().max() <= EPS + 1e-6 and 0 <= x_adv.min() and x_adv.max() <= 1
    assert history[-1] > history[0]


def test_rejects_bad_settings_and_inputs(tiny_net, images):
    with pytest.raises(ValueError, match="unknown CAFA preset"):
        cafa(tiny_net, images, preset="strong")
    with pytest.raises(ValueError, match="eps"):
        cafa(tiny_net, images, eps=0)
    with pytest.raises(ValueError, match="steps"):
        cafa(tiny_net, images, steps=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cafa(tiny_net, images * 255)


def test_presets_match_the_documented_values():
    off, paper = resolve_config("official"), resolve_config("paper")
    assert ((off.eps, off.steps, off.step_size, off.start_radius, off.distance)
            == (EPS, 100, 0.01, None, "normalized_mse"))
    assert (paper.distance, paper.start_radius) == ("l2", 1e-3)
    assert resolve_config("official", steps=7).steps == 7
