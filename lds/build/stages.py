"""The stages of `lds build`, each run in a child process of its own, and the record of those finished.

A stage reads its inputs from the staging dir and writes its outputs there, so it needs nothing from the process
that runs the build: run in a fresh child, the memory it used is returned to the system when it ends, and the
build's peak is the largest stage's rather than the sum of what each left behind (the allocator keeps freed
memory, and the address index and the hierarchy leave a lot). Children come from a fork server (a small
single-threaded process with the build's modules imported: no copy of the build process, no fork with threads,
no second start-up per stage), die with it and so with the build (a killed build leaves no stage running), send
their progress lines to the build's :class:`~lds.build.progress.Progress` and report their own peak memory.

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
import traceback
import types
from collections.abc import Callable
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


def run_in_child(fn: Callable[..., Any], args: tuple, progress: Progress) -> tuple[Any, float]:
    """``fn(*args, progress=...)`` in a spawned child process: its result and the child's peak memory (MiB).
    Progress lines are relayed to ``progress``; an exception in the child is raised here."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(theirs, progress.t0, fn, args), name=f"lds-build-{fn.__name__}")
    # The child needs nothing from __main__, and would otherwise import (re-run) the calling script: a build
    # called from a script without an ``if __name__ == "__main__"`` guard would start itself again.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        proc.start()
    finally:
        sys.modules["__main__"] = main
    theirs.close()
    try:
        while True:
            try:
                kind, *rest = ours.recv()
            except EOFError:
                proc.join()
                raise StageFailed(f"build stage {fn.__name__} died (exit code {proc.exitcode})") from None
            if kind == "progress":
                progress(*rest)
                continue
            proc.join()
            value, peak = rest
            if kind == "error":
                raise value
            return value, peak
    finally:
        ours.close()
        if proc.is_alive():
            proc.kill()
            proc.join()


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

    def run(self, name: str, outputs: list[Path], progress: Progress, fn: Callable[..., Any], *args: Any) -> dict:
        """Stage ``name`` (``fn(*args, progress=...)`` in a child, returning a dict for the record) unless this
        build finished it before; what it left in ``outputs`` is deleted first. Its record."""
        if self.done(name):
            progress.stage_done(name, reused=True)
            return self.state["done"][name]
        for path in outputs:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        result, peak = run_in_child(fn, args, progress)
        self.state["done"][name] = {**(result or {}), **progress.stage_done(name, peak_mb=peak)}
        self._save(self.state)
        return self.state["done"][name]

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
