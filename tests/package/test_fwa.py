"""FWA: every iterate is a feasible local coupling (pi >= 0, rows sum to x, cost within eps * sum(x)), mass
per channel is conserved, eps = 0 changes nothing, a trained classifier is fooled, repeatable."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cafd_zoo.attacks import fwa
from cafd_zoo.attacks.fwa import _check, _linear_step, column_marginal, coupling_violations, window_costs
from cafd_zoo.attacks import build_attack

from ..stripes import stripes, train_stripes_classifier


@pytest.fixture(scope="module")
def trained() -> nn.Module:
    return train_stripes_classifier()


def test_window_costs_and_the_identity_coupling():
    costs = window_costs(5)
    assert costs.shape == (25,) and costs[12] == 0 and costs[0] == pytest.approx(math.sqrt(8))
    assert torch.equal(costs.view(5, 5), costs.view(5, 5).T) and sorted(set(costs.tolist()))[1] == 1
    x = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(0))
    identity = torch.zeros(2, 3, 25, 42)
    identity[:, :, 12] = x.flatten(2)
    assert torch.equal(column_marginal(identity, (6, 7), 5), x)
    moved = torch.zeros(2, 3, 25, 42)
    moved[:, :, 13] = x.flatten(2)  # offset (0, +1): every pixel's mass one step to the right (the last column's: out)
    assert torch.equal(column_marginal(moved, (6, 7), 5)[..., 1:], x[..., :-1])
    assert coupling_violations(moved, x, 1.0, 5)["outside"] > 0
    assert coupling_violations(identity, x, 0.0, 5)["outside"] == 0


def test_the_linear_step_spends_exactly_the_budget():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    grad = F.unfold(torch.randn(4, 3, 8, 8), 5, padding=2).view(4, 3, 25, 64)
    grad = grad / grad.abs().amax((1, 2, 3), keepdim=True)
    inside = F.unfold(torch.ones(1, 1, 8, 8), 5, padding=2).view(1, 1, 25, 64) > 0
    budget = 0.01 * x.flatten(1).sum(1)
    plan = _linear_step(grad, x.flatten(2), budget, window_costs(5), inside,
                        eps=0.01, gamma=1e-3, max_iter=50, tol=1e-4)
    spent = (plan * window_costs(5).view(1, 1, -1, 1)).sum((1, 2, 3)) / budget
    assert (spent <= 1).all() and (spent >= 1 - 1e-3).all()  # bisection lands on the budget from the feasible side
    assert (plan >= 0).all() and torch.allclose(plan.sum(2), x.flatten(2), atol=1e-6)
    assert not plan[~inside.expand_as(plan)].any()  # nothing leaves the image


def test_every_iterate_is_feasible_and_mass_is_conserved(trained):
    x, y = stripes(8, seed=1)
    eps = 0.05
    # verify=True checks the constraints after every iteration
    x_adv, transport = fwa(trained, x, y, eps=eps, iterations=10, verify=True, return_transport=True)
    found = coupling_violations(transport.coupling, x, eps, 5)
    assert found["negative"] <= 0 and found["row_marginal"] <= 1e-5
    assert found["cost_excess"] <= 1e-3 and found["outside"] == 0
    assert (transport.cost <= eps * x.flatten(1).sum(1) * (1 + 1e-3)).all() and (transport.cost > 0).all()
    assert torch.allclose(transport.image.sum((2, 3)), x.sum((2, 3)), rtol=1e-5)  # mass per channel stays
    assert torch.equal(x_adv, transport.image.clamp(0, 1)) and x_adv.shape == x.shape
    assert not torch.equal(x_adv, x)
    broken = transport.coupling.clone()
    broken[0, 0, 12, 0] += 0.1  # a row that no longer sums to its pixel: the per-iteration check must notice
    with pytest.raises(RuntimeError, match="row_marginal"):
        _check(broken, x, eps, 5, iteration=0)


def test_a_zero_budget_changes_nothing(trained):
    x, y = stripes(4, seed=2)
    assert torch.equal(fwa(trained, x, y, eps=0.0, iterations=3, verify=True), x)


def test_fools_a_trained_classifier(trained):
    x, y = stripes(16, seed=1)
    with torch.no_grad():
        assert (trained(x).argmax(1) != y).sum() == 0  # clean error 0
    x_adv, transport = fwa(trained, x, y, eps=0.1, iterations=20, return_transport=True)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        fooled = trained(x_adv).argmax(1) != y
    assert fooled.sum() >= 4 and torch.equal(fooled, transport.success)


def test_is_deterministic_leaves_the_model_alone_and_checks_its_settings(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    tiny_net.train()
    first = fwa(tiny_net, images, labels, eps=0.01, iterations=3)
    assert torch.equal(first, fwa(tiny_net, images, labels, eps=0.01, iterations=3))
    assert tiny_net.training and all(p.requires_grad and p.grad is None for p in tiny_net.parameters())
    with pytest.raises(ValueError, match="kernel_size"):
        fwa(tiny_net, images, labels, kernel_size=4)
    with pytest.raises(ValueError, match="one label per image"):
        fwa(tiny_net, images, labels[:2])


def test_the_harness_runs_fwa_with_the_reference_settings(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    attack = build_attack("fwa", steps=2)
    assert {k: attack.params[k] for k in ("eps", "kernel_size", "iterations", "gamma", "dual_max_iter")} == \
        {"eps": 0.005, "kernel_size": 5, "iterations": 2, "gamma": 1e-3, "dual_max_iter": 50}
    direct = fwa(tiny_net, images, labels, iterations=2)
    assert torch.equal(attack.run(tiny_net, images, labels, torch.Generator()), direct)
    assert build_attack("fwa").params["iterations"] == 300
