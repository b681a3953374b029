"""Files a resumed recipe trusts appear whole or not at all: ``result.json`` says a run finished (lib/steps.sh skips
it), and its weights file sits beside it. Each is written beside its final name and renamed into place."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged(path: str | Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; renamed onto ``path`` when the block ends without error."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """``Path.write_text``, but a kill mid-write leaves the old file (or none), never a truncated one."""
    with staged(path) as partial:
        partial.write_text(text)
