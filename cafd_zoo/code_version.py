"""The commit of the code that made a result, for provenance (None outside a git checkout of this project, e.g.
for a pip-installed package, which may sit inside some other repository's virtual environment)."""
from __future__ import annotations

import subprocess
from pathlib import Path


def code_commit() -> str | None:
    """``git rev-parse HEAD`` of this checkout, with ``-dirty`` when tracked files have changes."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "setup.cfg").is_file() or not (root / "cafd_zoo").is_dir():
        return None  # an installed package: site-packages is no checkout of ours
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")
