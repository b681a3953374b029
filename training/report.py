"""Markdown tables from evaluation results, laid out like the paper's Table 1 (defenses x attacks)."""
from __future__ import annotations

from pathlib import Path

from .evaluate import summarize
from .metrics_log import read_metrics


def table1(results: str | Path, *, threat: str = "oblivious", attacks: list[str] | None = None) -> str:
    """Rows: the releases in ``results``; columns: attacks; cells: error rate (%) under ``threat`` (n in the header)."""
    releases = sorted({r["release"] for r in read_metrics(results)})
    rows = {release: {r["attack"]: r for r in summarize(results, release) if r["threat_model"] == threat} for release in releases}
    attacks = attacks or sorted({a for cells in rows.values() for a in cells})
    ns = sorted({cell["n"] for cells in rows.values() for cell in cells.values()})
    lines = [f"Error rate (%) under the {threat} threat model, L-inf eps 8/255, first n = {', '.join(map(str, ns))} test images",
             "", "| defense | clean | " + " | ".join(attacks) + " |", "|---|---:|" + "---:|" * len(attacks)]
    for release, cells in rows.items():
        if not cells:
            continue
        clean = next(iter(cells.values()))["clean_error"]
        values = [f"{100 * cells[a]['error_rate']:.1f}" if a in cells else "-" for a in attacks]
        lines.append(f"| {release} | {100 * clean:.1f} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
