"""Checks that flag a broken evaluation (the ones AutoAttack and RobustBench rely on), run on every summary."""
from __future__ import annotations

import json
from typing import Any

from .params import attacks_with_several_steps, recorded_steps

SQUARE_SHARE = 0.002  # pyautoattack's check_square_sr: Square breaking more after the gradient attacks is suspect
MASKING_GAP = 0.10  # AutoAttack finding this much more than PGD-CE on the same model points to masked gradients
GRADIENT_ATTACKS = ("pgd_n", "ti_dim")  # untargeted L-inf attacks that follow the gradient alone


def _comparable(params: dict[str, Any]) -> str:
    """An attack's budget without what a threat model adds (EOT draws, the gray-box surrogate, transfer's source)."""
    return json.dumps({k: v for k, v in params.items() if k not in ("eot", "surrogate", "source")}, sort_keys=True)


def _images(row: dict[str, Any]) -> str:
    """The image source: rows on the test set and on the embedded sample are never compared."""
    return row.get("images", "test")


def _labels(rows: list[dict[str, Any]]) -> dict[int, str]:
    """The attack's name, with its steps where one results file holds it with several (PGD-10 and PGD-20)."""
    several = attacks_with_several_steps(rows)
    return {id(r): f"{r['attack']}-{recorded_steps(r['params'])}" if r["attack"] in several else r["attack"]
            for r in rows}


def sanity_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each check: name, passed, detail. A failed check does not prove a bug, but must be explained. Rows are
    compared with the same attack budget (PGD-20 white-box against PGD-20 oblivious, not PGD-10)."""
    checks = []
    label = _labels(rows)
    same = {(r["attack"], r["threat_model"], _comparable(r["params"]), _images(r)): r for r in rows}
    strongest: dict[tuple[str, str, Any, str], dict[str, Any]] = {}  # per attack, threat model, eps and images
    for r in rows:
        key = (r["attack"], r["threat_model"], r["params"].get("eps"), _images(r))
        if key not in strongest or r["error_rate"] > strongest[key]["error_rate"]:
            strongest[key] = r
    for r in rows:
        if r["threat_model"] == "transfer":  # crafted on another model: it may fix as many mistakes as it makes
            continue
        checks.append({
            "check": f"{label[id(r)]}/{r['threat_model']}: attack error >= clean error",
            "passed": r["error_rate"] >= r["clean_error"],
            "detail": f"{100 * r['error_rate']:.2f}% vs {100 * r['clean_error']:.2f}%",
        })
    for r in rows:
        attack, threat, budget, images = r["attack"], r["threat_model"], _comparable(r["params"]), _images(r)
        name = label[id(r)]
        if threat == "whitebox" and (attack, "oblivious", budget, images) in same:
            oblivious = same[(attack, "oblivious", budget, images)]
            checks.append({
                "check": f"{name}: full white-box error >= oblivious error (else the end-to-end attack is too weak)",
                "passed": r["error_rate"] >= oblivious["error_rate"],
                "detail": f"{100 * r['error_rate']:.2f}% vs {100 * oblivious['error_rate']:.2f}%",
            })
        if threat == "bpda" and (attack, "whitebox", budget, images) in same:
            whitebox = same[(attack, "whitebox", budget, images)]
            checks.append({
                "check": f"{name}: BPDA at most {100 * MASKING_GAP:.0f} points above full white-box (else the "
                         "denoiser's own gradient misleads the end-to-end attack: masking; the stronger is the number)",
                "passed": r["error_rate"] - whitebox["error_rate"] <= MASKING_GAP,
                "detail": f"bpda {100 * r['error_rate']:.2f}%, white-box {100 * whitebox['error_rate']:.2f}%",
            })
    for r in rows:
        stages = r.get("robust_after")
        if r["attack"] == "autoattack" and stages and "square" in stages and "fab-t" in stages:
            extra = (stages["fab-t"] - stages["square"]) / r["n"]
            checks.append({
                "check": f"autoattack/{r['threat_model']}: its Square breaks at most {100 * SQUARE_SHARE:.1f}% of the "
                         "images after its gradient attacks (AutoAttack's own check; else gradients are masked)",
                "passed": extra <= SQUARE_SHARE,
                "detail": "unbroken after " + ", ".join(f"{k} {v}" for k, v in stages.items()) + f" of {r['n']}",
            })
    for (attack, threat, eps, images), r in strongest.items():
        if threat == "transfer":  # how well an attack transfers says nothing of the judged model's gradients
            continue
        if attack == "pgd_n" and ("autoattack", threat, eps, images) in strongest:
            strong = strongest[("autoattack", threat, eps, images)]
            checks.append({
                "check": f"{threat}: PGD within {100 * MASKING_GAP:.0f} points of AutoAttack "
                         "(else CE gradients are masked)",
                "passed": strong["error_rate"] - r["error_rate"] <= MASKING_GAP,
                "detail": f"PGD {100 * r['error_rate']:.2f}%, AutoAttack {100 * strong['error_rate']:.2f}%",
            })
        if attack == "square":
            gradient = [strongest[(g, threat, eps, images)] for g in GRADIENT_ATTACKS
                        if (g, threat, eps, images) in strongest]
            if gradient:
                best = max(gradient, key=lambda g: g["error_rate"])
                checks.append({
                    "check": f"{threat}: gradient-free Square within {100 * MASKING_GAP:.0f} points of the best "
                             "gradient attack (else the gradients mislead: masking)",
                    "passed": r["error_rate"] - best["error_rate"] <= MASKING_GAP,
                    "detail": f"Square {100 * r['error_rate']:.2f}%, {best['attack']} {100 * best['error_rate']:.2f}%",
                })
    return checks


def format_checks(checks: list[dict[str, Any]]) -> str:
    """One line per check, flagged ones marked FLAG, for the terminal and the logs."""
    return "\n".join(f"[{'ok' if c['passed'] else 'FLAG'}] {c['check']}: {c['detail']}" for c in checks)
