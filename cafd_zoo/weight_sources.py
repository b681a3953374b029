"""Where a release's weight file comes from, and what may be done to it when it is damaged.

In order: the package itself (compact releases); a user's folder (``weights_dir=`` /
``$CAFD_WEIGHTS_DIR``); the repository's release store (``hub/`` beside ``cafd_zoo/`` in a
checkout, or ``$CAFD_RELEASE_STORE``), which holds the full-size releases in the mirror's layout;
and the Hugging Face Hub through its cache. Only a file that the Hugging Face cache holds is ever
deleted, and only inside that cache: a user's file or the store is never touched.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from huggingface_hub import constants as hf_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .errors import WeightsUnavailableError

WEIGHTS_DIR_ENV = "CAFD_WEIGHTS_DIR"
RELEASE_STORE_ENV = "CAFD_RELEASE_STORE"
HUB_TIMEOUT_ENV = "CAFD_HUB_TIMEOUT"
DEFAULT_HUB_TIMEOUT = 60.0
PACKAGE_WEIGHTS = Path(__file__).parent / "release"
CHECKOUT_STORE = Path(__file__).resolve().parent.parent / "hub"

Origin = Literal["package", "weights_dir", "release_store", "hf_cache"]


@dataclass(frozen=True)
class WeightFile:
    """A located weight file: its path, where it came from, and (for the HF cache) the cache root."""

    path: Path
    origin: Origin
    cache_root: Path | None = None

    def refetch_hint(self) -> str:
        """What to do when this file fails its check, in the words that fit where it came from."""
        return {
            "hf_cache": " The corrupt file was removed from the Hugging Face cache; load again to re-download it.",
            "package": " The package's copy is damaged: reinstall cafd-zoo (pip install --force-reinstall cafd-zoo).",
            "release_store": " The release store's copy is damaged: restore it from git (git checkout -- hub/).",
            "weights_dir": " Replace the file with the released one.",
        }[self.origin]

    def evict(self) -> None:
        """Delete a damaged HF-cache file (snapshot link and blob), so the next load downloads it again.
        Anything outside the cache root, and any file of another origin, is left alone."""
        if self.origin != "hf_cache" or self.cache_root is None:
            return
        root = self.cache_root.resolve()
        for p in {self.path, self.path.resolve()}:
            inside = p.parent.resolve().is_relative_to(root)
            if inside:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


def release_store(explicit: str | Path | None = None) -> Path | None:
    """The release store in use: ``explicit``, else ``$CAFD_RELEASE_STORE``, else the checkout's ``hub/``
    folder when cafd_zoo runs from a checkout; None when there is none (a pip install)."""
    chosen = explicit or os.environ.get(RELEASE_STORE_ENV)
    if chosen:
        store = Path(chosen)
        if not store.is_dir():
            raise WeightsUnavailableError(f"the release store {store} ({RELEASE_STORE_ENV}) is not a folder")
        return store
    return CHECKOUT_STORE if CHECKOUT_STORE.is_dir() else None


def hub_timeout() -> float:
    """Seconds a Hub download may go without receiving a byte (``$CAFD_HUB_TIMEOUT``, default 60)."""
    raw = os.environ.get(HUB_TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_HUB_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise WeightsUnavailableError(f"{HUB_TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def locate(
    entry: dict[str, Any],
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    weights_dir: str | Path | None = None,
    store: str | Path | None = None,
    endpoint: str | None = None,
) -> WeightFile:
    """Find (downloading if needed) the file of one manifest entry."""
    if entry["source"] == "package":
        return WeightFile(PACKAGE_WEIGHTS / entry["filename"], "package")
    weights_dir = weights_dir or os.environ.get(WEIGHTS_DIR_ENV)
    if weights_dir:
        path = Path(weights_dir) / entry["repo_id"] / entry["filename"]
        if not path.is_file():
            problem = "is not a file" if path.exists() else "does not exist"
            raise WeightsUnavailableError(f"{path} {problem} (weights_dir / {WEIGHTS_DIR_ENV} layout: "
                                          "<repo_id>/<filename>)")
        return WeightFile(path, "weights_dir")
    rev = revision or entry["revision"]
    found = release_store(store)
    if found is not None and rev:
        path = found / entry["repo_id"] / rev / entry["filename"]
        if path.is_file():
            return WeightFile(path, "release_store")
    root = Path(cache_dir) if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
    return WeightFile(_from_hub(entry, rev, root, local_files_only, endpoint), "hf_cache", root)


def _from_hub(entry: dict[str, Any], rev: str, cache_root: Path, local_files_only: bool | None,
              endpoint: str | None) -> Path:
    where = f"{entry['repo_id']}@{rev} / {entry['filename']} from {endpoint or hf_constants.ENDPOINT}"
    offline = local_files_only if local_files_only is not None else hf_constants.HF_HUB_OFFLINE
    try:
        return _with_stall_timeout(
            lambda: Path(hf_hub_download(entry["repo_id"], entry["filename"], revision=rev, cache_dir=cache_root,
                                         local_files_only=bool(offline), endpoint=endpoint)),
            cache_root, where)
    except LocalEntryNotFoundError as exc:
        if offline:
            raise WeightsUnavailableError(
                f"{where} is not in the local cache and downloads are off (HF_HUB_OFFLINE / local_files_only). "
                "Run `cafd download NAME` where there is network, "
                "or point HF_ENDPOINT at a mirror (`cafd mirror serve`)."
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
        raise WeightsUnavailableError(f"HTTP {status} while downloading {where}; "
                                      "try again later or use a mirror") from exc
    except _TRANSPORT_ERRORS as exc:  # connection reset or cut, timeouts, a full disk
        raise WeightsUnavailableError(f"could not download {where}: {exc}") from exc


def _with_stall_timeout(fetch: Callable[[], Path], cache_root: Path, where: str) -> Path:
    """Run ``fetch`` in a daemon thread and give up once the cache has received no byte for
    ``hub_timeout()`` seconds: huggingface_hub alone retries a silent server for about 6.6 minutes.
    A slow download that keeps receiving bytes is never cut."""
    limit = hub_timeout()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["path"] = fetch()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="cafd-hub-download", daemon=True)
    worker.start()
    received, last_progress = -1, time.monotonic()
    while True:
        worker.join(timeout=min(0.25, limit))
        if not worker.is_alive():
            break
        now_received = _bytes_in_flight(cache_root)
        if now_received != received:
            received, last_progress = now_received, time.monotonic()
        elif time.monotonic() - last_progress > limit:
            raise WeightsUnavailableError(
                f"could not download {where}: the Hub sent nothing for {limit:g} s. Check the network or HF_ENDPOINT; "
                f"{HUB_TIMEOUT_ENV} sets this limit (seconds without a byte)."
            )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["path"]


def _bytes_in_flight(cache_root: Path) -> int:
    """Total size of the partial downloads (``*.incomplete``) under the cache: grows while bytes arrive."""
    total = 0
    try:
        for p in cache_root.glob("*/blobs/*.incomplete"):
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                pass
    except OSError:
        pass
    return total


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
