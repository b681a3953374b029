"""record-metrics: evaluations of a release made after it was exported become its manifest metrics and its model
card, without its training run and without touching its weights.

A release is measured for hours after it is stored (Tables 1-3), often on another machine than the one that
trained it, so the run folder that ``export-*`` reads may be long gone. The weight files stay byte-identical: in a
release store only the model card (``README.md``) of each repository the release owns is rewritten, which gives
that repository a new commit folder (renamed, not copied, so git carries the weights once) and a new pinned
revision.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest

from .manifest_io import update_manifest
from .model_card import render_model_card
from .publish import mirror_commit
from .result_metrics import metrics_from_files


def _owned_folders(name: str, info: dict[str, Any], store: Path) -> dict[str, tuple[str, Path]]:
    """weights id -> (role, commit folder) for each stored repository whose card is this release's (its
    config.json names it): a defended release does not rewrite the card of the classifier it reuses."""
    owned = {}
    for role, entry in info["files"].items():
        if entry["source"] != "hub" or not entry.get("revision"):
            continue
        folder = store / entry["repo_id"] / entry["revision"]
        config = folder / "config.json"
        if not config.is_file() or json.loads(config.read_text()).get("release") != name:
            continue
        if sha256_of(folder / entry["filename"]) != entry["sha256"]:
            raise ValueError(f"{folder / entry['filename']} is not the file the manifest records: the store is "
                             "damaged; restore it with `git checkout -- hub/` before recording metrics")
        owned[entry["id"]] = (role, folder)
    return owned


def record_metrics(name: str, results: list[str | Path], manifest_path: str | Path, *, data_flag: str = "--data DIR",
                   machine: str | None = None, store: str | Path | None = None) -> dict[str, Any]:
    """Replace the metrics of release ``name`` with those of ``results`` (evaluate's JSON lines, as export-* reads
    them); with ``store``, rewrite the model card of each stored repository the release owns and pin its new commit.
    Returns the release's manifest entry."""
    if not results:
        raise ValueError("give at least one --results file: recording no metrics would erase the release's")
    missing = [str(file) for file in results if not Path(file).is_file()]
    if missing:
        raise FileNotFoundError(f"no results file {', '.join(missing)}: give the JSON lines that `evaluate --out` "
                                "wrote (nothing was changed)")
    manifest = load_manifest(manifest_path)
    info = manifest.info(name)
    metrics = metrics_from_files(results, name, data_flag=data_flag, machine=machine)
    owned = _owned_folders(name, info, Path(store)) if store is not None else {}
    release = manifest.releases[name] | {"metrics": metrics}
    cards = {weights_id: (folder / "README.md", (folder / "README.md").read_bytes())
             for weights_id, (_, folder) in owned.items()}
    commits = {}
    for weights_id, (role, folder) in owned.items():
        (folder / "README.md").write_text(render_model_card(name, release, {role: info["files"][role]}))
        commits[weights_id] = mirror_commit(folder)

    def change(data: dict[str, Any]) -> None:
        data["releases"][name]["metrics"] = metrics
        for weights_id, commit in commits.items():
            data["weights"][weights_id]["revision"] = commit

    try:
        update_manifest(manifest_path, change)
    except BaseException:
        for path, before in cards.values():  # the store stays as the manifest still describes it
            path.write_bytes(before)
        raise
    for weights_id, (_, folder) in owned.items():
        new = folder.parent / commits[weights_id]
        if new != folder:
            folder.rename(new)
        (new.parent / "refs" / "main").write_text(new.name)
    return load_manifest(manifest_path).releases[name]
