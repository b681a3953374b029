"""caf-distance: how far each attack moves the class activation features (CAF), against how often it fools
the classifier: the measurement behind the paper's Figure 3 (BIA, i.e. BIM / iterative FGSM, PGD and CW-L2).

For every attack and budget, on the first ``n`` test images of the bare classifier: the fooling rate (the
share of correctly classified images that the attack makes wrong) and the mean CAF distance between each
natural image and its adversarial example. The distance is CAFA's official one (``cafd_zoo.cafa``): the MSE
of the ReLU'd, per-sample min-max normalised Phi = F * W, bilinearly upsampled to the input size, with W the
class weights of each image's own prediction; ``caf_l2``, the paper's plain L2 norm of raw Phi, is recorded
beside it. Distances are measured in fp32 whatever precision the attack ran in.

Budgets: eps (L-inf, in [0, 1]) for ``bim`` (no random start, step eps / steps) and ``pgd_n`` (random start,
the sweep's step size); the constant c for ``cw_l2`` (one fixed c, no binary search: a larger c buys more
success). Budget 0 is the natural image itself, no attack run: the reference point.

Each (attack, budget) point is one JSON line; a rerun skips the points the file holds.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cafd_zoo.attacks import get_attack
from cafd_zoo.cafa import FeatureDistance, resolve_config
from cafd_zoo.cam import ClassActivationFeatures
from cafd_zoo.code_version import code_commit
from cafd_zoo.data import ImageSet
from cafd_zoo.evaluation import pgd_step_size
from cafd_zoo.metrics_log import MetricsLog, read_metrics
from cafd_zoo.precision import autocast, resolve_precision

ATTACKS = ("bim", "pgd_n", "cw_l2")
Point = tuple[str, dict[str, Any]]


def caf_points(attacks: list[str], eps_values: list[float], steps: int, cw_consts: list[float],
               cw_steps: int) -> list[Point]:
    """(attack, params) for every attack at every budget: ``eps_values`` for bim and pgd_n, ``cw_consts`` for cw_l2."""
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"caf-distance knows the attacks {', '.join(ATTACKS)}; got {', '.join(unknown)}")
    if steps < 1 or cw_steps < 1 or min(eps_values + cw_consts, default=0) < 0:
        raise ValueError(f"need steps >= 1 and budgets >= 0; got steps {steps} and {cw_steps}, "
                         f"budgets {eps_values} and {cw_consts}")
    points: list[Point] = []
    for attack in attacks:
        if attack == "cw_l2":
            points += [(attack, {"const": c, "binary_search_steps": 1, "max_iterations": cw_steps, "confidence": 1.0,
                                 "learning_rate": 0.01}) for c in cw_consts]
        else:
            pgd_like = attack == "pgd_n"
            points += [(attack, {"eps": e, "steps": steps, "random_start": pgd_like,
                                 "step_size": pgd_step_size(e, steps) if pgd_like else e / steps}) for e in eps_values]
    return points


def craft(attack: str, params: dict[str, Any], model: nn.Module, x: torch.Tensor, y: torch.Tensor,
          generator: torch.Generator) -> torch.Tensor:
    """The adversarial examples of one point, by the registered attack (bim, pgd_n, cw_l2); budget 0 returns ``x``."""
    if params.get("eps", params.get("const")) == 0:
        return x
    if attack == "cw_l2":  # one fixed constant: the rows call it const, the attack initial_const
        fixed = {k: v for k, v in params.items() if k != "const"}
        return get_attack("cw_l2").fn(model, x, y, initial_const=params["const"], **fixed, generator=generator)
    return get_attack(attack).fn(model, x, y, **params, generator=generator)


@torch.no_grad()
def measure(extractor: ClassActivationFeatures, x: torch.Tensor, x_adv: torch.Tensor,
            y: torch.Tensor) -> dict[str, float]:
    """Sums over the batch: correct and fooled images, changed predictions, CAF distances, perturbation L2."""
    nat, adv = extractor(x.float()), extractor(x_adv.float())
    distance = FeatureDistance(resolve_config("official"), tuple(nat.features.shape[-2:]), tuple(x.shape[-2:]),
                               x.device)
    correct = nat.logits.argmax(1) == y
    wrong = adv.logits.argmax(1) != y
    return {"correct": int(correct.sum()), "fooled": int((correct & wrong).sum()),
            "changed": int((adv.logits.argmax(1) != nat.logits.argmax(1)).sum()),
            "caf_distance": float(distance(adv.phi, distance.prepare(nat.phi))) * len(x),  # the call is the batch mean
            "caf_l2": float((adv.phi.float() - nat.phi.float()).flatten(1).norm(dim=1).sum()),
            "l2": float((x_adv.float() - x.float()).flatten(1).norm(dim=1).sum())}


def caf_distance(
    model: nn.Module,
    release: str,
    data: ImageSet,
    results: str | Path,
    *,
    points: list[Point],
    n: int,
    batch_size: int = 250,
    seed: int = 0,
    precision: str = "auto",
    layer: str | None = None,
) -> list[dict[str, Any]]:
    """Measure every point on the first ``n`` images of ``data`` against the classifier ``model``; the file's rows of
    these points come back (``layer`` names the last conv layer of a model without ``forward_features``)."""
    results = Path(results)
    model.eval()
    device = next(model.parameters()).device
    prec = resolve_precision(precision, device)  # type: ignore[arg-type]
    extractor = ClassActivationFeatures(model, layer=layer)
    sample = data.subset(n)
    key = lambda r: (r["release"], r["attack"], json.dumps(r["params"], sort_keys=True), r["n"])  # noqa: E731
    done = {key(r) for r in read_metrics(results)} if results.exists() else set()
    commit = code_commit()
    with MetricsLog(results) as log:
        for attack, params in points:
            row = {"release": release, "attack": attack, "params": params, "n": n}
            if key(row) in done:
                continue
            tick = time.perf_counter()
            sums: dict[str, float] = {}
            for b, first in enumerate(range(0, n, batch_size)):
                x, y = sample.batch(slice(first, min(first + batch_size, n)))
                x, y = x.to(device), y.to(device)
                generator = torch.Generator(device=device).manual_seed(seed * 1_000_003 + b)
                with autocast(prec, device):  # type: ignore[arg-type]
                    x_adv = craft(attack, params, model, x, y, generator)
                for name, value in measure(extractor, x, x_adv, y).items():
                    sums[name] = sums.get(name, 0) + value
            log.log(**row, budget=params.get("eps", params.get("const")), correct=sums["correct"],
                    fooled=sums["fooled"], changed=sums["changed"],
                    fooling_rate=sums["fooled"] / sums["correct"] if sums["correct"] else None,
                    caf_distance=sums["caf_distance"] / n, caf_l2=sums["caf_l2"] / n, mean_l2=sums["l2"] / n, seed=seed,
                    precision=prec, seconds=round(time.perf_counter() - tick, 2), code_commit=commit)
            done.add(key(row))
    wanted = {key({"release": release, "attack": a, "params": p, "n": n}) for a, p in points}
    return [r for r in read_metrics(results) if key(r) in wanted]


def format_caf_distance(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, budget by budget."""
    lines = ["| attack | budget | n | fooling rate | CAF distance (official MSE) | CAF L2 | mean L2 of x_adv - x "
             "| seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        budget = f"c = {r['budget']:g}" if r["attack"] == "cw_l2" else f"{r['budget'] * 255:g}/255"
        rate = "—" if r["fooling_rate"] is None else f"{100 * r['fooling_rate']:.2f}%"
        lines.append(f"| {r['attack']} | {budget} | {r['n']} | {rate} | {r['caf_distance']:.5f} | {r['caf_l2']:.4f} | "
                     f"{r['mean_l2']:.4f} | {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"
