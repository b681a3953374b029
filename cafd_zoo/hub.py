"""manifest -> download -> verify -> safetensors -> strict load: the one path every release takes.

Hub files go through ``huggingface_hub.hf_hub_download``, so ``HF_ENDPOINT`` (a mirror, see
``cafd mirror serve``), ``HF_HUB_OFFLINE``, ``HF_HOME`` / the HF cache and tokens behave as HF users
expect. Revisions are pinned commits, so a warm cache works offline. Every file is checked for
size and sha256 on every load, not only on download; a corrupt cached file is deleted, so it is
never trusted again.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from torch import nn

from .errors import IncompatibleWeightsError, IntegrityError, UnpublishedReleaseError, WeightsUnavailableError
from .integrity import load_verified
from .manifest import Manifest, load_manifest
from .models import DefendedClassifier, create_model

WEIGHTS_DIR_ENV = "CAFD_WEIGHTS_DIR"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Base classes of the HTTP client's transport errors (huggingface_hub has used requests, httpx, httpx2)."""
    found: list[type[BaseException]] = [OSError]
    for module, attr in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "RequestException")):
        try:
            found.append(getattr(__import__(module), attr))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()
PACKAGE_WEIGHTS = Path(__file__).parent / "release"


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
        endpoint: the Hub URL (default: ``HF_ENDPOINT``, else huggingface.co).
        device: where the model goes.
        manifest: a manifest other than the packaged one (default: ``$CAFD_MANIFEST`` or packaged).
    """
    manifest = manifest or load_manifest()
    info = manifest.info(name)
    if pretrained and info["status"] == "unpublished":
        raise UnpublishedReleaseError(
            f"{name!r} has no trained weights yet (status: unpublished in {manifest.path.name}). "
            "Use pretrained=False for random weights, or train it with the training/ tree; "
            f"`cafd list` shows the releases that have weights."
        )
    weights_dir = weights_dir or os.environ.get(WEIGHTS_DIR_ENV)
    files = info["files"]
    if pretrained:
        paths = {role: weight_path(entry, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                                   weights_dir=weights_dir, endpoint=endpoint) for role, entry in files.items()}
        with ThreadPoolExecutor(max_workers=len(files)) as pool:  # hash the files side by side, in C
            checked = {role: pool.submit(_load_checked, paths[role], entry) for role, entry in files.items()}
            with torch.device("meta"):  # meanwhile build the architectures, with no random init
                skeletons = {role: create_model(e["architecture"], **e["arguments"]) for role, e in files.items()}
            parts = {role: _adopt(skeletons[role], future.result(), files[role], paths[role]) for role, future in checked.items()}
    else:
        parts = {role: create_model(entry["architecture"], **entry["arguments"]) for role, entry in files.items()}
    if info["kind"] == "defended":
        model: nn.Module = DefendedClassifier(parts["denoiser"], parts["classifier"], **info.get("wrapper", {}))
    else:
        model = parts[info["kind"]]
    model.release_info = info  # type: ignore[assignment]
    return model.to(device).eval()


def download(name: str, **kwargs: Any) -> dict[str, Path]:
    """Fetch and verify every file of release ``name`` into the cache; returns role -> path."""
    manifest = kwargs.pop("manifest", None) or load_manifest()
    info = manifest.info(name)
    if info["status"] == "unpublished":
        raise UnpublishedReleaseError(f"{name!r} has no trained weights yet (status: unpublished); nothing to download")
    paths = {}
    for role, entry in info["files"].items():
        paths[role] = weight_path(entry, **kwargs)
        _load_checked(paths[role], entry)
    return paths


def weight_path(
    entry: dict[str, Any],
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    weights_dir: str | Path | None = None,
    endpoint: str | None = None,
) -> Path:
    """Where the file of one manifest entry is on disk, downloading it first if needed."""
    if entry["source"] == "package":
        return PACKAGE_WEIGHTS / entry["filename"]
    if weights_dir:
        path = Path(weights_dir) / entry["repo_id"] / entry["filename"]
        if not path.is_file():
            raise WeightsUnavailableError(f"{path} does not exist (weights_dir / CAFD_WEIGHTS_DIR layout: <repo_id>/<filename>)")
        return path
    rev = revision or entry["revision"]
    where = f"{entry['repo_id']}@{rev} / {entry['filename']} from {endpoint or hf_constants.ENDPOINT}"
    offline = local_files_only if local_files_only is not None else hf_constants.HF_HUB_OFFLINE
    try:
        return Path(hf_hub_download(entry["repo_id"], entry["filename"], revision=rev, cache_dir=cache_dir,
                                    local_files_only=bool(offline), endpoint=endpoint))
    except LocalEntryNotFoundError as exc:
        if offline:
            raise WeightsUnavailableError(
                f"{where} is not in the local cache and downloads are off (HF_HUB_OFFLINE / local_files_only). "
                "Run `cafd download NAME` where there is network, or point HF_ENDPOINT at a mirror (`cafd mirror serve`)."
            ) from exc
        raise WeightsUnavailableError(
            f"could not download {where}: the Hub did not answer ({exc.__cause__ or exc}). Check the network or "
            "HF_ENDPOINT, or use a mirror (`cafd mirror serve`) or CAFD_WEIGHTS_DIR."
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        raise WeightsUnavailableError(
            f"{where} does not exist on that Hub ({type(exc).__name__}). A mirror must hold the manifest's repo, "
            "commit and file; check HF_ENDPOINT."
        ) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise WeightsUnavailableError(f"HTTP {status} while downloading {where}; try again later or use a mirror") from exc
    except _TRANSPORT_ERRORS as exc:  # connection reset or cut, timeouts, a full disk
        raise WeightsUnavailableError(f"could not download {where}: {exc}") from exc


def _adopt(module: nn.Module, tensors: dict[str, torch.Tensor], entry: dict[str, Any], path: Path) -> nn.Module:
    """Make the verified tensors the parameters of a meta-device skeleton (``assign=True``: no copy).
    Strict: every tensor must fit and none may be missing."""
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}  # fp16 files load as fp32
    try:
        module.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as exc:
        raise IncompatibleWeightsError(
            f"{path} does not fit architecture {entry['architecture']}({entry['arguments']}): {exc}"
        ) from exc
    return module


def _load_checked(path: Path, entry: dict[str, Any]) -> dict[str, torch.Tensor]:
    in_hf_cache = entry["source"] == "hub" and "snapshots" in path.parts
    if in_hf_cache:
        hint = " The corrupt file was removed from the Hugging Face cache; load again to re-download it."
    elif entry["source"] == "package":
        hint = " The package's copy is damaged: reinstall cafd-zoo (pip install --force-reinstall cafd-zoo)."
    else:
        hint = " Replace the file with the released one."
    try:
        return load_verified(path, entry["sha256"], entry["size"], refetch_hint=hint)
    except IntegrityError:
        if in_hf_cache:
            _evict(path)
        raise


def _evict(path: Path) -> None:
    """Delete a cached snapshot file and the blob it points to, so it is downloaded again."""
    blob = path.resolve()
    for p in {path, blob}:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
