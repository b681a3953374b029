"""The attack registry: one table of name -> function and defaults, and a record that is what ran."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from cafd_zoo.attacks import build_attack, get_attack, list_attacks

EVALUATED = ("none", "pgd_n", "pgd_t", "cafa", "ti_dim", "ddn", "cw_l2", "autoattack", "square", "roa", "sta", "sta_t",
             "fwa")


def test_every_attack_of_the_evaluation_and_of_training_is_registered():
    assert set(EVALUATED) | {"bim"} <= set(list_attacks())
    assert list_attacks("sta*") == ["sta", "sta_t"]


@pytest.mark.parametrize("name", EVALUATED + ("bim",))
def test_the_recorded_parameters_are_exactly_the_keyword_arguments_that_ran(name):
    attack = build_attack(name, eps=4 / 255, steps=3, seed=2)
    seen = {}
    spy = dataclasses.replace(attack.entry, fn=lambda m, x, y, generator=None, **kw: seen.update(kw) or x)
    dataclasses.replace(attack, entry=spy)(torch.nn.Identity(), torch.zeros(1, 3, 4, 4), torch.zeros(1).long())
    seen.pop("meter", None)  # STA's statistics sink: a run-time hook, not a parameter
    assert seen == attack.params


def test_budgets_go_where_each_attack_has_them():
    assert build_attack("pgd_n", eps=4 / 255, steps=7).params["steps"] == 7
    assert build_attack("cw_l2", eps=4 / 255, steps=7).params["max_iterations"] == 7  # no eps: minimum norm
    assert "eps" not in build_attack("cw_l2", eps=4 / 255).params
    assert build_attack("ti_dim", eps=4 / 255, steps=4).params["step_size"] == pytest.approx(1 / 255)  # eps / steps
    assert build_attack("fwa", eps=4 / 255).params["eps"] == 0.005  # a transport budget, not --eps
    assert build_attack("autoattack", seed=5).params["seed"] == 5


def test_unknown_names_and_parameters_and_descriptions_that_lie_are_refused():
    with pytest.raises(ValueError, match="unknown attack"):
        get_attack("pgd_x")
    with pytest.raises(ValueError, match="no parameter"):
        build_attack("pgd_n", momentum=0.9)
    lying = build_attack("pgd_n", norm="L2")
    with pytest.raises(ValueError, match="Linf"):
        lying(torch.nn.Flatten(), torch.rand(1, 3, 4, 4), torch.zeros(1).long())


def test_none_is_the_clean_images_as_a_copy():
    x = torch.rand(2, 3, 4, 4)
    out = build_attack("none")(torch.nn.Identity(), x, torch.zeros(2).long())
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
