"""CW-L2 with binary search: near-minimal L2 on a linear classifier, failures unchanged, model untouched."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cafd_zoo.attacks import carlini_wagner_l2
from cafd_zoo.attacks.cw import cw_margin


def test_margin_is_the_true_logit_minus_the_best_other():
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    assert cw_margin(logits, torch.tensor([0, 2])).tolist() == [1.0, -4.0]


def test_finds_a_near_minimal_perturbation_of_a_linear_classifier():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2))
    x = 0.25 + 0.5 * torch.rand(8, 3, 32, 32)
    labels = model(x).argmax(1)
    direction = model[1].weight[0] - model[1].weight[1]
    margin = (x.flatten(1) @ direction + model[1].bias[0] - model[1].bias[1]).abs()
    x_adv = carlini_wagner_l2(model, x, labels, max_iterations=100)
    with torch.no_grad():
        assert (model(x_adv).argmax(1) != labels).all()
    found = (x_adv - x).flatten(1).norm(dim=1)
    with_confidence = (margin + 1.0) / direction.norm()  # the nearest point kappa = 1 past the boundary
    assert (found >= with_confidence * (1 - 1e-3)).all() and (found <= with_confidence * 1.2).all()


def test_an_example_counts_only_once_another_class_wins_by_kappa():
    """Carlini's and advertorch's rule: the label must lose by more than kappa, so that the kept example stays
    adversarial after bf16 rounding and uint8 storage; not merely the first point past the boundary."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    x = 0.25 + 0.5 * torch.rand(16, 3, 32, 32)
    labels = model(x).argmax(1)
    for kappa in (0.0, 2.0):
        x_adv = carlini_wagner_l2(model, x, labels, confidence=kappa, max_iterations=100)
        with torch.no_grad():
            margins = cw_margin(model(x_adv), labels)
        assert (margins < -kappa).all(), margins


def test_failures_come_back_unchanged_and_the_model_is_left_alone(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    tiny_net.train()
    x_adv = carlini_wagner_l2(tiny_net, images, labels, binary_search_steps=1, max_iterations=2, initial_const=1e-3)
    assert torch.equal(x_adv, images)  # a tiny c and 2 steps cannot cross this net's boundary
    assert tiny_net.training and all(p.grad is None for p in tiny_net.parameters())
    with pytest.raises(ValueError, match="binary_search_steps"):
        carlini_wagner_l2(tiny_net, images, labels, binary_search_steps=0)


def test_early_abort_saves_iterations_and_keeps_the_examples():
    """advertorch's rule, as the paper ran it: a search step stops once its loss stops falling."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    x = 0.25 + 0.5 * torch.rand(8, 3, 32, 32)
    labels = model(x).argmax(1)
    found = {}
    for abort in (False, True):
        calls.clear()
        x_adv = carlini_wagner_l2(model, x, labels, max_iterations=100, abort_early=abort)
        with torch.no_grad():
            assert (cw_margin(model(x_adv), labels) < -1.0).all()
        found[abort] = ((x_adv - x).flatten(1).norm(dim=1), len(calls) - 1)
    assert found[False][1] == 4 * 100 and found[True][1] < 4 * 100
    assert torch.allclose(found[True][0], found[False][0], rtol=0.05)
