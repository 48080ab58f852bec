"""The stages of `lds build`, each run in a child process of its own, and the record of those finished.

A stage reads its inputs from the staging dir and writes its outputs there, so it needs nothing from the process
that runs the build: run in a fresh child, the memory it used is returned to the system when it ends, and the
build's peak is the largest stage's rather than the sum of what each left behind (the allocator keeps freed
memory, and the address index and the hierarchy leave a lot). Children come from a fork server (a small
single-threaded process with the build's modules imported: no copy of the build process, no fork with threads,
no second start-up per stage), die with it and so with the build (a killed build leaves no stage running), send
their progress lines to the build's :class:`~lds.build.progress.Progress` and report their own peak memory.

Stages that do not depend on each other run side by side (:meth:`Stages.run_all`): as many as the build's
``jobs``, and only while the sum of their estimated peaks stays within its memory budget, so a country whose
hierarchy alone fills the machine builds one stage at a time and a city uses every core.

:class:`Stages` records the stages a build has finished (``stages.json``), which makes a build resumable.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from lds.build.progress import Progress, peak_rss_mb

STAGES_FILE = "stages.json"  # in the staging dir: which stages of this build are done
# Imported once by the fork server, so each stage's child starts without importing them again.
_PRELOAD = ["numpy", "lds.build.pipeline", "lds.build.osm", "lds.build.roads", "lds.build.tables"]
_PR_SET_PDEATHSIG = 1


class StageFailed(RuntimeError):
    """A stage's child process died without a result (killed, out of memory)."""


class _PipeProgress(Progress):
    """The child's progress: each line goes to the parent, which prints it with its own progress."""

    def __init__(self, conn, t0: float):
        super().__init__(quiet=True)
        self.conn, self.t0 = conn, t0

    def __call__(self, step: str, message: str = "") -> None:
        self.conn.send(("progress", step, message))


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the fork server, which exits with the build) dies, so a
    killed build never leaves a stage writing."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _child(conn, t0: float, fn: Callable[..., Any], args: tuple) -> None:
    _die_with_parent()
    try:
        result = fn(*args, progress=_PipeProgress(conn, t0))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        exc.add_note("".join(traceback.format_exc()))
        try:
            conn.send(("error", exc, peak_rss_mb()))
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its text then
            conn.send(("error", StageFailed(traceback.format_exc()), peak_rss_mb()))
        return
    conn.send(("result", result, peak_rss_mb()))


class _Child:
    """A stage running in a child process of the fork server."""

    def __init__(self, fn: Callable[..., Any], args: tuple, progress: Progress):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        self.conn, theirs = ctx.Pipe(duplex=False)
        self.name = fn.__name__
        self.proc = ctx.Process(target=_child, args=(theirs, progress.t0, fn, args), name=f"lds-build-{fn.__name__}")
        # The child needs nothing from __main__, and would otherwise import (re-run) the calling script: a build
        # called from a script without an ``if __name__ == "__main__"`` guard would start itself again.
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            self.proc.start()
        finally:
            sys.modules["__main__"] = main
        theirs.close()

    def receive(self, progress: Progress) -> tuple[bool, Any, float]:
        """Handle one message: ``(False, None, 0)`` for a progress line (relayed to ``progress``), ``(True, result,
        peak MiB)`` at the end. The child's exception is raised here."""
        try:
            kind, *rest = self.conn.recv()
        except EOFError:
            self.proc.join()
            raise StageFailed(f"build stage {self.name} died (exit code {self.proc.exitcode})") from None
        if kind == "progress":
            progress(*rest)
            return False, None, 0.0
        self.proc.join()
        value, peak = rest
        if kind == "error":
            raise value
        return True, value, peak

    def rss_mb(self) -> float:
        """Its resident memory now (MiB; 0 once it has ended)."""
        try:
            with open(f"/proc/{self.proc.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return 0.0

    def close(self) -> None:
        self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def run_in_child(fn: Callable[..., Any], args: tuple, progress: Progress) -> tuple[Any, float]:
    """``fn(*args, progress=...)`` in a spawned child process: its result and the child's peak memory (MiB).
    Progress lines are relayed to ``progress``; an exception in the child is raised here."""
    child = _Child(fn, args, progress)
    try:
        while True:
            ended, value, peak = child.receive(progress)
            if ended:
                return value, peak
    finally:
        child.close()


@dataclass
class Stage:
    """One stage of a build: ``fn(*args, progress=...)`` in a child, returning a dict for the record; it runs once
    the stages named in ``after`` are done, deleting what a half-done run left in ``outputs`` first. ``memory_mb``
    estimates its peak from the records of the stages done (used to decide what may run beside it)."""

    name: str
    fn: Callable[..., Any]
    args: tuple
    outputs: list[Path] = field(default_factory=list)
    after: tuple[str, ...] = ()
    memory_mb: Callable[[dict[str, dict]], float] = lambda done: 0.0


def stop_fork_server() -> None:
    """Stop the fork server and wait for it (multiprocessing keeps it for the life of the process otherwise):
    reaped, its stages' peak memory counts in this process's children, as /usr/bin/time reports it."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's own way to stop it (used by its tests)
    if stop is not None:
        stop()


class Stages:
    """The finished stages of one build in its staging dir, kept in ``stages.json`` with the build's key.

    A stage writes its outputs, then is recorded here (the file replaced atomically): that record is the commit
    point, so a build killed at any moment and run again with the same key redoes only the stages not recorded,
    after deleting what a half-done one left. Another key (or ``restart``) starts from an empty dir."""

    def __init__(self, work: Path, key: str, restart: bool = False):
        self.work, self.file = work, work / STAGES_FILE
        state = None
        if not restart and self.file.is_file():
            try:
                state = json.loads(self.file.read_text())
            except ValueError:
                state = None
        if state is None or state.get("key") != key:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            state = {"key": key, "done": {}}
        state["pid"] = os.getpid()  # the build writing here now (see prune_stale)
        self._save(state)
        self.state = state

    def _save(self, state: dict) -> None:
        tmp = self.file.with_name(self.file.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file)

    def done(self, name: str) -> dict | None:
        return self.state["done"].get(name)

    def run_all(self, stages: Sequence[Stage], progress: Progress, jobs: int = 1,
                memory_mb: float = float("inf")) -> dict[str, dict]:
        """Run ``stages`` (those this build did not finish before), up to ``jobs`` at once while the sum of their
        estimates stays within ``memory_mb`` (a stage always runs when it would run alone), each as soon as the
        stages it comes after are done, in the order given otherwise. The records of all. A failing stage stops
        the others and its exception is raised."""
        done = self.state["done"]
        for stage in stages:
            if stage.name in done:
                progress.stage_done(stage.name, reused=True)
        waiting = [stage for stage in stages if stage.name not in done]
        running: dict[Any, tuple[Stage, _Child, float, float]] = {}  # conn -> stage, child, started, estimate
        scale: dict[Callable, float] = {}  # estimates of a kind scaled up once one of them proved low
        try:
            while waiting or running:
                for stage in list(waiting):
                    if len(running) >= max(1, jobs) or any(name not in done for name in stage.after):
                        continue
                    estimate = stage.memory_mb(done) * scale.get(stage.fn, 1.0)
                    if running and sum(r[3] for r in running.values()) + estimate > memory_mb:
                        continue
                    waiting.remove(stage)
                    for path in stage.outputs:
                        if path.is_dir():
                            shutil.rmtree(path)
                        else:
                            path.unlink(missing_ok=True)
                    child = _Child(stage.fn, stage.args, progress)
                    running[child.conn] = (stage, child, time.perf_counter(), estimate)
                if not running:
                    missing = {name for stage in waiting for name in stage.after} - set(done)
                    raise ValueError(f"build stages wait for stages never run: {sorted(missing)}")
                for conn in wait(list(running), timeout=0.5):
                    stage, child, started, estimate = running[conn]
                    ended, result, peak = child.receive(progress)
                    if not ended:
                        continue
                    del running[conn]
                    child.close()
                    if estimate > 0 and peak > estimate:
                        scale[stage.fn] = max(scale.get(stage.fn, 1.0), peak / estimate)
                    done[stage.name] = {**(result or {}), **progress.stage_done(stage.name, peak_mb=peak,
                                                                                started=started)}
                    self._save(self.state)
                if len(running) > 1:
                    together = sum(child.rss_mb() for _, child, _, _ in running.values())
                    progress.concurrent_peak_mb = max(progress.concurrent_peak_mb, together)
        finally:
            for _, child, _, _ in running.values():
                child.close()
        return {stage.name: done[stage.name] for stage in stages}

    def close(self) -> None:
        """The build is complete: the record goes (a published build is not resumed)."""
        self.file.unlink(missing_ok=True)


def prune_stale(folder: Path, pattern: str) -> None:
    """Delete the staging dirs matching ``pattern`` in ``folder`` whose build died (its process is gone)."""
    for stages_file in folder.glob(f"{pattern}/{STAGES_FILE}"):
        try:
            pid = int(json.loads(stages_file.read_text()).get("pid", 0))
            if pid > 0:
                os.kill(pid, 0)
                continue  # still running
        except PermissionError:
            continue  # another user's process: running
        except (OSError, ValueError, TypeError, OverflowError):
            pass
        shutil.rmtree(stages_file.parent, ignore_errors=True)
