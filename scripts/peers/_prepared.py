"""Shared plumbing of the peer adapters: cache dirs keyed by the extract's sha256, locked preparation, logged tools.

A peer prepares its data once per extract into ``graph_data/peers/<engine>/<extract name>/`` and writes a
``prepared.json`` stamp last; a later run reuses the data when the stamp's sha256 and parameters match.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lds.build.pipeline import extract_name
from lds.build.pipeline import sha256_file as sha256_of

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_ROOT = REPO_ROOT / "graph_data" / "peers"
STAMP = "prepared.json"


class PeerError(RuntimeError):
    """A peer engine could not be prepared or loaded (missing tool, failed import, bad extract)."""


def run_logged(
    cmd: Sequence[str | Path | int], log_path: Path, env: dict[str, str] | None = None, what: str = ""
) -> float:
    """Run a preparation tool with its output appended to ``log_path``; return seconds; raise PeerError on failure.

    ``what`` names the step in the error message (default: the executable's name).
    """
    t0 = time.perf_counter()
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(map(str, cmd))}\n")
        log.flush()
        proc = subprocess.run(list(map(str, cmd)), check=False, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = "".join(Path(log_path).read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise PeerError(
            f"{what or Path(str(cmd[0])).name} failed with exit code {proc.returncode}; log {log_path}:\n{tail}"
        )
    return time.perf_counter() - t0


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise preparation of one cache dir between processes (two bench scripts started together).

    The lock file sits beside the dir, which a rebuild deletes and recreates.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Peer:
    """Base of the adapters: resolves the cache dir, prepares or reuses data, then loads the engine in-process.

    Subclasses set ``engine``, implement ``_prepare`` (build into ``self.work_dir``, may return extra stamp
    fields), ``_load`` and optionally ``_intact`` (data outside the dir, e.g. a database, still there) and
    ``_discard`` (remove such outside data before a rebuild).
    """

    engine = "peer"

    def __init__(
        self,
        pbf: str | Path,
        cache_dir: str | Path | None = None,
        *,
        variant: str = "",
        params: dict[str, Any] | None = None,
        rebuild: bool = False,
    ) -> None:
        self.pbf = Path(pbf).resolve()
        if not self.pbf.is_file():
            raise PeerError(f"extract not found: {self.pbf}")
        self.name = extract_name(self.pbf)
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE_ROOT / self.engine / self.name
        self.work_dir = self.cache_dir / variant if variant else self.cache_dir
        self.params = dict(params or {})
        self.sha256 = sha256_of(self.pbf)
        with _locked(self.work_dir):
            stamp = self._read_stamp()
            if stamp is not None and not rebuild and self._intact(stamp):
                self.reused = True
            else:
                self.reused = False
                stamp = self._build()
        self.stamp: dict[str, Any] = stamp
        self.prepare_seconds: float = float(stamp["prepare_seconds"])
        self._load()

    # -- preparation ---------------------------------------------------------------------------------------
    def _read_stamp(self) -> dict[str, Any] | None:
        path = self.work_dir / STAMP
        try:
            stamp = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if stamp.get("sha256") != self.sha256 or stamp.get("params") != self.params:
            return None
        return stamp

    def _build(self) -> dict[str, Any]:
        self._discard()
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir)
        self.work_dir.mkdir(parents=True)
        t0 = time.perf_counter()
        extra = self._prepare() or {}
        stamp = {
            "engine": self.engine,
            "source": str(self.pbf),
            "sha256": self.sha256,
            "params": self.params,
            "prepare_seconds": round(time.perf_counter() - t0, 3),
            "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **extra,
        }
        (self.work_dir / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        return stamp

    def _prepare(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def _intact(self, stamp: dict[str, Any]) -> bool:
        return True

    def _discard(self) -> None:
        """Remove prepared data kept outside ``work_dir`` (nothing by default)."""

    def _load(self) -> None:
        raise NotImplementedError

    # -- lifetime ------------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What was prepared, where, how long it took, and whether this run reused it."""
        return {
            "engine": self.engine,
            "extract": self.name,
            "dir": str(self.work_dir),
            "reused": self.reused,
            "prepare_seconds": self.prepare_seconds,
            "params": self.params,
        }

    def close(self) -> None:
        """Release the engine (databases connections, memory maps)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_polyline(encoded: str, precision: int = 6) -> list[tuple[float, float]]:
    """Decode a Google polyline (OSRM polyline6 / Valhalla shape) to ``[(lon, lat), ...]``.

    Uses pyvalhalla's C decoder when installed (about 10x faster than Python), else a plain loop.
    """
    if _c_decode is not None:
        return _c_decode(encoded, precision, "lnglat")
    factor = 10.0**precision
    coords: list[tuple[float, float]] = []
    index = lat = lon = 0
    length = len(encoded)
    while index < length:
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                byte = ord(encoded[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        coords.append((lon / factor, lat / factor))
    return coords


try:
    from valhalla.midgard.utils import decode_polyline as _c_decode
except ImportError:  # pyvalhalla not installed: OSRM alone still works
    _c_decode = None
