"""Every attack the harness runs, on one tiny classifier trained in the test: it stays in [0, 1] and in its
L-inf ball where it has one, raises the loss and never lowers the error, and repeats itself under a seed."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cafd_zoo.attacks import build_attack
from cafd_zoo.evaluation import ATTACKS

from ..stripes import stripes, train_stripes_classifier

EPS = 16 / 255
STEPS = {"pgd_n": 10, "pgd_t": 10, "cafa": 10, "ti_dim": 10, "ddn": 20, "roa": 5, "sta": 10, "sta_t": 10, "fwa": 30}
# few steps on a tiny task; CW-L2 keeps its 100 iterations (fewer fool nothing here) and Square its queries.
# AutoAttack standard is not here: its APGD-T needs at least 10 classes (this task has 4); it runs on a
# 10-class defended model in test_attack_libraries.py.
SUITE = [name for name in ATTACKS if name not in ("autoattack", "none")]  # "none" is no attack: test_attack_registry.py


class StripesClassifier(nn.Module):
    """The stripes net with the zoo's interface, so CAFA finds its features and final linear layer."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.features, self.head = net[:4], net[4:]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def get_classifier(self) -> nn.Linear:
        return self.head[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return StripesClassifier(train_stripes_classifier()).eval()


@pytest.mark.parametrize("name", SUITE)
def test_every_harness_attack_keeps_its_budget_raises_the_loss_and_repeats_under_a_seed(name, model):
    x, y = stripes(16, seed=1)
    eps = 4 * EPS if name == "square" else EPS  # random search needs a larger ball to fool this net at all
    attack = build_attack(name, eps=eps, steps=STEPS.get(name))
    first, second = (attack.run(model, x, y, torch.Generator().manual_seed(0)) for _ in range(2))
    assert torch.equal(first, second)
    assert first.shape == x.shape and first.min() >= 0 and first.max() <= 1
    if attack.params.get("norm", "Linf") == "Linf":  # CAFA records eps without a norm: it is L-inf
        assert (first - x).abs().max() <= eps + 1e-6
    with torch.no_grad():
        clean, adversarial = model(x), model(first)
    assert F.cross_entropy(adversarial, y) > F.cross_entropy(clean, y)
    assert (adversarial.argmax(1) != y).sum() >= (clean.argmax(1) != y).sum()
