"""export-classifier: turn a finished train-classifier run into a release of the manifest.

The release's first metric is the clean test error the run measured on its whole test split
(``result.json``), recorded with the command that reproduces it; ``results`` (``cafd evaluate --model RELEASE
--threat bare`` JSON lines on the exported release) add theirs, each with its command.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from cafd_zoo.metrics_log import read_metrics

from ..classifier.config import differences_from_record, load_config
from ..classifier.robust_probe import epoch_weights_path
from ..classifier.train import build_classifier
from .export import Component, ReleaseSpec, export_release
from .result_metrics import metrics_from_files

DATASET_NAMES = {"cifar10": "CIFAR-10", "svhn": "SVHN"}


def export_classifier(
    run_dir: str | Path,
    config_path: str | Path,
    release: str,
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    repo_id: str | None = None,
    dtype: str = "float32",
    summary: str | None = None,
    machine: str | None = None,
    code_commit: str | None = None,
    results: list[str | Path] | None = None,
    epoch: int | None = None,
) -> dict[str, Any]:
    """Export ``run_dir/model.safetensors`` as ``release``: to the Hub layout under ``out_dir`` when
    ``repo_id`` is given, else as a package file (``out_dir`` = ``cafd_zoo/release``). With ``epoch``, the
    weights kept at the end of that epoch instead (an early stop), with the test accuracy that epoch logged."""
    run_dir = Path(run_dir)
    config = load_config(config_path)
    result = json.loads((run_dir / "result.json").read_text())
    differ = differences_from_record(result["config"], config)
    if differ:
        raise ValueError(f"{run_dir} was not trained with {config_path}: the configs differ in {', '.join(differ)}")
    weights, test_accuracy = run_dir / "model.safetensors", result["test_accuracy"]
    if epoch is not None:
        weights, test_accuracy = _epoch_weights(run_dir, epoch)
    model = build_classifier(config)
    model.load_state_dict(load_file(str(weights)), strict=True)
    arguments = dict(config.architecture_args, num_classes=config.num_classes)
    if config.mean is not None:
        arguments |= {"mean": list(config.mean), "std": list(config.std)}
    command = f"python -m training train-classifier --config {Path(config_path).as_posix()} --data DIR --out RUN"
    metric = {"threat_model": "clean", "target": "classifier", "attack": "none", "budget": {},
              "n": result["test_examples"], "seed": config.seed, "error_rate": round(1 - test_accuracy, 6),
              "command": command}
    if machine:
        metric["machine"] = machine
    commit = code_commit or result.get("code_commit")
    known = (json.loads(Path(manifest_path).read_text())["releases"].get(release, {})
             if Path(manifest_path).exists() else {})
    defense = "no defense" if config.adversarial is None else f"trained on {config.adversarial.attack.upper()} examples"
    default_summary = f"A {config.architecture} {DATASET_NAMES[config.dataset]} classifier ({defense})."
    spec = ReleaseSpec(  # a summary and deviations the manifest already holds for this release are kept
        kind="classifier", dataset=config.dataset, num_classes=config.num_classes,
        summary=summary or known.get("summary") or default_summary,
        deviations=known.get("deviations") or {"from_paper": [], "from_official_code": []},
        metrics=_with_results(metric, results, release, machine),
        training={"config": Path(config_path).as_posix(), "code_commit": commit, "seed": config.seed,
                  "commands": [command, "python -m training export-classifier --run RUN "
                                        f"--config {Path(config_path).as_posix()} "
                                        f"--release {release}" + (f" --epoch {epoch}" if epoch is not None else "")]}
        | ({"epoch": epoch} if epoch is not None else {}),
    )
    component = Component("classifier", release, config.architecture, arguments, model, repo_id=repo_id,
                          filename="model.safetensors" if repo_id else f"{release}.safetensors")
    return export_release(release, [component], spec, out_dir, manifest_path, dtype=dtype)


def _epoch_weights(run_dir: Path, epoch: int) -> tuple[Path, float]:
    """The weights kept at the end of ``epoch`` and the test accuracy logged with them."""
    path = epoch_weights_path(run_dir, epoch)
    if not path.is_file():  # the names are zero-padded: sorted names are sorted epochs
        kept = [p.stem.removeprefix("epoch_").lstrip("0") for p in sorted(path.parent.glob("epoch_*.safetensors"))]
        raise ValueError(f"{run_dir} kept no weights of epoch {epoch}: "
                         + (f"it kept epochs {', '.join(kept)}" if kept else "it keeps none (only runs with "
                            "robust_probe_images keep each epoch's weights)"))
    logged = [r["test_accuracy"] for r in read_metrics(run_dir / "metrics.jsonl")
              if r.get("epoch") == epoch and "test_accuracy" in r]
    if not logged:
        raise ValueError(f"{run_dir}/metrics.jsonl logs no test accuracy for epoch {epoch}")
    return path, logged[-1]


def _with_results(trained: dict[str, Any], results: list[str | Path] | None, release: str,
                  machine: str | None) -> list[dict[str, Any]]:
    """The training run's clean error, then the metrics of ``results``; a clean error measured on the exported
    release on as many images replaces the run's (it is the number of the weights a user loads)."""
    measured = metrics_from_files(results or [], release, data_flag="--data DIR", machine=machine)
    same = any(m["threat_model"] == "clean" and m["n"] == trained["n"] for m in measured)
    return ([] if same else [trained]) + measured
