"""Attacks written for the zoo (CAFA lives in cafd_zoo.cafa); the evaluation harness adds library ones."""
from .pgd import pgd
from .ti_dim import ti_dim

__all__ = ["pgd", "ti_dim"]
