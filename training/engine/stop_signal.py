"""Turn Ctrl-C and a scheduler's SIGTERM into a request to stop at the next step boundary.

Killed in the middle of a step, a run loses that step; asked to stop, the loop finishes the step,
checkpoints and exits, losing nothing. A second Ctrl-C while stopping raises KeyboardInterrupt,
so a person can still force quit (the atomic checkpoint write survives that too).
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any

STOPPED_EXIT = 75
"""The exit status of a command that stopped on request, its work checkpointed (EX_TEMPFAIL: run it again). Not 0,
so a recipe under ``set -e`` stops there too instead of starting its next step, hours long, on unfinished work."""


class StopOnSignal:
    """``with StopOnSignal() as stop:`` ... ``if stop.requested: checkpoint; break``.

    Installs handlers for ``signals`` (SIGINT and SIGTERM) that only set :attr:`requested`, and puts
    the previous handlers back on exit. Must be entered in the main thread (Python's rule for signals).
    """

    def __init__(self, signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = tuple(signals)
        self.requested = False
        self.received: signal.Signals | None = None  # the first signal that asked to stop
        self._previous: dict[signal.Signals, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.requested:
            self.requested, self.received = True, signal.Signals(signum)
            # os.write, not print: a handler that prints can interrupt a print to the same stream
            os.write(2, f"\n{self.received.name} received: stopping after this step "
                        "(Ctrl-C again to quit at once)\n".encode())

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("StopOnSignal must be entered in the main thread: only it can receive signals")
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            # None means a handler installed outside Python; the default is the closest we can restore
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
