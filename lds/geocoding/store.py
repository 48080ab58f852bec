"""On-disk layout of the address index: numpy arrays, one UTF-8 string blob, a JSON manifest.

Arrays load with one ``np.load`` each, memory-mapped and served as plain ndarray views of the map (element access
on a np.memmap itself costs ~20x more, and the query path reads single elements); Python objects (the vocabulary
dict, KD-trees) are made from the arrays at load or on first use. Copenhagen (35k addresses) loads in about 50 ms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from lds.formats import GEOCODER_FORMAT


class StringPool:
    """Interning string table used while building: ``add(s) -> id``; -1 stands for None/empty."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.items: list[str] = []

    def add(self, s: str | None) -> int:
        if not s:
            return -1
        i = self.ids.get(s)
        if i is None:
            i = self.ids[s] = len(self.items)
            self.items.append(s)
        return i

    def save(self, out: Path, name: str) -> None:
        save_strings(out, name, self.items)


def save_strings(out: Path, name: str, items: Sequence[str]) -> None:
    data = [s.encode("utf-8") for s in items]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    if data:
        np.cumsum([len(b) for b in data], out=offsets[1:])
    (out / f"{name}.bin").write_bytes(b"".join(data))
    np.save(out / f"{name}.offsets.npy", offsets)


class StringTable:
    """Read side of :func:`save_strings`: ``table[i]`` decodes one string (None for -1)."""

    CACHE_MAX = 500_000  # decoded strings kept (cities, postcodes, streets repeat in every answer)

    def __init__(self, directory: Path, name: str):
        self.blob = (directory / f"{name}.bin").read_bytes()
        self.offsets = np.load(directory / f"{name}.offsets.npy").tolist()
        self._cache: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str | None:
        if i < 0:
            return None
        s = self._cache.get(i)
        if s is None:
            s = self.blob[self.offsets[i] : self.offsets[i + 1]].decode("utf-8")
            if len(self._cache) < self.CACHE_MAX:
                self._cache[i] = s
        return s

    def all(self) -> list[str]:
        blob, off = self.blob, self.offsets
        return [blob[off[i] : off[i + 1]].decode("utf-8") for i in range(len(off) - 1)]


def csr(lists: Iterable[Sequence[int]], dtype=np.int32) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values) of a list of int lists."""
    lists = list(lists)
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    if lists:
        np.cumsum([len(x) for x in lists], out=offsets[1:])
    values = np.fromiter((v for x in lists for v in x), dtype=dtype, count=int(offsets[-1]))
    return offsets, values


def save_arrays(out: Path, arrays: dict[str, np.ndarray]) -> None:
    for name, arr in arrays.items():
        np.save(out / f"{name}.npy", np.ascontiguousarray(arr))


def load_array(directory: Path, name: str, mmap: bool = True) -> np.ndarray:
    return np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None)


def save_wkb(out: Path, name: str, blobs: Sequence[bytes]) -> None:
    """Geometries as ``name.wkb`` (their WKB one after another) and ``name.offsets.npy`` (where each starts, then the
    end), for :class:`WkbColumn`."""
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    if len(blobs):
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
    (out / f"{name}.wkb").write_bytes(b"".join(blobs))
    np.save(out / f"{name}.offsets.npy", offsets)


def mapped(directory: Path, name: str) -> np.ndarray:
    """``name.npy`` memory-mapped, as a plain ndarray view (np.memmap's own methods cost ~µs a call)."""
    return np.load(directory / f"{name}.npy", mmap_mode="r").view(np.ndarray)


def boxes_holding(bounds: np.ndarray, lon: float, lat: float) -> np.ndarray:
    """The rows of ``bounds`` (minx, miny, maxx, maxy) whose box holds the point, edges included."""
    return np.flatnonzero((bounds[:, 0] <= lon) & (bounds[:, 2] >= lon) & (bounds[:, 1] <= lat) & (bounds[:, 3] >= lat))


class WkbColumn:
    """The geometries :func:`save_wkb` wrote, memory-mapped (shared by a server's workers): one is parsed when asked
    for, nothing up front."""

    def __init__(self, directory: Path, name: str):
        self.offsets = mapped(directory, f"{name}.offsets")
        self.blob = (np.memmap(directory / f"{name}.wkb", mode="r").view(np.ndarray) if self.offsets[-1]
                     else np.zeros(0, np.uint8))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, k: int) -> Any:
        return shapely.from_wkb(self.blob[int(self.offsets[k]) : int(self.offsets[k + 1])].tobytes())

    def bounds(self) -> np.ndarray:
        """Every geometry's (minx, miny, maxx, maxy), each parsed once: for an index written before its boxes."""
        return shapely.bounds(np.array([self[k] for k in range(len(self))], dtype=object)).reshape(-1, 4)


def save_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / "manifest.json").write_text(json.dumps({"format": GEOCODER_FORMAT, **manifest}, ensure_ascii=False, indent=1))


def load_manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text())
