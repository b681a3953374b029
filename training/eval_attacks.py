"""The attacks the evaluation harness runs, in the order it lists them: entries of the one registry,
:mod:`cafd_zoo.attacks`, whose recorded parameters are exactly the keyword arguments that ran."""
from __future__ import annotations

from cafd_zoo.attacks import Attack, build_attack, official_targets

ATTACKS = ("pgd_n", "pgd_t", "cafa", "ti_dim", "ddn", "cw_l2", "autoattack", "square", "roa", "sta", "sta_t", "fwa")

__all__ = ["ATTACKS", "Attack", "build_attack", "official_targets"]
