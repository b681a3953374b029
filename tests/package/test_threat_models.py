"""The threat models differ exactly as specified: who is attacked, who is judged, where gradients flow."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cafd_zoo import DefendedClassifier
from cafd_zoo.evaluation import THREAT_MODELS, attack_target, judged_model


@pytest.fixture
def defended(tiny_dunet, tiny_net):
    return DefendedClassifier(tiny_dunet, tiny_net).eval()


def input_gradient(model, x, y):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    return grad


def test_bpda_gradient_is_the_bare_classifiers_gradient_at_the_purified_point(defended, images):
    y = torch.arange(6) % 10
    bpda = attack_target("bpda", defended)
    with torch.no_grad():
        assert torch.equal(bpda(images), defended(images))  # the forward pass is the real defense
        purified = defended.purify(images)
    assert torch.allclose(input_gradient(bpda, images, y), input_gradient(defended.classifier, purified, y), atol=1e-7)


def test_whitebox_gradient_flows_through_the_denoiser(defended, images):
    y = torch.arange(6) % 10
    full = input_gradient(attack_target("whitebox", defended), images, y)
    straight = input_gradient(attack_target("bpda", defended), images, y)
    assert full.abs().sum() > 0 and not torch.allclose(full, straight)


def test_who_is_attacked_and_who_is_judged(defended, tiny_dunet, tiny_net):
    assert attack_target("oblivious", defended) is tiny_net and judged_model("oblivious", defended) is defended
    assert attack_target("bare", defended) is tiny_net and judged_model("bare", defended) is tiny_net
    assert attack_target("whitebox", defended) is defended
    surrogate = DefendedClassifier(tiny_dunet, tiny_net)
    assert attack_target("graybox", defended, surrogate) is surrogate
    with pytest.raises(ValueError, match="needs a surrogate"):
        attack_target("graybox", defended)
    with pytest.raises(ValueError, match="unknown threat model"):
        judged_model("adaptive", defended)
    other = torch.nn.Linear(1, 1)
    assert attack_target("transfer", defended, source=other) is other and judged_model("transfer", defended) is defended
    with pytest.raises(ValueError, match="needs a source classifier"):
        attack_target("transfer", defended)
    assert set(THREAT_MODELS) == {"bare", "oblivious", "bpda", "whitebox", "graybox", "transfer"}


def test_cafa_attacks_the_class_activation_features_seen_through_the_denoiser(defended, images):
    from cafd_zoo.cam import ClassActivationFeatures

    through = ClassActivationFeatures(defended).phi(images)
    with torch.no_grad():
        direct = ClassActivationFeatures(defended.classifier).phi(defended.purify(images))
    assert torch.allclose(through, direct, atol=1e-6)
    assert torch.allclose(ClassActivationFeatures(attack_target("bpda", defended)).phi(images), direct, atol=1e-6)
