"""Versions of one data dir: new data beside the old, one atomic pointer flip, old versions pruned.

A data dir that ``lds build`` writes into again keeps every build in its own directory and a symlink naming
the one to serve::

    <dir>/current -> versions/<data_version>     flipped by rename(2): readers see the old or the new, never half
    <dir>/versions/<data_version>/meta.json ...  one complete build each (the layout of lds.dataset)
    <dir>/versions/.building-<pid>/              the build under way (never served)

A first build writes the flat layout (``<dir>/meta.json`` ...) as before, and a flat dir keeps working: the next
build goes to ``versions/`` beside it, and the flat parts count as the oldest version when pruning. Servers and
workers follow the pointer (lds.server, lds.data_follow); a version is deleted only once ``keep`` newer ones
exist, so the one just replaced outlives the requests and jobs still running on it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("lds")

CURRENT = "current"
VERSIONS = "versions"
_FLAT_PARTS = ("meta.json", "graph", "geocoder", "tables")  # meta.json first: without it the rest is not a build


def current_name(root: str | Path) -> str | None:
    """The version the pointer of ``root`` names (a cheap readlink), or None for a flat or empty dir."""
    try:
        return Path(os.readlink(Path(root) / CURRENT)).name
    except OSError:
        return None


def current_path(root: str | Path) -> Path:
    """The directory of the version ``root`` serves: its pointer's target, else ``root`` itself (a flat build)."""
    root = Path(root)
    name = current_name(root)
    return root / VERSIONS / name if name is not None else root


_SERVED: dict[str, Path] = {}  # per process: data dir -> the version its loaded core answers from


def note_served(root: str | Path, path: Path) -> None:
    """Record that this process's core of ``root`` answers from ``path`` (lds.dataset, on opening it)."""
    _SERVED[str(Path(root).resolve())] = path


def served_path(root: str | Path) -> Path:
    """The version of ``root`` this process answers from: the one its core loaded, else the current one. Parts
    opened later (the SQL tables a warehouse attaches) take it, so a worker still serving the old version after
    the pointer flipped never mixes in the new one."""
    return _SERVED.get(str(Path(root).resolve())) or current_path(root)


def version_path(root: str | Path, version: str) -> Path | None:
    """The directory of ``version`` in ``root`` while it is kept (the flat build counts), else None."""
    root = Path(root)
    path = root / VERSIONS / version
    if not version.startswith(".") and "/" not in version and (path / "meta.json").is_file():
        return path
    flat = root / "meta.json"
    if flat.is_file() and json.loads(flat.read_text()).get("data_version") == version:
        return root
    return None


def fresh_version(root: str | Path, candidate: str) -> str:
    """``candidate``, or ``candidate.N`` when ``root`` already keeps a version of that name (two builds of one
    source in the same second): a data version names one build only, since cache keys contain it."""
    name, n = candidate, 1
    while version_path(root, name) is not None or (Path(root) / VERSIONS / name).exists():
        n += 1
        name = f"{candidate}.{n}"
    return name


def holds_build(root: str | Path) -> bool:
    root = Path(root)
    return (root / "meta.json").is_file() or (root / CURRENT / "meta.json").is_file()


def staging_dir(root: str | Path) -> Path:
    """Where a new build of ``root`` is written: inside ``versions/`` when ``root`` already holds one."""
    root = Path(root)
    if holds_build(root):
        return root / VERSIONS / f".building-{os.getpid()}"
    return root.with_name(root.name + ".building")


def flip(root: str | Path, version: str) -> None:
    """Point ``root/current`` at ``versions/<version>`` atomically (a new symlink renamed over the old)."""
    root = Path(root)
    tmp = root / f".{CURRENT}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(Path(VERSIONS) / version, tmp)
    os.replace(tmp, root / CURRENT)


def publish(root: str | Path, built: str | Path, version: str, keep: int) -> Path:
    """Move the finished build ``built`` to ``versions/<version>``, flip the pointer to it, prune; its path."""
    root = Path(root)
    target = root / VERSIONS / version
    os.rename(built, target)  # fails if it exists: a version is never overwritten (see fresh_version)
    flip(root, target.name)
    prune(root, keep)
    return target


def _built_ns(path: Path) -> int:
    try:
        return (path / "meta.json").stat().st_mtime_ns
    except OSError:
        return 0


def prune(root: str | Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` (at least 2) newest versions, never the current one; the names deleted."""
    root = Path(root)
    keep = max(2, keep)
    current = current_name(root)
    kept = [p for p in (root / VERSIONS).iterdir() if not p.name.startswith(".") and (p / "meta.json").is_file()]
    if (root / "meta.json").is_file():
        kept.append(root)  # the flat build a first `lds build` wrote
    kept.sort(key=_built_ns, reverse=True)
    gone = []
    for path in kept[keep:]:
        if path.name == current and path != root:
            continue
        if path == root:
            for part in _FLAT_PARTS:
                target = root / part
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
            gone.append("(flat)")
        else:
            shutil.rmtree(path, ignore_errors=True)
            gone.append(path.name)
    for stale in (root / VERSIONS).glob(".building-*"):  # a build that died: its process is gone
        if not _alive(stale.name.rpartition("-")[2]):
            shutil.rmtree(stale, ignore_errors=True)
    if gone:
        log.info("pruned data versions %s of %s", ", ".join(gone), root)
    return gone


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
