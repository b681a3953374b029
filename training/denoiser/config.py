"""The configuration of a CAFD denoiser run (paper Algorithm 2), read from YAML like ClassifierConfig."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from cafd_zoo.cafa import PRESETS

from ..classifier.adversarial_training import PGDTraining, check_flag, check_integer, check_number
from ..engine.lr_schedule import Schedule
from .losses import CAF_FORMS, GAN_FORMS

ADVERSARIAL_SOURCES = ("offline", "online", "adaptive")
ADAPTIVE_ONLY = ("adaptive_eps", "adaptive_steps", "adaptive_step_size", "adaptive_random_start",
                 "adaptive_clean_fraction")


def official_schedule() -> Schedule:
    """x0.3 at epochs 41, 51 and 61 (1-based): 1e-3 -> 3e-4 -> 9e-5 -> 2.7e-5, as the official code."""
    return Schedule(kind="multistep", milestones=(40, 50, 60), gamma=0.3)


@dataclass(frozen=True)
class DenoiserConfig:
    """Everything a denoiser run depends on; the defaults are the official CIFAR-10 recipe.

    ``lambda_caf`` is the paper's lambda1 (1e3 on CIFAR-10, 1e2 on SVHN), ``lambda_adv`` its lambda2
    (5e-3), ``lambda_class_weights`` the official code's weight of Eq. 7's W term (1e-3).
    ``adversarial_source``: ``"offline"`` trains on a fixed CAFA copy of the training set (the
    official code; made by ``python -m training craft-cafa``), ``"online"`` crafts CAFA against P for
    every batch (Algorithm 2 as written) with ``cafa_preset`` and ``cafa_steps``, ``"adaptive"`` (beyond the
    paper, for a robust P) crafts L-inf PGD with cross-entropy for every batch through the whole defended
    model P(purify(C, .)), C frozen in eval mode: ``adaptive_eps``, ``adaptive_steps``, ``adaptive_step_size``,
    ``adaptive_random_start``; the first ``adaptive_clean_fraction`` of each batch stays clean (not attacked),
    so C also learns to leave clean images alone. The ``adaptive_*`` settings belong to that source only.
    ``lambda_ce`` (any source; 0, the paper, by default) weighs the cross-entropy of P(purify(C, x~)) against
    the true labels, the loss an attacker of the defended model climbs.
    ``reset_optimizers_each_epoch``: the official code re-creates both Adam optimisers every epoch,
    so their moments restart; off by default (one Adam state for the whole run), on to reproduce it.
    ``clamp``: purify as ``clamp(x + C(x), 0, 1)`` (the zoo) or ``x + C(x)`` (official, False).
    The end-of-epoch probe attacks ``eval_examples`` images once with CAFA (``eval_cafa_steps`` steps,
    preset's if None; for an offline run held out of the training set, their stored CAFA copies) and,
    with ``probe_pgd_steps``, with PGD (eps 8/255), and reports P's accuracy on them, purified or not;
    ``probe_whitebox_pgd_steps`` adds PGD crafted through C and P on the same images, anew each epoch.
    ``probe_split``: ``"test"`` (the first test images, as the official code) or ``"train_holdout"``
    (the last training pairs, held out of training, so the test set never steers a run).
    """

    dataset: str
    epochs: int = 70
    batch_size: int = 300
    denoiser_width: int = 64
    denoiser_decoder: str = "official"
    denoiser_bn_momentum: float = 0.9
    clamp: bool = True
    discriminator_width: int = 32
    lr: float = 1e-3
    weight_decay: float = 2e-4
    schedule: Schedule = field(default_factory=official_schedule)
    reset_optimizers_each_epoch: bool = False
    caf_loss: str = "eq7_official"
    caf_normalization: str = "sample"
    lambda_caf: float = 1e3
    lambda_adv: float = 5e-3
    lambda_class_weights: float = 1e-3
    lambda_ce: float = 0.0
    gan_loss: str = "official"
    adversarial_source: str = "offline"
    cafa_preset: str = "official"
    cafa_steps: int | None = None
    adaptive_eps: float = 8 / 255
    adaptive_steps: int = 10
    adaptive_step_size: float = 2 / 255
    adaptive_random_start: bool = True
    adaptive_clean_fraction: float = 0.0
    eval_examples: int = 256
    eval_cafa_steps: int | None = 20
    eval_batch_size: int = 250
    probe_split: str = "test"
    probe_pgd_steps: int | None = None
    probe_whitebox_pgd_steps: int | None = None
    seed: int = 0
    precision: str = "auto"
    channels_last: bool = True
    checkpoint_every: int = 100
    log_every: int = 10
    train_subset: int | None = None
    check_md5: bool = True
    method: ClassVar[str] = "cafd"  # HGD and APE-G: BaselineDenoiserConfig (training/denoiser/baseline_config.py)
    # left out of config_dict while at their defaults, so the records of earlier runs still match
    added_later: ClassVar[tuple[str, ...]] = ("lambda_ce", *ADAPTIVE_ONLY, "probe_whitebox_pgd_steps")

    def __post_init__(self) -> None:
        choices = {
            "caf_loss": CAF_FORMS, "gan_loss": GAN_FORMS, "adversarial_source": ADVERSARIAL_SOURCES,
            "cafa_preset": tuple(PRESETS), "caf_normalization": ("sample", "batch"),
            "denoiser_decoder": ("official", "upsample"), "precision": ("auto", "bf16", "fp32"),
            "probe_split": ("test", "train_holdout"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        positive = ("epochs", "batch_size", "denoiser_width", "discriminator_width", "eval_batch_size",
                    "checkpoint_every", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "lambda_caf", "lambda_adv", "lambda_class_weights", "eval_examples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("cafa_steps", "eval_cafa_steps", "train_subset", "probe_pgd_steps", "probe_whitebox_pgd_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {getattr(self, name)}")
        self._check_adaptive()
        if not (self.trains_discriminator or self.needs_caf or self.lambda_ce > 0):
            raise ValueError("lambda_adv, lambda_ce and every L_caf weight are 0: "
                             "the denoiser would have nothing to learn from")

    def _check_adaptive(self) -> None:
        check_number("lambda_ce", self.lambda_ce, lambda v: v >= 0, ">= 0")
        pixels = "in (0, 1] (the [0, 1] pixel scale: 8/255 = 0.0313725...)"
        check_number("adaptive_eps", self.adaptive_eps, lambda v: 0 < v <= 1, pixels)
        check_integer("adaptive_steps", self.adaptive_steps, 1)
        check_number("adaptive_step_size", self.adaptive_step_size, lambda v: 0 < v <= 1, pixels)
        check_flag("adaptive_random_start", self.adaptive_random_start)
        check_number("adaptive_clean_fraction", self.adaptive_clean_fraction, lambda v: 0 <= v < 1,
                     "in [0, 1) (the share of each batch left clean; 1 would attack nothing)")
        if self.adversarial_source != "adaptive":
            defaults = {f.name: f.default for f in dataclasses.fields(DenoiserConfig) if f.name in ADAPTIVE_ONLY}
            changed = [name for name in ADAPTIVE_ONLY if getattr(self, name) != defaults[name]]
            if changed:
                raise ValueError(f"{', '.join(changed)} set, but adversarial_source is {self.adversarial_source!r}: "
                                 "the adaptive_* settings apply to adversarial_source: adaptive only")

    @property
    def adaptive_attack(self) -> PGDTraining:
        """The attack of ``adversarial_source: adaptive``: AT's PGD, crafted through C and P instead of P alone."""
        return PGDTraining(eps=self.adaptive_eps, steps=self.adaptive_steps, step_size=self.adaptive_step_size,
                           random_start=self.adaptive_random_start)

    @property
    def trains_discriminator(self) -> bool:
        """D only matters when the adversarial loss has a weight (the no-adversarial ablation skips it)."""
        return self.lambda_adv > 0

    @property
    def needs_caf(self) -> bool:
        """Whether any L_caf term has a weight (the no-L_caf ablation skips P's passes entirely)."""
        return self.lambda_caf > 0 or (self.lambda_class_weights > 0 and self.caf_loss.startswith("eq7"))

    @property
    def training_attack(self) -> str:
        """The attack the offline shards must hold (checked against their provenance)."""
        return "cafa"

    @property
    def adam_betas(self) -> tuple[float, float]:
        """Both Adams' betas: PyTorch's defaults, as the official code."""
        return (0.9, 0.999)
