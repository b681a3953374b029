"""Training metrics as JSON Lines: one object per line, flushed as written, so a killed run keeps
every line but possibly the one it was writing, and a resumed run appends to the same file.

Each line is flushed to the operating system, not fsynced: it survives the process being killed,
not the machine losing power (the checkpoint is what must survive that).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any


def _plain(value: Any) -> Any:
    """json.dumps fallback: one-element tensors and NumPy scalars as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__qualname__} is not JSON-able; log numbers, strings, lists or dicts")


def _parse_lines(data: bytes, path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The records in ``data`` and whether it ends in an unfinished line (a kill mid-write)."""
    *lines, tail = data.split(b"\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number} is not a JSON object ({exc}); "
                                 "only the last line may be cut short") from exc
    if tail.strip():
        try:
            records.append(json.loads(tail))
        except ValueError:
            return records, True
    return records, False


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a metrics file, in order; a last line cut short by a kill is left out."""
    path = Path(path)
    return _parse_lines(path.read_bytes(), path)[0]


class MetricsLog:
    """``log(**fields)`` appends ``{"time": <unix seconds>, **fields}`` as one line to ``path``.

    Opening an existing file drops an unfinished last line. With ``resume_step`` (the checkpoint's
    step), records whose ``step_key`` is beyond it are dropped too: they describe steps the killed run
    took after its last checkpoint, which the resumed run takes again and logs anew. A fresh start
    passes ``resume_step=0``, so an attempt that died before its first checkpoint is not logged twice.
    """

    def __init__(self, path: str | Path, *, resume_step: int | None = None, step_key: str = "step") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._tidy(resume_step, step_key)
        self._file = open(self.path, "a", encoding="utf-8")

    def _tidy(self, resume_step: int | None, step_key: str) -> None:
        data = self.path.read_bytes()
        records, unfinished = _parse_lines(data, self.path)
        kept = [r for r in records
                if resume_step is None or not isinstance(r.get(step_key), (int, float)) or r[step_key] <= resume_step]
        if len(kept) == len(records) and not unfinished:
            if data and not data.endswith(b"\n"):  # a complete record that lost only its newline
                with open(self.path, "ab") as f:
                    f.write(b"\n")
            return
        staged = self.path.with_name(f".{self.path.name}.partial")
        staged.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(staged, self.path)

    def log(self, **fields: Any) -> None:
        """Append one record, stamped with the current time, and flush it."""
        self._file.write(json.dumps({"time": time.time(), **fields}, default=_plain) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
