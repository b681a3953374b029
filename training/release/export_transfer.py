"""export-transfer: a released denoiser in front of another released classifier, with no retraining (the paper's
cross-model transfer, Table 2). No weight file is written: the release references both components where they
already are, so it is loadable exactly when both of theirs are, and its metrics are evaluate's on it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cafd_zoo.manifest import load_manifest

from .manifest_io import update_manifest
from .result_metrics import metrics_from_files

_STATUS_ORDER = ("embedded", "published", "stored")  # the pair is only as available as its least available part


def transfer_status(statuses: list[str]) -> str:
    """A release made of files other releases hold: stored if one of them is only in the release store, published
    if all are on the Hub, embedded if all ship in the package."""
    return max(statuses, key=_STATUS_ORDER.index)


def export_transfer(
    release: str,
    denoiser_release: str,
    classifier_release: str,
    manifest_path: str | Path,
    *,
    results: list[str | Path] | None = None,
    data_flag: str = "--data DIR",
    machine: str | None = None,
    summary: str | None = None,
    commands: list[str] | None = None,
) -> dict[str, Any]:
    """Write the manifest entry of ``release``: ``denoiser_release``'s denoiser before ``classifier_release``'s
    classifier, with the denoiser's training record and ``results`` (evaluate's JSON lines for ``release``) as
    metrics. Both releases must have weights and the same data set."""
    manifest = load_manifest(manifest_path)
    denoiser, classifier = manifest.info(denoiser_release), manifest.info(classifier_release)
    for name, info, role in ((denoiser_release, denoiser, "denoiser"), (classifier_release, classifier, "classifier")):
        if role not in info["components"]:
            raise ValueError(f"{name!r} has no {role}: pass a release that has one (see `cafd list`)")
        if info["status"] == "unpublished":
            raise ValueError(f"{name!r} has no weights yet (unpublished): export and store it before pairing it")
    if denoiser["dataset"] != classifier["dataset"]:
        raise ValueError(f"{denoiser_release!r} is for {denoiser['dataset']} and {classifier_release!r} for "
                         f"{classifier['dataset']}: a transfer pairs models of one data set")
    entry: dict[str, Any] = {
        "status": transfer_status([denoiser["status"], classifier["status"]]), "kind": "defended",
        "summary": summary or f"The denoiser of {denoiser_release} in front of {classifier_release}, "
                              "with no retraining (cross-model transfer).",
        "dataset": classifier["dataset"], "num_classes": classifier["num_classes"],
        "components": {"denoiser": denoiser["components"]["denoiser"],
                       "classifier": classifier["components"]["classifier"]},
        "input": classifier["input"],
        "metrics": metrics_from_files(results or [], release, data_flag=data_flag, machine=machine),
        "training": {k: v for k, v in denoiser["training"].items() if k != "commands"} | {"commands": commands or []},
        "deviations": denoiser["deviations"], "license": denoiser["license"], "paper": denoiser["paper"],
    }
    if "wrapper" in denoiser:
        entry["wrapper"] = denoiser["wrapper"]

    def change(data: dict[str, Any]) -> None:
        known = data["releases"].get(release, {})
        if known.get("status", "unpublished") != "unpublished" and known["components"] != entry["components"]:
            raise ValueError(f"{release!r} already has weights with other components ({known['components']}): "
                             "a transfer release gets a name of its own")
        if summary is None and "summary" in known:
            entry["summary"] = known["summary"]  # a hand-written summary and deviations are kept
        if known.get("deviations"):
            entry["deviations"] = known["deviations"]
        data["releases"][release] = entry

    update_manifest(manifest_path, change)
    return entry
