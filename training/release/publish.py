"""Publish an exported release: upload each repository folder to the Hub (or into a mirror folder),
record the commit each upload produced as the pinned revision, and mark the release published."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Protocol

from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest

from .manifest_io import update_manifest


class UploadsFolders(Protocol):
    """The part of ``huggingface_hub.HfApi`` that publishing uses."""

    def create_repo(self, repo_id: str, *, exist_ok: bool = ..., repo_type: str | None = ...) -> Any: ...
    def upload_folder(self, *, repo_id: str, folder_path: str, commit_message: str) -> Any: ...


def mirror_commit(folder: Path) -> str:
    """A deterministic 40-hex id for a folder's content (sha1 over sorted names and sha256s)."""
    listing = "\n".join(f"{p.relative_to(folder)} {sha256_of(p)}" for p in sorted(folder.rglob("*")) if p.is_file())
    return hashlib.sha1(listing.encode()).hexdigest()


def publish(
    name: str,
    export_dir: str | Path,
    manifest_path: str | Path,
    *,
    api: UploadsFolders | None = None,
    mirror_root: str | Path | None = None,
) -> dict[str, str]:
    """Publish every Hub file of release ``name``; returns weights id -> commit.

    With ``mirror_root``, copies each repository to ``mirror_root/<repo_id>/<commit>/`` (the layout
    ``cafd mirror serve`` reads) and points its ``refs/main`` there. Otherwise uploads with
    ``api`` (default ``HfApi()``, token from ``HF_TOKEN`` or the HF login).
    """
    manifest = load_manifest(manifest_path)
    info = manifest.info(name)
    commits: dict[str, str] = {}
    for entry in info["files"].values():
        if entry["source"] != "hub":
            continue
        folder = Path(export_dir) / entry["repo_id"]
        if sha256_of(folder / entry["filename"]) != entry["sha256"]:
            raise ValueError(f"{folder / entry['filename']} is not the file the manifest records; export again")
        if mirror_root is not None:
            commit = mirror_commit(folder)
            target = Path(mirror_root) / entry["repo_id"]
            shutil.copytree(folder, target / commit, dirs_exist_ok=True)
            (target / "refs").mkdir(exist_ok=True)
            (target / "refs" / "main").write_text(commit)
        else:
            if api is None:
                from huggingface_hub import HfApi

                api = HfApi()
            api.create_repo(entry["repo_id"], exist_ok=True)
            commit = api.upload_folder(repo_id=entry["repo_id"], folder_path=str(folder), commit_message=f"Release {name}").oid
        commits[entry["id"]] = commit

    def change(data: dict[str, Any]) -> None:
        for weights_id, commit in commits.items():
            data["weights"][weights_id]["revision"] = commit
        data["releases"][name]["status"] = "published"

    update_manifest(manifest_path, change)
    return commits
