"""Attacks written for the zoo (CAFA lives in cafd_zoo.cafa); the evaluation harness adds library ones."""
from .cw import carlini_wagner_l2
from .ddn import ddn
from .fwa import fwa
from .pgd import pgd
from .roa import roa
from .sta import sta
from .ti_dim import ti_dim

__all__ = ["carlini_wagner_l2", "ddn", "fwa", "pgd", "roa", "sta", "ti_dim"]
