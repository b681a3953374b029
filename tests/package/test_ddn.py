"""DDN: minimum-L2 adversarial examples; an image it never fools comes back unchanged; a budget discards
larger perturbations; the model is left as found."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cafd_zoo.attacks import ddn


def test_finds_the_minimum_l2_perturbation_of_a_linear_classifier():
    # for two linear logits the smallest flip is |margin| / ||w0 - w1||, straight towards the boundary
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2))
    x = 0.25 + 0.5 * torch.rand(8, 3, 32, 32)  # away from the cube's faces, so clamping cannot bend the path
    labels = model(x).argmax(1)
    direction = model[1].weight[0] - model[1].weight[1]
    exact = (x.flatten(1) @ direction + model[1].bias[0] - model[1].bias[1]).abs() / direction.norm()
    x_adv = ddn(model, x, labels, steps=100, levels=None)
    with torch.no_grad():
        assert (model(x_adv).argmax(1) != labels).all()
    found = (x_adv - x).flatten(1).norm(dim=1)
    assert (found >= exact * (1 - 1e-4)).all() and (found <= exact * 1.10).all()  # within 10% of the optimum


def test_returns_8_bit_images_and_failures_unchanged(tiny_net, images):
    # this random net needs an L2 norm of about 3 to flip: DDN's radius (1, then x1.05 per miss)
    # cannot get there in 10 steps, and gets there for every image in 40
    labels = tiny_net(images).argmax(1)
    x = (images * 255).round() / 255
    assert torch.equal(ddn(tiny_net, x, labels, steps=10), x)
    x_adv = ddn(tiny_net, x, labels, steps=40)
    with torch.no_grad():
        assert (tiny_net(x_adv).argmax(1) != labels).all()
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv * 255 - (x_adv * 255).round()).abs().max() < 1e-4


def test_a_budget_discards_larger_perturbations(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    assert torch.equal(ddn(tiny_net, images, labels, steps=10, max_norm=1e-6), images)


def test_leaves_the_model_alone_and_rejects_bad_settings(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    tiny_net.train()
    ddn(tiny_net, images, labels, steps=2)
    assert tiny_net.training and all(p.grad is None for p in tiny_net.parameters())
    with pytest.raises(ValueError, match="gamma"):
        ddn(tiny_net, images, labels, gamma=1.5)
