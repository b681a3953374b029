"""The summary of an evaluation: its results file's cells summed per (attack, threat model), as a table
followed by the sanity checks."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..metrics_log import read_metrics
from .params import recorded_steps
from .sanity_checks import format_checks, sanity_checks
from .threat_models import ATTACKED_IS_JUDGED


def summarize(results: str | Path, release: str, *, first: int | None = None) -> list[dict[str, Any]]:
    """One row per measurement (attack with its parameters, threat model, seed, precision, image source): errors of
    ``release`` in ``results`` summed over its shards, so PGD-10 and PGD-20 in one file stay two rows, and so do two
    seeds or a bf16 and an fp32 run on the same images. ``first``: only the shards within the first ``first``
    images (what one evaluation run covered, in a file that also holds a larger one)."""
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in read_metrics(results):
        if r.get("release") != release or "clean_errors" not in r:  # not an evaluate cell (a sweep point)
            continue
        if first is not None and r["first_index"] + r["n"] > first:
            continue
        images, seed, precision = r.get("images", "test"), r.get("seed"), r.get("precision")
        key = (r["attack"], r["threat_model"], json.dumps(r["params"], sort_keys=True), seed, precision, images)
        row = cells.setdefault(key, {"attack": r["attack"], "threat_model": r["threat_model"], "params": r["params"],
                                     "images": images, "seed": seed, "precision": precision, "n": 0, "errors": 0,
                                     "clean_errors": 0, "seconds": 0.0, "shard_stages": []})
        row["n"] += r["n"]
        row["errors"] += r["errors"]
        row["clean_errors"] += r["clean_errors"]
        row["seconds"] += r["seconds"]
        # stage counts describe the attacked model, which an oblivious or gray-box row does not judge (the driver
        # records them on every row the crafting served: see ATTACKED_IS_JUDGED)
        own = r["threat_model"] in ATTACKED_IS_JUDGED
        row["shard_stages"].append((r.get("attack_measured") or {}).get("robust_after") if own else None)
    for row in cells.values():
        stages = _summed_stages(row.pop("shard_stages"))
        if stages is not None:
            row["robust_after"] = stages
        row["error_rate"] = row["errors"] / row["n"]
        row["clean_error"] = row["clean_errors"] / row["n"]
    return list(cells.values())


def _summed_stages(shards: list[dict[str, int] | None]) -> dict[str, int] | None:
    """AutoAttack's per-stage unbroken counts summed over a row's shards; None unless every shard has them (one
    recorded before the meter existed would leave a sum over fewer images than the row)."""
    if any(stages is None for stages in shards):
        return None
    total: dict[str, int] = {}
    for stages in shards:
        for stage, count in stages.items():  # type: ignore[union-attr]
            total[stage] = total.get(stage, 0) + count
    return total


def format_summary(rows: list[dict[str, Any]], release: str) -> str:
    """The summary table, then the sanity checks."""
    return _table(rows, release) + "\n\nsanity checks:\n" + format_checks(sanity_checks(rows))


def _table(rows: list[dict[str, Any]], release: str) -> str:
    lines = [f"{release}: error rates (L-inf, first n test images)", "",
             f"{'attack':<12}{'steps':>6}  {'threat model':<14}{'n':>7}{'clean error':>13}{'attack error':>14}"
             f"{'seconds':>10}"]
    for r in rows:
        steps = recorded_steps(r["params"]) or ""
        lines.append(f"{r['attack']:<12}{steps!s:>6}  {r['threat_model']:<14}{r['n']:>7}"
                     f"{100 * r['clean_error']:>12.2f}%{100 * r['error_rate']:>13.2f}%{r['seconds']:>10.1f}")
    return "\n".join(lines)
