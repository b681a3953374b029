"""manifest -> download -> verify -> safetensors -> strict load: the one path every release takes.

Where a file comes from is :mod:`cafd_zoo.weight_sources`' business: the package, a user's folder,
the repository's release store (``hub/`` of a checkout), or the Hugging Face Hub through
``hf_hub_download``, so ``HF_ENDPOINT`` (a mirror, see ``cafd mirror serve``), ``HF_HUB_OFFLINE``,
``HF_HOME`` and tokens behave as HF users expect. Revisions are pinned commits, so a warm cache works
offline. Every file is checked for size and sha256 on every load, not only on download; a corrupt
HF-cache copy is deleted, so it is never trusted again.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import (IncompatibleWeightsError, IntegrityError, ManifestError, UnpublishedReleaseError,
                     WeightsUnavailableError)
from .integrity import load_verified
from .manifest import Manifest, load_manifest
from .models import DefendedClassifier, create_model
from .models.normalization import ReleaseInputChecks
from .weight_sources import RELEASE_STORE_ENV, WeightFile, locate


def list_models(pattern: str = "*", *, manifest: Manifest | None = None) -> list[str]:
    """Release names matching a shell-style ``pattern``, e.g. ``list_models("cafd_*_cifar10")``."""
    return (manifest or load_manifest()).names(pattern)


def model_info(name: str, *, manifest: Manifest | None = None) -> dict[str, Any]:
    """Everything the manifest says about release ``name``, weight-file entries inlined under ``files``."""
    return (manifest or load_manifest()).info(name)


def load(
    name: str,
    *,
    pretrained: bool = True,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    weights_dir: str | Path | None = None,
    release_store: str | Path | None = None,
    endpoint: str | None = None,
    device: str | torch.device = "cpu",
    manifest: Manifest | None = None,
) -> nn.Module:
    """Build release ``name`` and load its verified weights; returns the model in eval mode.

    Args:
        pretrained: ``False`` builds the architecture with random weights (no download).
        revision: a Hub revision to use instead of the manifest's pinned commit (the files must
            still match the manifest's sha256).
        cache_dir: the Hugging Face cache to use (default: HF's, honouring ``HF_HOME``).
        local_files_only: never touch the network (default: ``HF_HUB_OFFLINE``).
        weights_dir: a folder holding ``<repo_id>/<filename>`` files, used instead of the Hub
            (default: ``$CAFD_WEIGHTS_DIR``).
        release_store: the repository's release store, ``<repo_id>/<revision>/<filename>`` (default:
            ``$CAFD_RELEASE_STORE``, else ``hub/`` of the checkout cafd_zoo runs from, if any).
        endpoint: the Hub URL (default: ``HF_ENDPOINT``, else huggingface.co).
        device: where the model goes.
        manifest: a manifest other than the packaged one (default: ``$CAFD_MANIFEST`` or packaged).
    """
    manifest = manifest or load_manifest()
    info = manifest.info(name)
    if pretrained and info["status"] == "unpublished":
        raise UnpublishedReleaseError(
            f"{name!r} has no trained weights yet (status: unpublished in {manifest.path.name}): "
            f"{info['why_unpublished']} "
            "Use pretrained=False for random weights, or train it with the training/ tree; "
            f"`cafd list` shows the releases that have weights."
        )
    files = info["files"]
    if pretrained:
        where = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                     weights_dir=weights_dir, store=release_store, endpoint=endpoint)
        # downloads one after another (huggingface_hub's shared HTTP session is not safe across threads
        # once a request fails), then read and hash the files side by side
        found = {role: _locate(info, entry, where) for role, entry in files.items()}
        with ThreadPoolExecutor(max_workers=len(files)) as pool:
            checked = {role: pool.submit(_fetch_verified, info, entry, where, found[role])
                       for role, entry in files.items()}
            with torch.device("meta"):  # meanwhile build the architectures, with no random init
                skeletons = {role: _build(name, e) for role, e in files.items()}
            parts = {role: _adopt(skeletons[role], *future.result(), files[role]) for role, future in checked.items()}
    else:
        parts = {role: _build(name, entry) for role, entry in files.items()}
    if info["kind"] == "defended":
        model: nn.Module = DefendedClassifier(parts["denoiser"], parts["classifier"], **info.get("wrapper", {}))
    else:
        model = parts[info["kind"]]
    if isinstance(model, ReleaseInputChecks):  # a bare classifier release checks its inputs as a defended one does
        model.check_inputs_as_release(info.get("input"))
    model.release_info = info  # type: ignore[assignment]
    return model.to(device).eval()


def download(name: str, **kwargs: Any) -> dict[str, Path]:
    """Fetch and verify every file of release ``name`` (from the same places :func:`load` looks,
    ``$CAFD_WEIGHTS_DIR`` and the release store included); returns role -> path."""
    manifest = kwargs.pop("manifest", None) or load_manifest()
    info = manifest.info(name)
    if info["status"] == "unpublished":
        raise UnpublishedReleaseError(f"{name!r} has no trained weights yet (status: unpublished); nothing to download")
    if "release_store" in kwargs:
        kwargs["store"] = kwargs.pop("release_store")
    return {role: _fetch_verified(info, entry, kwargs)[1].path for role, entry in info["files"].items()}


def _build(name: str, entry: dict[str, Any]) -> nn.Module:
    """The architecture a manifest entry names; bad arguments are a manifest problem, said as one."""
    try:
        return create_model(entry["architecture"], **entry["arguments"])
    except (TypeError, ValueError) as exc:
        raise ManifestError(
            f"release {name!r}: weights {entry['id']!r} cannot be built as {entry['architecture']}"
            f"({entry['arguments']}): {exc}. Fix the manifest's arguments."
        ) from exc


def _locate(info: dict[str, Any], entry: dict[str, Any], where: dict[str, Any]) -> WeightFile:
    """:func:`locate`, with what to do about a stored release that cannot be found from here."""
    try:
        return locate(entry, **where)
    except WeightsUnavailableError as exc:
        if info["status"] != "stored":
            raise
        raise WeightsUnavailableError(
            f"{exc} {info['name']!r} is stored in the repository's release store (hub/{entry['repo_id']}/), not yet on "
            "the Hugging Face Hub: load it from a clone of the repository (git clone, then pip install -e .), "
            f"or set {RELEASE_STORE_ENV}=<clone>/hub, or serve that folder with `cafd mirror serve` "
            "and set HF_ENDPOINT."
        ) from exc


def _fetch_verified(
    info: dict[str, Any], entry: dict[str, Any], where: dict[str, Any], found: WeightFile | None = None
) -> tuple[dict[str, torch.Tensor], WeightFile]:
    """Load with size and sha256 checked (locating first unless ``found``). A damaged HF-cache copy is
    evicted; a file that vanishes before it is read (another process evicted it) is located again, once."""
    for attempt in (1, 2):
        found = found if found is not None and attempt == 1 else _locate(info, entry, where)
        try:
            return load_verified(found.path, entry["sha256"], entry["size"], refetch_hint=found.refetch_hint()), found
        except IntegrityError:
            found.evict()
            raise
        except FileNotFoundError as exc:
            if attempt == 2:
                raise WeightsUnavailableError(
                    f"{found.path} of release {info['name']!r} disappeared while it was being loaded, twice "
                    "(another process is removing it?); load again."
                ) from exc
    raise AssertionError("unreachable")


def _adopt(module: nn.Module, tensors: dict[str, torch.Tensor], found: WeightFile, entry: dict[str, Any]) -> nn.Module:
    """Make the verified tensors (private float32 copies) the parameters of a meta-device skeleton
    (``assign=True``: no further copy). Strict: every tensor must fit and none may be missing."""
    try:
        module.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as exc:
        raise IncompatibleWeightsError(
            f"{found.path} does not fit architecture {entry['architecture']}({entry['arguments']}): {exc}"
        ) from exc
    return module
