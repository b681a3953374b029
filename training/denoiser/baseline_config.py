"""The configuration of a baseline denoiser run: HGD or APE-G, the defenses CAFD is compared with.

A subclass of DenoiserConfig, so the trainer's machinery (data, checkpoints, precision, probe, torchrun)
is shared, while a CAFD config, its ``config_dict`` and so every existing checkpoint stay exactly as they
were. A denoiser YAML with a ``method`` key reads into this class (``load_denoiser_config``).

``method``:
    ``"hgd"``: HGD (Liao et al., CVPR 2018): DUNET trained with the guided loss (training/denoiser/hgd_loss.py) at
        ``guided_layer`` (``logits``: LGD, ``features``: FGD) of the frozen classifier; no discriminator.
    ``"ape_g"``: APE-G (Jin et al., ICASSP 2019): the APE-GAN generator and discriminator
        (cafd_zoo/models/ape_gan.py) trained with ``lambda_pixel * MSE + lambda_gan * BCE`` for G and BCE for
        D, ``generator_steps`` G steps after each D step; ``denoiser_width`` / ``discriminator_width`` are
        their base widths (64 in the reference).
``training_attack``: what the offline shards must hold (``cw_l2`` for Table 1, ``pgd`` for the primed
variants of Table 3), made by ``python -m training craft-adversarial``. CAFD's own loss settings
(``caf_loss``, ``lambda_*``, ``gan_loss``, ...) do not apply and must stay at their defaults.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..crafting.shard_attacks import ATTACKS
from .config import DenoiserConfig
from .hgd_loss import GUIDED_LAYERS

METHODS = ("hgd", "ape_g")
CAFD_ONLY = ("caf_loss", "caf_normalization", "lambda_caf", "lambda_adv", "lambda_class_weights", "gan_loss",
             "cafa_steps", "lambda_ce")
UNUSED = {  # settings the other method reads: left at their defaults, so a config says only what it uses
    "hgd": ("lambda_pixel", "lambda_gan", "generator_steps", "discriminator_width"),
    "ape_g": ("guided_layer", "denoiser_decoder", "denoiser_bn_momentum"),
}
PAPERS = {
    "hgd": "Liao et al., Defense against Adversarial Attacks Using High-Level Representation Guided Denoiser, "
           "CVPR 2018 (a baseline of Zhou et al., ICCV 2021)",
    "ape_g": "Jin et al., APE-GAN: Adversarial Perturbation Elimination with GAN, ICASSP 2019 (Shen et al., arXiv "
             "1707.05474) (a baseline of Zhou et al., ICCV 2021)",
}


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
            or f.default_factory is not dataclasses.MISSING}


@dataclass(frozen=True)
class BaselineDenoiserConfig(DenoiserConfig):
    """HGD or APE-G (see the module docstring); every DenoiserConfig setting not named there keeps its meaning."""

    method: str = "hgd"  # type: ignore[misc]  # a field here, DenoiserConfig's class constant "cafd"
    training_attack: str = "cw_l2"  # type: ignore[assignment]
    guided_layer: str = "logits"
    lambda_pixel: float = 0.7
    lambda_gan: float = 0.3
    generator_steps: int = 2
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            hint = " (CAFD configs leave `method` out)" if self.method == "cafd" else ""
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}{hint}")
        super().__post_init__()
        for name, allowed in (("training_attack", ATTACKS), ("guided_layer", GUIDED_LAYERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        if self.adversarial_source != "offline":
            raise ValueError(f"{self.method} trains on offline shards (adversarial_source: offline), made by "
                             "`python -m training craft-adversarial`")
        defaults = _defaults(BaselineDenoiserConfig)
        for name in CAFD_ONLY + UNUSED[self.method]:
            if getattr(self, name) != defaults[name]:
                raise ValueError(f"{name} is not a setting of method {self.method}: leave it out "
                                 f"(got {getattr(self, name)!r})")
        if self.generator_steps < 1 or min(self.lambda_pixel, self.lambda_gan) < 0:
            raise ValueError(f"need generator_steps >= 1 and lambda_pixel, lambda_gan >= 0, got "
                             f"{self.generator_steps}, {self.lambda_pixel}, {self.lambda_gan}")
        if self.method == "ape_g" and self.lambda_pixel == self.lambda_gan == 0:
            raise ValueError("lambda_pixel and lambda_gan are 0: the generator would have nothing to learn from")
        if not (0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1):
            raise ValueError(f"Adam's betas must be in [0, 1), got {self.adam_beta1}, {self.adam_beta2}")

    @property
    def trains_discriminator(self) -> bool:
        """Only APE-G has a discriminator."""
        return self.method == "ape_g"

    @property
    def needs_caf(self) -> bool:
        """HGD's guided loss reads the classifier (no L_caf term in either baseline)."""
        return self.method == "hgd"

    @property
    def adam_betas(self) -> tuple[float, float]:
        return (self.adam_beta1, self.adam_beta2)
