"""Attacks written for the zoo, and one registry of every attack the zoo runs, by name.

Importing this package registers them all: ``build_attack("pgd_n", eps=8/255)`` gives an attack with every
parameter fixed (see :mod:`.registry`); ``list_attacks()`` names them.
"""
from . import autoattack, cafa_attack, no_attack  # noqa: F401  (registrations)
from .cw import carlini_wagner_l2
from .ddn import ddn
from .fwa import fwa
from .pgd import pgd
from .registry import Attack, AttackEntry, build_attack, get_attack, list_attacks, official_targets, register_attack
from .roa import roa
from .sta import sta
from .ti_dim import ti_dim

__all__ = ["Attack", "AttackEntry", "build_attack", "carlini_wagner_l2", "ddn", "fwa", "get_attack", "list_attacks",
           "official_targets", "pgd", "register_attack", "roa", "sta", "ti_dim"]
