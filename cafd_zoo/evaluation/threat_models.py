"""What an attack sees and what is judged, per threat model (paper section 4 and Table 3).

| threat model | adversarial examples crafted on | judged on |
|---|---|---|
| ``oblivious`` (the paper's "unseen attacks") | the bare classifier | the defended model |
| ``bpda`` | the defended model, purifier backward = identity | the defended model |
| ``whitebox`` (full, end to end) | the defended model | the defended model |
| ``graybox`` | a surrogate defended model (another denoiser) | the defended model |
| ``transfer`` (Table 1's AT row) | another classifier, the standard model the defense replaces | the defended model |
| ``bare`` (reference row) | the bare classifier | the bare classifier |
"""
from __future__ import annotations

from torch import nn

from ..models import DefendedClassifier
from .bpda import BPDADefendedClassifier

THREAT_MODELS = ("bare", "oblivious", "bpda", "whitebox", "graybox", "transfer")
ATTACKED_IS_JUDGED = ("bare", "bpda", "whitebox")
"""Threat models whose attacked model computes the judged model's forward pass (BPDA changes only the backward), so
what an attack measures on its target (AutoAttack's per-stage counts) describes the judged model too."""


def attack_target(threat: str, defended: DefendedClassifier, surrogate: DefendedClassifier | None = None,
                  source: nn.Module | None = None) -> nn.Module:
    """The model whose gradients (or queries) the attack uses under ``threat``."""
    if threat in ("bare", "oblivious"):
        return defended.classifier
    if threat == "bpda":
        return BPDADefendedClassifier(defended)
    if threat == "whitebox":
        return defended
    if threat == "graybox":
        if surrogate is None:
            raise ValueError("the graybox threat model needs a surrogate DefendedClassifier (another denoiser)")
        return surrogate
    if threat == "transfer":
        if source is None:
            raise ValueError("the transfer threat model needs a source classifier to craft on (--source-classifier)")
        return source
    raise ValueError(f"unknown threat model {threat!r}; choose from {THREAT_MODELS}")


def judged_model(threat: str, defended: DefendedClassifier) -> nn.Module:
    """The model whose errors on the adversarial examples are reported under ``threat``."""
    if threat not in THREAT_MODELS:
        raise ValueError(f"unknown threat model {threat!r}; choose from {THREAT_MODELS}")
    return defended.classifier if threat == "bare" else defended
