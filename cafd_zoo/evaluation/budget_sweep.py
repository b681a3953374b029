"""The budget sweep: error rate against the attack's budget (eps) and its number of steps, with the checks that
catch gradient masking (Carlini et al. 2019, "On evaluating adversarial robustness"):

- error must not fall as eps grows (at the base number of steps);
- an unbounded budget (eps = 255/255) must reach (almost) 100% error;
- error must not fall as the number of steps grows (at the base eps).

PGD's step size is max(2/255, 2.5 eps / steps), so a large budget can be used in the steps given.

Each point is one JSON line per threat model (attack, threat model, eps, steps, n, errors); a rerun skips the
points the file already holds, so a killed sweep loses at most one point. Bare and oblivious attack the same
bare classifier: their examples are crafted once and judged twice (``crafted_for`` names the threat models that
shared the crafting and its ``seconds``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from ..attacks import build_attack, get_attack
from ..code_version import code_commit, machine
from ..data import ImageSet
from ..metrics_log import MetricsLog, read_metrics
from ..models import DefendedClassifier
from ..precision import resolve_precision, to_attack_layout
from .driver import count_errors, threats_by_target
from .sanity_checks import format_checks
from .threat_models import judged_model

UNBOUNDED_ERROR = 0.99  # what "reaches 100%" allows: a few images may sit exactly on a tie


def pgd_step_size(eps: float, steps: int) -> float:
    """2.5 eps / steps (Madry et al.), so every budget can be crossed, but never below the evaluation's 2/255."""
    return max(2 / 255, 2.5 * eps / steps)


def sweep_points(eps_values: list[float], steps_values: list[int], base_eps: float,
                 base_steps: int) -> list[tuple[float, int]]:
    """The (eps, steps) points: every eps at ``base_steps``, then every number of steps at ``base_eps``."""
    points = [(eps, base_steps) for eps in eps_values] + [(base_eps, steps) for steps in steps_values]
    return list(dict.fromkeys(points))


def sweep(
    model: DefendedClassifier,
    release: str,
    data: ImageSet,
    results: str | Path,
    *,
    attack: str,
    threats: Sequence[str],
    points: list[tuple[float, int | None]],
    n: int,
    batch_size: int = 250,
    seed: int = 0,
    precision: str = "auto",
    images: str = "test",
) -> list[dict[str, Any]]:
    """Run ``attack`` under every threat model of ``threats`` at every (eps, steps) point on the first ``n`` images
    (of ``images``: "test" or "embedded", recorded in each row); returns the rows of this setting. An attack without a
    number of steps (AutoAttack, Square) runs each eps once, its rows' ``steps`` None. Threat models that attack the
    same model (bare and oblivious: the bare classifier) share one crafting per point, judged once per threat model,
    as ``evaluate`` does."""
    norm = build_attack(attack).params.get("norm", "Linf")  # CAFA records eps without a norm: it is L-inf
    if norm != "Linf":
        raise ValueError(f"sweep varies an L-inf eps, which {attack!r} does not have (its budget: {norm}); "
                         "sweep an L-inf attack such as pgd_n, cafa or autoattack")
    if get_attack(attack).steps is None:  # AutoAttack, Square: their budget is eps alone
        points = list(dict.fromkeys((eps, None) for eps, _ in points))
    results = Path(results)
    model.eval()
    device = next(model.parameters()).device
    prec = resolve_precision(precision, device)  # type: ignore[arg-type]
    to_attack_layout(model, prec, device)  # type: ignore[arg-type]
    groups = threats_by_target(threats, model)
    sample = data.subset(n)

    def key(r: dict[str, Any]) -> tuple[Any, ...]:  # one point of one setting: a resume skips exactly these
        return (r["release"], r["attack"], r["threat_model"], round(r["eps"], 6), r["steps"], r["n"], r.get("seed"),
                r.get("precision"), r.get("images", "test"))

    done = {key(r) for r in read_metrics(results)} if results.exists() else set()
    commit, measured_on = code_commit(), machine(device)
    with MetricsLog(results) as log:
        for eps, steps in points:
            for target, names in groups:
                rows = {t: {"release": release, "attack": attack, "threat_model": t, "eps": eps, "steps": steps, "n": n,
                            "seed": seed, "precision": prec, "images": images} for t in names}
                todo = [t for t in names if key(rows[t]) not in done]
                if not todo:
                    continue
                built = build_attack(attack, eps=eps, steps=steps, seed=seed,
                                     step_size=pgd_step_size(eps, steps) if steps is not None else None)
                tick = time.perf_counter()
                wrong = count_errors(built, target, {t: judged_model(t, model) for t in todo}, sample, 0, n,
                                     batch_size=batch_size, seed_base=seed * 1_000_003, device=device, precision=prec,
                                     clean=False)[0]
                seconds = round(time.perf_counter() - tick, 2)
                for t in todo:
                    log.log(**rows[t], params=built.params, errors=wrong[t], error_rate=wrong[t] / n, seconds=seconds,
                            crafted_for=todo, code_commit=commit, machine=measured_on)
    wanted = {key({"release": release, "attack": attack, "threat_model": t, "eps": e, "steps": s, "n": n, "seed": seed,
                   "precision": prec, "images": images}) for e, s in points for t in threats}
    return [r for r in read_metrics(results) if key(r) in wanted]


def sweep_checks(rows: list[dict[str, Any]], base_eps: float, base_steps: int) -> list[dict[str, Any]]:
    """The three gradient-masking checks on a sweep's rows (those that the rows allow)."""
    checks = []
    by_eps = sorted((r for r in rows if r["steps"] in (base_steps, None)), key=lambda r: r["eps"])
    by_steps = sorted((r for r in rows if abs(r["eps"] - base_eps) < 1e-9 and r["steps"] is not None),
                      key=lambda r: r["steps"])
    for name, series, field in (("eps", by_eps, "eps"), ("steps", by_steps, "steps")):
        if len(series) > 1:
            drops = [(a, b) for a, b in zip(series, series[1:]) if b["error_rate"] < a["error_rate"]]
            checks.append({"check": f"error does not fall as {name} grows", "passed": not drops,
                           "detail": "; ".join(f"{_label(field, r[field])}: {100 * r['error_rate']:.2f}%"
                                               for r in series)})
    unbounded = [r for r in by_eps if r["eps"] >= 1.0]
    if unbounded:
        error = unbounded[-1]["error_rate"]
        checks.append({"check": f"an unbounded budget (eps = 255/255) reaches at least "
                                f"{100 * UNBOUNDED_ERROR:.0f}% error",
                       "passed": error >= UNBOUNDED_ERROR, "detail": f"{100 * error:.2f}%"})
    return checks


def format_sweep(rows: list[dict[str, Any]], checks: list[dict[str, Any]]) -> str:
    """The sweep as a Markdown table, steps then eps, for results READMEs."""
    lines = ["| eps | steps | n | error | seconds |", "|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["steps"] or 0, r["eps"])):
        lines.append(f"| {_label('eps', r['eps'])} | {r['steps'] or '-'} | {r['n']} | {100 * r['error_rate']:.2f}% "
                     f"| {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n\ngradient-masking checks:\n" + format_checks(checks)


def _label(field: str, value: float) -> str:
    return f"{value * 255:g}/255" if field == "eps" else str(value)
