"""The weights manifest: data only, validated against its JSON Schema and for consistency on load.

The packaged ``weights_manifest.json`` is the default; ``CAFD_MANIFEST=/path/to.json`` (or the
``path`` argument) points the zoo at another one, for example a private zoo or a test.
"""
from __future__ import annotations

import copy
import difflib
import fnmatch
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from .errors import ManifestError, ManifestVersionError, UnknownModelError
from .models._registry import architecture_task, is_architecture

SCHEMA_VERSION = 1
MANIFEST_ENV = "CAFD_MANIFEST"


def packaged_manifest_path() -> Path:
    """The manifest inside the package: the repository's weights_manifest.json (a link in a checkout)."""
    return Path(str(resources.files("cafd_zoo") / "weights_manifest.json"))


def schema() -> dict[str, Any]:
    """The JSON schema every manifest is validated against before it is trusted."""
    return json.loads((resources.files("cafd_zoo") / "schemas" / "weights_manifest.schema.json").read_text())


@dataclass(frozen=True)
class Manifest:
    """A validated manifest: ``weights`` (file id -> file entry) and ``releases`` (name -> release)."""

    path: Path
    data: dict[str, Any]

    @property
    def releases(self) -> dict[str, dict[str, Any]]:
        return self.data["releases"]

    @property
    def weights(self) -> dict[str, dict[str, Any]]:
        return self.data["weights"]

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.releases if fnmatch.fnmatchcase(n, pattern))

    def release(self, name: str) -> dict[str, Any]:
        if name not in self.releases:
            close = difflib.get_close_matches(name, self.releases, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownModelError(f"unknown model {name!r}.{hint} `cafd_zoo.list_models()` lists all "
                                    f"{len(self.releases)}.")
        return self.releases[name]

    def info(self, name: str) -> dict[str, Any]:
        """A deep copy of the release with its weight-file entries inlined under ``files``."""
        release = copy.deepcopy(self.release(name))
        release["name"] = name
        release["files"] = {role: copy.deepcopy(self.weights[key]) | {"id": key}
                            for role, key in release["components"].items()}
        return release


_cache: dict[tuple[str, int, int], Manifest] = {}


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read, validate and cache the manifest at ``path`` (default: ``$CAFD_MANIFEST``, else the packaged one)."""
    path = Path(path or os.environ.get(MANIFEST_ENV) or packaged_manifest_path())
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        if key in _cache:
            return _cache[key]
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read the weights manifest {path}: {exc}") from exc
    except RecursionError as exc:  # json nests deeper than Python recurses
        raise ManifestError(f"cannot read the weights manifest {path}: it nests too deeply to be a manifest") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ManifestVersionError(
            f"{path} has schema version {version}, but this cafd-zoo reads version {SCHEMA_VERSION}: "
            "upgrade it (pip install -U cafd-zoo)"
        )
    try:
        errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(data),
                        key=lambda e: list(e.absolute_path))
    except RecursionError as exc:
        raise ManifestError(f"{path} nests too deeply to be a manifest") from exc
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top level)"
        raise ManifestError(f"{path} fails its schema at {where}: {errors[0].message} "
                            f"({len(errors)} problem(s) in all)")
    problems = consistency_problems(data)
    if problems:
        raise ManifestError(f"{path} is inconsistent: " + "; ".join(problems))
    manifest = Manifest(path, data)
    _cache[key] = manifest
    return manifest


def consistency_problems(data: dict[str, Any]) -> list[str]:
    """What the schema cannot say: references resolve, and a loadable release has verifiable files."""
    problems = []
    for key, w in data["weights"].items():
        if not is_architecture(w["architecture"]):
            problems.append(f"weights {key!r}: unknown architecture {w['architecture']!r}")
        if w["source"] == "hub" and not w.get("repo_id"):
            problems.append(f"weights {key!r}: a hub file needs a repo_id")
    expected_roles = {"defended": {"denoiser", "classifier"}, "classifier": {"classifier"}, "denoiser": {"denoiser"}}
    for name, r in data["releases"].items():
        if (r["status"] == "unpublished") != ("why_unpublished" in r):
            problems.append(f"release {name!r}: "
                            + ("an unpublished release says why (why_unpublished)" if r["status"] == "unpublished"
                               else f"a {r['status']} release has weights: drop why_unpublished"))
        if set(r["components"]) != expected_roles[r["kind"]]:
            problems.append(f"release {name!r}: a {r['kind']} release needs components "
                            f"{sorted(expected_roles[r['kind']])}")
        for role, key in r["components"].items():
            w = data["weights"].get(key)
            if w is None:
                problems.append(f"release {name!r}: {role} refers to unknown weights {key!r}")
            elif is_architecture(w["architecture"]) and architecture_task(w["architecture"]) != role:
                problems.append(f"release {name!r}: its {role} {key!r} is a {w['architecture']}, "
                                f"a {architecture_task(w['architecture'])}")
            if w is not None and r["status"] != "unpublished":
                if w["sha256"] is None or w["size"] is None:
                    problems.append(f"release {name!r} is {r['status']} but {key!r} has no sha256/size")
                if r["status"] in ("published", "stored") and (w["source"] != "hub" or w.get("revision") is None):
                    problems.append(f"release {name!r} is {r['status']} but {key!r} has no pinned hub revision")
                if r["status"] == "embedded" and w["source"] != "package":
                    problems.append(f"release {name!r} is embedded but {key!r} is not a package file")
    return problems
