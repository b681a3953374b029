"""The two losses of CAFD's denoiser training: relativistic GAN (Eqs. 8-9) and the class activation
feature loss L_caf (Eqs. 6-7), each in the official code's form and the paper's.

RaGAN, ``form``:
    ``"official"``: the ESRGAN-style relativistic *average* GAN of the official code, two
        BCE-with-logits terms against the other batch's mean logit, each halved.
    ``"paper"``: Eqs. 8-9 as written, one term per image pair, batch mean:
        L_D = -log sigmoid(D(x) - D(C(x~))), L_adv = -log sigmoid(D(C(x~)) - D(x)).

L_caf, ``form`` (F: the classifier's last-conv features, W: the final linear layer's row of the
class it predicts on that input, Phi = F * W per channel; "up" is bilinear upsampling to the image
size, evaluated exactly as a small quadratic form, see :class:`cafd_zoo.cafa.FeatureDistance`):
    ``"eq7_official"``: what the official code trains: ``MSE(up F(x^), up F(x))`` plus the W term
        ``MSE(W(x^), W(x))``. W is picked by argmax, so the W term carries no gradient: it is logged,
        and it does nothing to C.
    ``"eq7_differentiable"``: the zoo's option: the W term with ``W(x^) = softmax(P(x^)) @ W``, the
        class weights averaged under P's probabilities, so Eq. 7's second term reaches C.
    ``"eq6"``: the paper's CAFD': ``MSE(up N(Phi(x^)), up N(Phi(x)))`` with N = ReLU then min-max to
        [0, 1] (per sample by default), the distance CAFA itself ascends.
    ``"pixel_mse"``: ``MSE(x^, x)`` in pixel space, the paper's MSED ablation.

:class:`ClassActivationFeatureLoss` returns the terms unweighted; the trainer weighs ``feature``
by lambda1 and ``class_weights`` by the official 1e-3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from cafd_zoo.cafa import FeatureDistance, resolve_config
from cafd_zoo.cam import ClassActivation, ClassActivationFeatures

GanForm = Literal["official", "paper"]
CafForm = Literal["eq7_official", "eq7_differentiable", "eq6", "pixel_mse"]
GAN_FORMS: tuple[str, ...] = get_args(GanForm)
CAF_FORMS: tuple[str, ...] = get_args(CafForm)


def _check_gan_form(form: str) -> None:
    if form not in GAN_FORMS:
        raise ValueError(f"RaGAN form must be one of {list(GAN_FORMS)}, got {form!r}")


def ragan_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, form: GanForm = "official") -> torch.Tensor:
    """D's loss: natural images ``d_real = D(x)`` should look more real than purified ``d_fake = D(C(x~))``."""
    _check_gan_form(form)
    d_real, d_fake = d_real.float(), d_fake.float()
    if form == "paper":
        return F.softplus(d_fake - d_real).mean()  # -log sigmoid(D(x) - D(C(x~)))
    real = F.binary_cross_entropy_with_logits(d_real - d_fake.mean(), torch.ones_like(d_real))
    fake = F.binary_cross_entropy_with_logits(d_fake - d_real.mean(), torch.zeros_like(d_fake))
    return 0.5 * (real + fake)


def ragan_generator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, form: GanForm = "official") -> torch.Tensor:
    """C's adversarial loss L_adv: the mirror image of :func:`ragan_discriminator_loss` (labels swapped)."""
    _check_gan_form(form)
    d_real, d_fake = d_real.float(), d_fake.float()
    if form == "paper":
        return F.softplus(d_real - d_fake).mean()  # -log sigmoid(D(C(x~)) - D(x))
    real = F.binary_cross_entropy_with_logits(d_real - d_fake.mean(), torch.zeros_like(d_real))
    fake = F.binary_cross_entropy_with_logits(d_fake - d_real.mean(), torch.ones_like(d_fake))
    return 0.5 * (real + fake)


@dataclass(frozen=True)
class CafTerms:
    """L_caf's parts, unweighted: ``feature`` (lambda1's term), ``class_weights`` (Eq. 7's W term; 0 for
    the forms without one) and P's logits on the purified batch (None for ``pixel_mse``), for logging."""

    feature: torch.Tensor
    class_weights: torch.Tensor
    purified_logits: torch.Tensor | None


class _UpsampledMSE(FeatureDistance):
    """FeatureDistance's exact upsampled MSE without the ReLU and min-max: Eq. 7's delta(F)."""

    def normalize(self, phi: torch.Tensor) -> torch.Tensor:
        return phi.float()


class ClassActivationFeatureLoss:
    """``loss(purified, natural)`` -> :class:`CafTerms` for a frozen classifier P (see the module docstring).

    P must already be frozen (eval mode, no parameter gradients): this loss only reads it. The
    natural image's features are computed without a graph: they are the target.
    """

    def __init__(
        self,
        classifier: nn.Module | ClassActivationFeatures,
        form: CafForm = "eq7_official",
        *,
        normalization: Literal["sample", "batch"] = "sample",
    ) -> None:
        if form not in CAF_FORMS:
            raise ValueError(f"class activation feature loss must be one of {list(CAF_FORMS)}, got {form!r}")
        self.form = form
        if not isinstance(classifier, ClassActivationFeatures):
            classifier = ClassActivationFeatures(classifier)
        self.extractor = classifier
        self.attack_config = resolve_config("official", normalization=normalization)
        self._distances: dict[tuple, FeatureDistance] = {}

    def _distance(self, kind: type[FeatureDistance], features: torch.Tensor, image: torch.Tensor) -> FeatureDistance:
        key = (kind, tuple(features.shape[-2:]), tuple(image.shape[-2:]), features.device)
        if key not in self._distances:
            self._distances[key] = kind(self.attack_config, key[1], key[2], features.device)
        return self._distances[key]

    def __call__(self, purified: torch.Tensor, natural: torch.Tensor) -> CafTerms:
        """P runs under the caller's autocast, if any; the distances are computed in fp32."""
        if self.form == "pixel_mse":
            feature = F.mse_loss(purified.float(), natural.float())
            return CafTerms(feature, feature.new_zeros(()), None)
        with torch.no_grad():
            target = self.extractor(natural)
        current = self.extractor(purified)
        with torch.autocast(purified.device.type, enabled=False):
            return self._terms(current, target, purified)

    def _terms(self, current: ClassActivation, target: ClassActivation, purified: torch.Tensor) -> CafTerms:
        if self.form == "eq6":
            distance = self._distance(FeatureDistance, current.features, purified)
            feature = distance(current.phi, distance.prepare(target.phi))
            return CafTerms(feature, feature.new_zeros(()), current.logits)
        distance = self._distance(_UpsampledMSE, current.features, purified)
        feature = distance(current.features, distance.prepare(target.features))
        if self.form == "eq7_official":
            purified_weights = current.class_weights.detach().float()  # argmax-picked: no gradient, as official
        else:
            weight = self.extractor.linear.weight.detach().float()
            purified_weights = current.logits.float().softmax(dim=1) @ weight
        class_weights = F.mse_loss(purified_weights, target.class_weights.float())
        return CafTerms(feature, class_weights, current.logits)
