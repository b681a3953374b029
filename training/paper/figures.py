"""Figures like the paper's 3, 5 and 6, drawn with matplotlib (Agg canvas, no pyplot state) from results files.

Each figure is written as a PNG with the data it drew beside it as JSON (same name, ``.json``), so a reader
can check a figure against the results and redraw it without rerunning anything:

- Figure 6: error rate against the L-inf budget (6/255 to 16/255), one line per defense and threat model,
  from ``sweep`` rows;
- Figure 5: the ablation, error rate per denoiser variant (one release each) and attack, from ``evaluate`` rows;
- Figure 3: class activation feature distance against fooling rate for BIA (BIM), PGD and CW-L2, from
  ``caf-distance`` rows.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from cafd_zoo.metrics_log import read_metrics

from .tables_2_3 import THREAT_LABELS, attack_columns, column_labels, describe, load_cells

ABLATIONS = {"ablation_msed": "MSED (pixel MSE)", "ablation_no_adv": "CAFD without L_adv",
             "ablation_no_caf": "CAFD without L_caf"}
ATTACK_NAMES = {"bim": "BIA (BIM)", "pgd_n": "PGD", "cw_l2": "CW-L2"}


def new_figure(width: float = 6.0, height: float = 4.0):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError("the figures need matplotlib: pip install 'cafd-zoo[train]'") from exc
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def write_figure(figure, data: dict[str, Any], out: str | Path) -> dict[str, Any]:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=120)
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    return data


def _rows(paths: Sequence[str | Path], *fields: str) -> list[dict[str, Any]]:
    return [r for path in paths for r in read_metrics(path) if all(f in r for f in fields)]


def _model_label(release: str, threat: str) -> str:
    target, defense, _ = describe(release)
    return target if threat == "bare" else f"{defense} + {target}"


def figure6(paths: Sequence[str | Path], out: str | Path, *, eps_min: float = 6 / 255,
            eps_max: float = 16 / 255) -> dict[str, Any]:
    """One line per (release, threat, attack, steps) with at least two budgets in [eps_min, eps_max]; where a
    budget was measured twice, the larger n counts."""
    lines: dict[tuple, dict[float, dict[str, Any]]] = {}
    for r in _rows(paths, "eps", "steps", "error_rate", "threat_model"):
        if eps_min - 1e-9 <= r["eps"] <= eps_max + 1e-9:
            points = lines.setdefault((r["release"], r["threat_model"], r["attack"], r["steps"]), {})
            eps = round(r["eps"] * 255, 4)
            if eps not in points or r["n"] > points[eps]["n"]:
                points[eps] = r
    data = {"figure": 6, "x": "eps (L-inf, in 1/255)", "y": "error rate (%)", "lines": []}
    figure, ax = new_figure()
    for (release, threat, attack, steps), points in lines.items():
        if len(points) < 2:
            continue
        eps = sorted(points)
        budget = f" ({steps} steps)" if steps is not None else ""  # AutoAttack: eps is its whole budget
        line = {"label": f"{_model_label(release, threat)}, {THREAT_LABELS[threat]}, {attack}{budget}",
                "release": release, "threat_model": threat, "attack": attack, "steps": steps,
                "n": [points[e]["n"] for e in eps], "eps_255": eps,
                "error_rate_pct": [round(100 * points[e]["error_rate"], 4) for e in eps]}
        data["lines"].append(line)
        ax.plot(line["eps_255"], line["error_rate_pct"], marker="o", label=line["label"])
    if not data["lines"]:
        raise ValueError(f"no sweep series with two or more budgets between {eps_min * 255:g}/255 and "
                         f"{eps_max * 255:g}/255 in the results: run `python -m training sweep --eps 6,8,...,16` first")
    ax.set(xlabel=data["x"], ylabel=data["y"], ylim=(0, 100), title="Error rate against the attack budget")
    ax.legend(fontsize="small")
    return write_figure(figure, data, out)


def figure5(paths: Sequence[str | Path], out: str | Path, *, threat: str = "oblivious",
            attacks: list[str] | None = None) -> dict[str, Any]:
    """Grouped bars: clean, then each attack; one bar per release (denoiser variant) under ``threat``. A cell
    the results lack has no bar (and ``null`` in the JSON)."""
    cells = load_cells(paths)
    releases = list(dict.fromkeys(k[0] for k in cells if k[2] == threat))
    if not releases:
        raise ValueError(f"the results hold no evaluate rows under the {threat!r} threat model")
    columns = attack_columns(cells, (threat,), attacks)
    groups = ["clean"] + column_labels(columns)
    data = {"figure": 5, "threat_model": threat, "y": "error rate (%)", "groups": groups, "variants": []}
    figure, ax = new_figure(max(6.0, 1.2 * len(groups)), 4.0)
    width = 0.8 / len(releases)
    for i, release in enumerate(releases):
        row = [cells.get((release, a, threat, v)) for a, v in columns]
        clean = max((c for c in row if c), key=lambda c: c["n"], default=None)
        values = [None if clean is None else round(100 * clean["clean_errors"] / clean["n"], 4)]
        values += [None if c is None else round(100 * c["errors"] / c["n"], 4) for c in row]
        label = next((name for token, name in ABLATIONS.items() if token in release), _model_label(release, threat))
        counts = [None if c is None else c["n"] for c in [clean, *row]]
        data["variants"].append({"label": label, "release": release, "error_rate_pct": values, "n": counts})
        drawn = [(g, v) for g, v in enumerate(values) if v is not None]
        offset = (i - (len(releases) - 1) / 2) * width
        ax.bar([g + offset for g, _ in drawn], [v for _, v in drawn], width, label=label)
        for g in (g for g, v in enumerate(values) if v is None):  # a missing cell is marked, never drawn as 0
            ax.text(g + offset, 1, "—", ha="center", va="bottom", fontsize="small")
    ax.set_xticks(range(len(groups)), groups)
    ax.set(ylabel=data["y"], ylim=(0, 100),
           title=f"Ablation: error rate per denoiser variant ({THREAT_LABELS[threat]})")
    ax.legend(fontsize="small")
    return write_figure(figure, data, out)


def figure3(paths: Sequence[str | Path], out: str | Path, *, distance: str = "caf_distance") -> dict[str, Any]:
    """One line per (release, attack): ``distance`` (caf_distance, the official MSE, or caf_l2) against fooling
    rate, points in order of the budget; where a budget was measured twice, the larger n counts."""
    if distance not in ("caf_distance", "caf_l2"):
        raise ValueError(f"distance must be 'caf_distance' or 'caf_l2', got {distance!r}")
    lines: dict[tuple[str, str], dict[float, dict[str, Any]]] = {}
    for r in _rows(paths, "fooling_rate", distance, "budget"):
        points = lines.setdefault((r["release"], r["attack"]), {})
        if r["fooling_rate"] is not None and (r["budget"] not in points or r["n"] > points[r["budget"]]["n"]):
            points[r["budget"]] = r
    if not any(lines.values()):
        raise ValueError("no caf-distance rows in the results: run `python -m training caf-distance ...` first")
    y_label = "CAF distance (MSE of normalised Phi)" if distance == "caf_distance" else "CAF distance (L2 of Phi)"
    data = {"figure": 3, "x": "fooling rate (%)", "y": y_label, "distance": distance, "lines": []}
    figure, ax = new_figure()
    several = len({release for release, _ in lines}) > 1
    for (release, attack), points in lines.items():
        if not points:
            continue  # no image the classifier got right: no fooling rate to draw
        rows = [points[b] for b in sorted(points)]
        name = ATTACK_NAMES.get(attack, attack)
        line = {"label": f"{name}, {release}" if several else name, "release": release, "attack": attack,
                "budgets": [r["budget"] for r in rows], "n": [r["n"] for r in rows],
                "fooling_rate_pct": [round(100 * r["fooling_rate"], 4) for r in rows],
                "distance": [r[distance] for r in rows]}
        data["lines"].append(line)
        ax.plot(line["fooling_rate_pct"], line["distance"], marker="o", label=line["label"])
    ax.set(xlabel=data["x"], ylabel=y_label, xlim=(-2, 102),
           title="Class activation feature distance against fooling rate")
    ax.legend(fontsize="small")
    return write_figure(figure, data, out)
