"""A run's training curve: each per-epoch accuracy a run logs (a classifier's test accuracy, a denoiser's probe
accuracies), against the epoch, as a PNG with its data beside it as JSON. What a reader looks at to judge whether
more epochs would have helped, and what the issue asks for wherever a target is missed."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cafd_zoo.metrics_log import read_metrics

from .figures import new_figure, write_figure

LABELS = {"test_accuracy": "test accuracy (bare classifier)",
          "probe_natural": "held-out clean, bare classifier",
          "probe_purified_natural": "held-out clean, through the denoiser",
          "probe_adversarial": "held-out CAFA, bare classifier",
          "probe_purified": "held-out CAFA, through the denoiser",
          "probe_pgd_adversarial": "held-out PGD, bare classifier",
          "probe_pgd_purified": "held-out PGD, through the denoiser"}


def epoch_series(metrics: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{metric: [(epoch, accuracy), ...]} from the rows that carry an epoch's accuracies; a resumed run may log an
    epoch twice, the last row counts."""
    series: dict[str, dict[int, float]] = {}
    for row in read_metrics(metrics):
        for key, value in row.items():
            if (key == "test_accuracy" or key.startswith("probe_")) and isinstance(value, (int, float)):
                series.setdefault(key, {})[int(row["epoch"])] = float(value)
    if not series:
        raise ValueError(f"{metrics} holds no per-epoch accuracy (test_accuracy or probe_*): "
                         "is it a run's metrics.jsonl?")
    return {key: sorted(points.items()) for key, points in series.items()}


def training_curve(metrics: str | Path, out: str | Path, *, title: str | None = None) -> dict[str, Any]:
    """Draw every per-epoch accuracy of ``metrics`` (percent) against the epoch into ``out``."""
    series = epoch_series(metrics)
    figure, axes = new_figure()
    for key, points in series.items():
        axes.plot([e for e, _ in points], [100 * a for _, a in points], marker="o", label=LABELS.get(key, key))
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(title or Path(metrics).parent.name)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    data = {"source": str(metrics),
            "series": {k: [{"epoch": e, "accuracy": a} for e, a in v] for k, v in series.items()},
            "plateau": plateau(series)}
    return write_figure(figure, data, out)


# A denoiser's stopping rule (the issue of the paper's release): train at least until the held-out probe, clean and
# oblivious PGD through the denoiser, improves by less than half a point over two epochs.
PLATEAU_METRICS = ("probe_purified_natural", "probe_pgd_purified")


def plateau(series: dict[str, list[tuple[int, float]]], *, epochs: int = 2, points: float = 0.5) -> dict[str, Any]:
    """For each stopping-rule metric in ``series``: its gain in points over the last ``epochs`` epochs and the first
    epoch whose gain was below ``points``. ``met_at``: the first epoch at which every such metric's gain was below it
    at once; ``met``: whether the last epoch is such an epoch (the run ends on a plateau), None where the run logs
    none of these metrics (a classifier) or has too few epochs to tell. A probe on 1,000 images has a binomial
    standard error of about 1 point at 90% accuracy: read both beside the per-epoch values."""
    gains: dict[str, Any] = {}
    windows: dict[str, dict[int, float]] = {}
    for key in PLATEAU_METRICS:
        points_of = series.get(key, [])
        if len(points_of) <= epochs:
            continue
        accuracy = [100 * a for _, a in points_of]
        windows[key] = {points_of[i][0]: accuracy[i] - accuracy[i - epochs] for i in range(epochs, len(accuracy))}
        last = points_of[-1][0]
        first = next((epoch for epoch, gain in windows[key].items() if gain < points), None)
        gains[key] = {"last_gain_points": round(windows[key][last], 2), "first_epoch_below": first}
    if not gains:
        return {"rule": f"gain < {points} point over {epochs} epochs", "metrics": gains, "met": None, "met_at": None}
    common = sorted(set.intersection(*(set(w) for w in windows.values())))
    met_at = next((e for e in common if all(w[e] < points for w in windows.values())), None)
    return {"rule": f"gain < {points} point over {epochs} epochs", "metrics": gains,
            "met": all(g["last_gain_points"] < points for g in gains.values()), "met_at": met_at}
