"""Beyond the paper (issue 14): a robust classifier alone and behind denoisers, worst case first.

Rows: releases (the bare classifier and each defended model); columns: the worst case over every measured cell,
then white-box AutoAttack (the headline), white-box PGD-50, white-box Square (gradient-free), BPDA and oblivious.
For the bare classifier, "white-box" and "oblivious" are both the ``bare`` threat model: an attacker who knows the
classifier knows the whole model, and one who crafts on the classifier alone attacks all of it (so the oblivious
column shows what a denoiser changes against the very same examples). Each cell gives its n, since the cells of
one row may differ in n; a column no row measured is left out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cafd_zoo.evaluation import summarize
from cafd_zoo.evaluation.params import recorded_steps
from cafd_zoo.metrics_log import read_metrics

from .table1 import cell_with_n, linf_budgets

# (heading, attack, steps or None for any, threat models that count for a defended release / for a bare one)
COLUMNS: list[tuple[str, str, int | None, str, str]] = [
    ("AutoAttack, white-box", "autoattack", None, "whitebox", "bare"),
    ("PGD-50, white-box", "pgd_n", 50, "whitebox", "bare"),
    ("Square, white-box", "square", None, "whitebox", "bare"),
    ("AutoAttack, BPDA", "autoattack", None, "bpda", ""),
    ("PGD-20, BPDA", "pgd_n", 20, "bpda", ""),
    ("AutoAttack, oblivious", "autoattack", None, "oblivious", "bare"),
    ("PGD-20, oblivious", "pgd_n", 20, "oblivious", "bare"),
]


def robust_table(results: str | Path, releases: list[str] | None = None) -> str:
    """The rows of ``releases`` (default: every release in ``results``, in file order), worst case first."""
    releases = releases or list(dict.fromkeys(r["release"] for r in read_metrics(results)))
    measured: list[dict[str, Any]] = []
    table: list[tuple[str, dict[str, Any], dict[str, Any] | None, list[dict[str, Any] | None]]] = []
    for release in releases:
        rows = summarize(results, release)
        if not rows:
            raise ValueError(f"{results} holds no results for {release!r}")
        bare = all(r["threat_model"] == "bare" for r in rows)
        if not bare:  # a defended release's bare rows judge the classifier without it: not this row's
            rows = [r for r in rows if r["threat_model"] != "bare"]
        measured += rows
        cells = [_find(rows, attack, steps, bare_threat if bare else threat)
                 for _, attack, steps, threat, bare_threat in COLUMNS]
        attacked = [r for r in rows if r["attack"] != "none"]
        table.append((release, max(rows, key=lambda r: r["n"]),
                      max(attacked, key=lambda r: r["error_rate"], default=None), cells))
    shown = [i for i in range(len(COLUMNS)) if any(cells[i] for *_, cells in table)]  # a column nobody measured: none
    lines = [f"| {release} | {cell_with_n(clean['clean_error'], clean['n'])} | "
             f"{cell_with_n(worst['error_rate'], worst['n']) if worst else '-'} | "
             + " | ".join(cell_with_n(cells[i]["error_rate"], cells[i]["n"]) if cells[i] else "-" for i in shown) + " |"
             for release, clean, worst, cells in table]
    header = [f"Error rate (%), L-inf eps {linf_budgets(measured)}, n test images in brackets; worst case: the highest "
              "error of the row", "",
              "| model | clean | worst case | " + " | ".join(COLUMNS[i][0] for i in shown) + " |",
              "|---|---:|---:|" + "---:|" * len(shown)]
    return "\n".join(header + lines) + "\n"


def _find(rows: list[dict[str, Any]], attack: str, steps: int | None, threat: str) -> dict[str, Any] | None:
    """The row of ``attack`` (with ``steps``, where given) under ``threat`` (none: not a column of this row), on
    the most images."""
    if not threat:
        return None
    found = [r for r in rows if r["attack"] == attack and r["threat_model"] == threat
             and (steps is None or recorded_steps(r["params"]) == steps)]
    return max(found, key=lambda r: r["n"], default=None)
