"""The time budget and cancel flag every step of an import checks between chunks of work."""

from __future__ import annotations

import time
from collections.abc import Callable

from lds.errors import LdsError


class ImportCancelled(LdsError):
    """The import's job was cancelled."""

    status = 409


class ImportTimeout(LdsError):
    """The import ran past its time budget."""

    status = 408


class Budget:
    """A deadline (``time.monotonic()``) and a cancel check; :meth:`check` raises when either is due."""

    def __init__(self, seconds: float | None = None, cancelled: Callable[[], bool] = lambda: False):
        self.deadline = None if not seconds else time.monotonic() + seconds
        self.seconds = seconds
        self.cancelled = cancelled

    def check(self) -> None:
        if self.cancelled():
            raise ImportCancelled("the import was cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ImportTimeout(
                f"the import ran longer than its time budget of {self.seconds:g} s "
                "(LDS_IMPORT_TIMEOUT_S) and was stopped; nothing was written"
            )
