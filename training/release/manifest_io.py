"""Edit weights_manifest.json safely: read, change, validate, write atomically (temp file + rename)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import jsonschema

from cafd_zoo.errors import ManifestError
from cafd_zoo.manifest import consistency_problems, schema


def update_manifest(path: str | Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``change`` to the manifest at ``path`` in memory, validate the result, then replace the file.

    A change that would leave the manifest invalid raises :class:`ManifestError` and writes nothing.
    """
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {"schema_version": 1, "weights": {}, "releases": {}}
    change(data)
    data["weights"] = dict(sorted(data["weights"].items()))
    data["releases"] = dict(sorted(data["releases"].items()))
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    if errors:
        raise ManifestError(f"refusing to write {path}: {errors[0].message} at "
                            f"{'/'.join(map(str, errors[0].absolute_path))}")
    problems = consistency_problems(data)
    if problems:
        raise ManifestError(f"refusing to write {path}: " + "; ".join(problems))
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=".manifest-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path.resolve())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data
