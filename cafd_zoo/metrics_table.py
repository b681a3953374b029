"""A release's manifest metrics as ``cafd info`` prints them: one line per attack, one column per threat model.

The manifest keeps one record per (attack, threat model, judged model), each with its command; a reader wants to
see at a glance what the defense removes and what an attacker who knows it gets back, so the same attack's cells
stand side by side (n in brackets, since cells can be measured on different numbers of images).
"""
from __future__ import annotations

from typing import Any

from .evaluation.params import attacks_with_several_steps, recorded_steps

COLUMNS = {"bare": "classifier alone", "oblivious": "oblivious", "bpda": "BPDA", "whitebox": "white-box",
           "graybox": "gray-box", "transfer": "transfer"}


def on_embedded_sample(metric: dict[str, Any]) -> bool:
    """Whether a metric was measured on the package's embedded sample (its command says ``--embedded``)."""
    return "--embedded" in metric.get("command", "")


def largest_clean(metrics: list[dict[str, Any]]) -> dict[tuple[str, bool], dict[str, Any]]:
    """(judged model, embedded sample?) -> the clean-error metric measured on the most images: each results file
    records the clean error of its own cells, and only the best-measured one is the release's clean error."""
    best: dict[tuple[str, bool], dict[str, Any]] = {}
    for m in (m for m in metrics if m["threat_model"] == "clean"):
        key = (m.get("target", "classifier"), on_embedded_sample(m))
        if key not in best or m["n"] > best[key]["n"]:
            best[key] = m
    return best


def column(metric: dict[str, Any]) -> str:
    """The column of an attack metric: the bare classifier attacked directly is "bare", whatever else it says; one
    crafted on another classifier is "transfer", whichever model it judged."""
    if metric["threat_model"] == "transfer":
        return "transfer"
    return "bare" if metric.get("target") == "classifier" else metric["threat_model"]


def row_label(metric: dict[str, Any], several_steps: set[str]) -> str:
    """A metric's row name: its attack, the steps when several budgets share a table, the sample."""
    label = metric["attack"]
    if metric["attack"] in several_steps:
        label += f", {recorded_steps(metric['budget'])} steps"
    if on_embedded_sample(metric):
        label += ", embedded sample"
    return label


def cell(metric: dict[str, Any]) -> str:
    """An error rate with its n, so no number is read without the size of what it counts."""
    return f"{100 * metric['error_rate']:.2f} ({metric['n']:,})"


def metrics_table(metrics: list[dict[str, Any]]) -> list[str]:
    """Lines: the clean errors, then a table of attacks x threat models (error %, n in brackets)."""
    lines = []
    for (target, embedded), m in largest_clean(metrics).items():
        judged = "classifier alone" if target == "classifier" else "with the defense"
        lines.append(f"clean, {judged}{', embedded sample' if embedded else ''}: "
                     f"{100 * m['error_rate']:.2f}% (n={m['n']:,})")
    attacks = [m for m in metrics if m["threat_model"] != "clean"]
    if not attacks:
        return lines
    several = attacks_with_several_steps({"attack": m["attack"], "params": m["budget"]} for m in attacks)
    cells: dict[str, dict[str, str]] = {}
    for m in attacks:
        cells.setdefault(row_label(m, several), {})[column(m)] = cell(m)
    columns = [c for c in COLUMNS if any(c in row for row in cells.values())]
    width = max(len("attack"), *(len(label) for label in cells))
    cell_width = {c: max(len(COLUMNS[c]), *(len(row.get(c, "-")) for row in cells.values())) for c in columns}
    lines.append("error % under attack (n in brackets):")
    lines.append("  ".join(["attack".ljust(width)] + [COLUMNS[c].rjust(cell_width[c]) for c in columns]))
    for label, row in cells.items():
        lines.append("  ".join([label.ljust(width)] + [row.get(c, "-").rjust(cell_width[c]) for c in columns]))
    return lines


def headline(metrics: list[dict[str, Any]]) -> dict[str, float | None]:
    """The three numbers ``cafd list`` shows per release, each on the most test images measured (the embedded
    sample only where nothing else is): clean error, PGD-20 oblivious (the paper's setting) and PGD-20 white-box
    (the worst case; the classifier alone attacked directly for a classifier release). Error rates in [0, 1]."""

    def best(keep: Any) -> float | None:
        found = sorted((m for m in metrics if keep(m)), key=lambda m: (not on_embedded_sample(m), m["n"]))
        return found[-1]["error_rate"] if found else None

    defended = any(m.get("target") == "defended" for m in metrics)
    judged = "defended" if defended else "classifier"

    def pgd20(m: dict[str, Any]) -> bool:
        return m["attack"] == "pgd_n" and recorded_steps(m["budget"]) == 20

    return {"clean": best(lambda m: m["threat_model"] == "clean" and m.get("target", judged) == judged),
            "pgd20_oblivious": best(lambda m: pgd20(m) and m["threat_model"] == "oblivious"),
            "pgd20_whitebox": best(lambda m: pgd20(m) and m["threat_model"] == "whitebox"
                                   and m.get("target", judged) == judged)}
