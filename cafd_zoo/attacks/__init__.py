"""Attacks written for the zoo (CAFA lives in cafd_zoo.cafa); the evaluation harness adds library ones."""
from .cw import carlini_wagner_l2
from .ddn import ddn
from .pgd import pgd
from .ti_dim import ti_dim

__all__ = ["carlini_wagner_l2", "ddn", "pgd", "ti_dim"]
