"""Attacks written for the zoo (CAFA lives in cafd_zoo.cafa); the evaluation harness adds library ones."""
from .pgd import pgd

__all__ = ["pgd"]
