"""Build progress lines and the closing figures (time, peak memory)."""

from __future__ import annotations

import resource
import sys
import time


def peak_rss_mb() -> float:
    """Peak resident memory of this process (and finished children) in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return own / 1024.0


class Progress:
    """Prints ``[  1.2s] step: message`` lines to stderr so stdout stays machine-readable."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, step: str, message: str = "") -> None:
        if not self.quiet:
            print(f"[{self.elapsed():7.1f}s] {step}: {message}", file=self.stream, flush=True)
