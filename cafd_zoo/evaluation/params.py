"""Reading an attack's recorded parameters, shared by the summary, the sanity checks and the manifest metrics."""
from __future__ import annotations

from typing import Any


def recorded_steps(params: dict[str, Any]) -> int | None:
    """The iteration count ``--steps`` set for a row, under whichever name its attack records it."""
    return params.get("steps", params.get("iterations", params.get("max_iterations")))
