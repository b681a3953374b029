"""export-defended: a finished train-denoiser run in front of a released classifier becomes a defended release.

The denoiser file is written (package file or Hub folder); the classifier is referenced by its
existing manifest entry, after checking that it holds exactly the weights the denoiser was trained
against. Metrics come from ``cafd evaluate`` results on the exported release itself,
so each number in the manifest is one a user reproduces with the command recorded beside it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from cafd_zoo.hub import download, model_info
from cafd_zoo.integrity import sha256_of
from cafd_zoo.models import create_model

from ..classifier.config import differences_from_record
from ..denoiser.baseline_config import PAPERS
from ..denoiser.config_file import load_denoiser_config
from ..denoiser.train import WEIGHTS, denoiser_architecture, denoiser_args
from .export import Component, ReleaseSpec, export_release
from .result_metrics import metrics_from_files

_METHOD_NAMES = {"cafd": "CAFD DUNET", "hgd": "HGD DUNET (guided loss)", "ape_g": "APE-G generator"}


def same_classifier(trained_against: Path, release: str) -> bool:
    """Whether the release holds the classifier a run used: the same tensors, each equal to the used one
    rounded to the release's storage dtype (a run trains against fp32 weights; the release may store them in
    fp16, which is then the only difference)."""
    used = load_file(str(trained_against))
    released = load_file(str(download(release)["classifier"]))

    def same(a: torch.Tensor, b: torch.Tensor) -> bool:
        if not (a.is_floating_point() and b.is_floating_point()):
            return torch.equal(a, b)
        stored = b.dtype if b.element_size() < a.element_size() else a.dtype  # the narrower of the two
        return a.shape == b.shape and torch.equal(a.to(stored), b.to(stored))

    return used.keys() == released.keys() and all(same(used[k], released[k]) for k in used)


def export_defended(
    run_dir: str | Path,
    config_path: str | Path,
    classifier_release: str,
    trained_against: str | Path,
    release: str,
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    results: list[str | Path] | None = None,
    data_flag: str = "--data DIR",
    repo_id: str | None = None,
    dtype: str = "float32",
    summary: str | None = None,
    machine: str | None = None,
    commands: list[str] | None = None,
    deviations: dict[str, list[str]] | None = None,
    weights_id: str | None = None,
    code_commit: str | None = None,
) -> dict[str, Any]:
    """Export ``run_dir/denoiser.safetensors`` with ``classifier_release`` as the defended ``release``.

    ``trained_against`` is the classifier file the run used (``--classifier-run``'s weights): its sha256
    must be the run's, and its values those of ``classifier_release``. ``results`` (files of evaluate's
    JSON lines for ``release``, e.g. one per evaluation size) become the release's metrics.
    """
    run_dir = Path(run_dir)
    config = load_denoiser_config(config_path)
    result = json.loads((run_dir / "result.json").read_text())
    differ = differences_from_record(result["config"], config)
    if differ:
        raise ValueError(f"{run_dir} was not trained with {config_path}: the configs differ in {', '.join(differ)}")
    if sha256_of(trained_against) != result["classifier_sha256"]:
        raise ValueError(f"{run_dir} was trained against another classifier than {trained_against} (sha256 differs)")
    if not same_classifier(Path(trained_against), classifier_release):
        raise ValueError(f"{trained_against} and the release {classifier_release!r} hold different weights")
    classifier_info = model_info(classifier_release)
    architecture, arguments = denoiser_architecture(config), denoiser_args(config)
    denoiser = create_model(architecture, **arguments)
    denoiser.load_state_dict(load_file(str(run_dir / WEIGHTS)), strict=True)
    spec = ReleaseSpec(
        kind="defended", dataset=config.dataset, num_classes=classifier_info["num_classes"],
        summary=summary or f"A {_METHOD_NAMES[config.method]} (width {config.denoiser_width}) in front of "
                           f"{classifier_release}.",
        metrics=metrics_from_files(results or [], release, data_flag=data_flag, machine=machine),
        training={"config": Path(config_path).as_posix(), "code_commit": code_commit or result.get("code_commit"),
                  "seed": config.seed, "commands": commands or []},
        deviations=deviations or {"from_paper": [], "from_official_code": []},
        wrapper={"clamp": config.clamp, "input_size": [32, 32]},
        **({"paper": PAPERS[config.method]} if config.method in PAPERS else {}),
    )
    prefix = "dunet" if architecture == "dunet" else "apegan"
    weights_id = weights_id or f"{prefix}{config.denoiser_width}_{release.removeprefix('cafd_')}"
    component = Component("denoiser", weights_id, architecture, arguments, denoiser, repo_id=repo_id,
                          filename="model.safetensors" if repo_id else f"{weights_id}.safetensors")
    classifier_id = classifier_info["components"]["classifier"]
    return export_release(release, [component], spec, out_dir, manifest_path, dtype=dtype,
                          existing={"classifier": classifier_id})
