"""Build progress lines and the closing figures (time, peak memory), overall and per stage."""

from __future__ import annotations

import resource
import sys
import time


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Progress:
    """Prints ``[  1.2s] step: message`` lines to stderr so stdout stays machine-readable, and keeps the time and
    peak memory of each stage ended by :meth:`stage_done` (meta.json's ``stages``)."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.stage_figures: dict[str, dict[str, float]] = {}
        self.concurrent_peak_mb = 0.0  # stages run side by side: the largest sum of their memory seen
        self._mark = self.t0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def peak_mb(self) -> float:
        """Peak resident memory of the run so far (MiB): this process's, a stage's or stages' run side by side
        together, whichever is highest."""
        stages = (s["peak_mb"] for s in self.stage_figures.values() if not s.get("reused"))
        return max([peak_rss_mb(), self.concurrent_peak_mb, *stages])

    def stage_begin(self) -> None:
        """Start timing a stage now (the first stage otherwise starts when this object was made)."""
        self._mark = time.perf_counter()

    def stage_done(self, name: str, reused: bool = False, peak_mb: float | None = None,
                   started: float | None = None) -> dict[str, float]:
        """Close the stage ``name``: its seconds since ``started`` (a ``perf_counter`` time; by default the end
        of the previous stage, or :meth:`stage_begin`) and its peak memory in MiB (``peak_mb``, measured where it
        ran; else this process's)."""
        now = time.perf_counter()
        peak = peak_rss_mb() if peak_mb is None else peak_mb
        info = {"seconds": round(now - (self._mark if started is None else started), 2), "peak_mb": round(peak, 1)}
        if reused:
            info["reused"] = True
        self.stage_figures[name] = info
        self.stage_begin()
        self(name, f"{'reused, ' if reused else ''}{info['seconds']} s, peak {info['peak_mb']} MiB")
        return info

    def __call__(self, step: str, message: str = "") -> None:
        if not self.quiet:
            print(f"[{self.elapsed():7.1f}s] {step}: {message}", file=self.stream, flush=True)
