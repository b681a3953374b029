"""Checks that flag a broken evaluation (the ones AutoAttack and RobustBench rely on), run on every summary."""
from __future__ import annotations

from typing import Any

MASKING_GAP = 0.10  # AutoAttack finding this much more than PGD-CE on the same model points to masked gradients
GRADIENT_ATTACKS = ("pgd_n", "ti_dim")  # untargeted L-inf attacks that follow the gradient alone


def sanity_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each check: name, passed, detail. A failed check does not prove a bug, but must be explained."""
    checks = []
    by_key = {(r["attack"], r["threat_model"]): r for r in rows}
    for r in rows:
        checks.append({
            "check": f"{r['attack']}/{r['threat_model']}: attack error >= clean error",
            "passed": r["error_rate"] >= r["clean_error"],
            "detail": f"{100 * r['error_rate']:.2f}% vs {100 * r['clean_error']:.2f}%",
        })
    for (attack, threat), r in by_key.items():
        if threat == "whitebox" and (attack, "oblivious") in by_key:
            oblivious = by_key[(attack, "oblivious")]
            checks.append({
                "check": f"{attack}: full white-box error >= oblivious error (else the end-to-end attack is too weak)",
                "passed": r["error_rate"] >= oblivious["error_rate"],
                "detail": f"{100 * r['error_rate']:.2f}% vs {100 * oblivious['error_rate']:.2f}%",
            })
        if threat == "bpda" and (attack, "whitebox") in by_key:
            checks.append({
                "check": f"{attack}: reported with both BPDA and white-box (take the stronger as the robust number)",
                "passed": True,
                "detail": f"bpda {100 * r['error_rate']:.2f}%, white-box {100 * by_key[(attack, 'whitebox')]['error_rate']:.2f}%",
            })
        if attack == "pgd_n" and ("autoattack", threat) in by_key:
            strong = by_key[("autoattack", threat)]
            checks.append({
                "check": f"{threat}: PGD within {100 * MASKING_GAP:.0f} points of AutoAttack (else CE gradients are masked)",
                "passed": strong["error_rate"] - r["error_rate"] <= MASKING_GAP,
                "detail": f"PGD {100 * r['error_rate']:.2f}%, AutoAttack {100 * strong['error_rate']:.2f}%",
            })
        if attack == "square":
            gradient = [by_key[(g, threat)] for g in GRADIENT_ATTACKS if (g, threat) in by_key]
            if gradient:
                best = max(gradient, key=lambda g: g["error_rate"])
                checks.append({
                    "check": f"{threat}: gradient-free Square within {100 * MASKING_GAP:.0f} points of the best gradient "
                             "attack (else the gradients mislead: masking)",
                    "passed": r["error_rate"] - best["error_rate"] <= MASKING_GAP,
                    "detail": f"Square {100 * r['error_rate']:.2f}%, {best['attack']} {100 * best['error_rate']:.2f}%",
                })
    return checks


def format_checks(checks: list[dict[str, Any]]) -> str:
    return "\n".join(f"[{'ok' if c['passed'] else 'FLAG'}] {c['check']}: {c['detail']}" for c in checks)
