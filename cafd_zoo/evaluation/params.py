"""Reading an attack's recorded parameters, shared by the summary, the sanity checks and the manifest metrics."""
from __future__ import annotations

from typing import Any, Iterable


def recorded_steps(params: dict[str, Any]) -> int | None:
    """The iteration count ``--steps`` set for a row, under whichever name its attack records it."""
    return params.get("steps", params.get("iterations", params.get("max_iterations")))


def attacks_with_several_steps(rows: Iterable[dict[str, Any]]) -> set[str]:
    """The attacks that result rows hold with more than one step count (PGD-10 and PGD-20 under BPDA): a table or a
    check that names them needs their steps too."""
    steps: dict[str, set[int | None]] = {}
    for r in rows:
        steps.setdefault(r["attack"], set()).add(recorded_steps(r["params"]))
    return {attack for attack, counts in steps.items() if len(counts) > 1}
