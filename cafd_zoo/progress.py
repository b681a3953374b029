"""A progress bar with images/s and ETA for people watching a terminal, and silence for log files.

Purely cosmetic: without tqdm installed, or with stderr redirected, it does nothing, and no
training code may depend on it. ``CAFD_PROGRESS=1`` forces it on (e.g. under ``tee``), ``0`` off.
"""
from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any


class _Silent:
    """What :func:`progress` returns when there is nothing to show: the same methods, doing nothing."""

    n = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


def _wanted() -> bool:
    forced = os.environ.get("CAFD_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty()


def progress(total: int | None, desc: str, unit: str = "img", *, initial: int = 0) -> Any:
    """A tqdm bar over ``total`` units (``update(batch_size)`` per batch) or a silent stand-in.

    ``initial`` is what a resumed run had already done, so the ETA counts only what is left.
    """
    if not _wanted():
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent()
    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, initial=initial, dynamic_ncols=interactive,
                mininterval=0.1 if interactive else 30.0, ascii=not interactive, file=sys.stderr)


def note(message: str) -> None:
    """One timestamped line on stderr where a bar would show (a terminal, or ``CAFD_PROGRESS=1``), for the steps
    of a long unit of work a bar cannot see inside: AutoAttack's stages take tens of minutes a batch on a CPU."""
    if _wanted():
        print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)
