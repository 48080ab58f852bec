"""Address points as columns while the index is built: coordinates in float arrays, text fields as ids into one
interned string table, so a country's millions of addresses cost ~80 bytes each instead of a Python dict each
(~1 KB: a 5M-node country held 4.7 GB of them).

Rows are appended while the extract is read (``array.array``, growable) and by interpolation, then
:meth:`Addresses.freeze` turns every column into a numpy array for the vectorised passes of the build.
"""

from __future__ import annotations

from array import array
from itertools import chain
from typing import Any

import numpy as np
import shapely

from lds.geocoding.store import StringPool

FIELDS = ("hn", "street", "place", "postcode", "city", "country", "suburb", "state")
CITY_FROM_TAG, CITY_FROM_NODE, CITY_FROM_AREA = 1, 2, 3  # Addresses.city_from: where the city came from (0: none)


class Strings(StringPool):
    """Interning string table: ``id(s)`` (-1 for None/empty) and ``text(i)`` (None for -1)."""

    id = StringPool.add

    def text(self, i: int) -> str | None:
        return self.items[i] if i >= 0 else None

    def map(self, fn: Any, ids: np.ndarray) -> np.ndarray:
        """``fn(text)`` (an int) of every id, called once per distinct id."""
        uniq, inv = np.unique(ids, return_inverse=True)
        out = np.array([fn(self.text(int(i))) for i in uniq.tolist()], dtype=np.int32)
        return out[inv.reshape(-1)] if len(uniq) else np.zeros(len(ids), dtype=np.int32)


class Outlines:
    """The outlines of addressed buildings while the index is built, by address row: a way's ring as flat (lon, lat)
    arrays (a country has millions: a list of tuples each took ~830 bytes for a house), a relation's assembled
    geometry as itself (few)."""

    def __init__(self) -> None:
        self.rows = array("q")
        self.xy = array("d")
        self.ends = array("q", [0])
        self.geoms: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.rows) + len(self.geoms)

    def add(self, row: int, outline: Any) -> None:
        """``outline``: a closed ring of (lon, lat) or a shapely geometry."""
        if isinstance(outline, shapely.Geometry):
            self.geoms[row] = outline
            return
        self.rows.append(row)
        self.xy.extend(chain.from_iterable(outline))
        self.ends.append(len(self.xy) // 2)

    def in_order(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(written position, geometry) of every outline, by position, for rows written in ``order`` (position ->
        row)."""
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        ends = np.frombuffer(self.ends, dtype=np.int64)
        xy = np.frombuffer(self.xy, dtype=np.float64).reshape(-1, 2) if len(self.xy) else np.zeros((0, 2))
        rings = (shapely.polygons(shapely.linearrings(xy, indices=np.repeat(np.arange(len(self.rows)), np.diff(ends))))
                 if len(self.rows) else [])
        rows = np.r_[np.frombuffer(self.rows, dtype=np.int64), np.fromiter(self.geoms, np.int64, len(self.geoms))]
        geoms = np.empty(len(rows), dtype=object)
        geoms[: len(self.rows)] = rings
        geoms[len(self.rows):] = list(self.geoms.values())
        at = position[rows]
        by = np.argsort(at, kind="stable")
        return at[by], geoms[by]


class Addresses:
    """The address points of an extract as columns; ``strings`` holds the text of every id column."""

    def __init__(self, strings: Strings) -> None:
        self.strings = strings
        self.lat, self.lon = array("d"), array("d")
        self.osm_type, self.osm_id = array("B"), array("q")  # ord("n"/"w"/"r") and the OSM id of each row
        self._ids = array("i")  # while rows are added: the FIELDS ids of each row, row after row
        self.cols: dict[str, np.ndarray] = {}
        self.interpolated = array("B")
        self.outlines = Outlines()  # of the addressed buildings (lds.geocoding.buildings)
        self.n_real = 0  # rows read from the extract (set by freeze; rows added later are interpolated)

    def __len__(self) -> int:
        return len(self.lat)

    def append(
        self, osm_type: str, osm_id: int, lat: float, lon: float, ids: list[int], interpolated: bool = False
    ) -> int:
        """One row (``ids``: its string id per field of ``FIELDS``, -1 for none); its row number."""
        self.lat.append(lat)
        self.lon.append(lon)
        self.osm_type.append(ord(osm_type))
        self.osm_id.append(osm_id)
        self._ids.extend(ids)
        self.interpolated.append(interpolated)
        return len(self.lat) - 1

    def freeze(self) -> None:
        """Every column as a numpy array (no more rows), plus the columns the later passes fill in."""
        as_np = np.asarray
        self.lat, self.lon = as_np(self.lat, dtype=np.float64), as_np(self.lon, dtype=np.float64)
        self.osm_type, self.osm_id = as_np(self.osm_type, dtype=np.uint8), as_np(self.osm_id, dtype=np.int64)
        ids = np.frombuffer(self._ids, dtype=np.int32).reshape(-1, len(FIELDS))
        self.cols = {f: ids[:, k].copy() for k, f in enumerate(FIELDS)}
        del ids
        self._ids = array("i")
        self.interpolated = as_np(self.interpolated, dtype=bool)
        self.inferred = np.zeros(len(self.lat), dtype=bool)
        self.city_from = np.zeros(len(self.lat), dtype=np.int8)
        self.n_real = len(self.lat)

    def extend(self, more: Addresses) -> None:
        """Append the rows of ``more`` (frozen, same ``strings``) after these."""
        self.lat, self.lon = np.concatenate([self.lat, more.lat]), np.concatenate([self.lon, more.lon])
        self.osm_type = np.concatenate([self.osm_type, more.osm_type])
        self.osm_id = np.concatenate([self.osm_id, more.osm_id])
        self.cols = {f: np.concatenate([c, more.cols[f]]) for f, c in self.cols.items()}
        for name in ("interpolated", "inferred", "city_from"):
            setattr(self, name, np.concatenate([getattr(self, name), getattr(more, name)]))

    def __getitem__(self, field: str) -> np.ndarray:
        return self.cols[field]

    def text(self, field: str, row: int) -> str | None:
        return self.strings.text(int(self.cols[field][row]))

    def row_of(self, osm_type: str, osm_ids: np.ndarray) -> np.ndarray:
        """The row of each OSM object of one type (-1: not an address), the last when one has several."""
        rows = np.flatnonzero(self.osm_type[: self.n_real] == ord(osm_type))
        ids = self.osm_id[rows]
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        osm_ids = np.asarray(osm_ids, dtype=np.int64)
        at = np.searchsorted(ids, osm_ids, side="right") - 1
        found = (at >= 0) & (ids[np.maximum(at, 0)] == osm_ids) if len(ids) else np.zeros(len(osm_ids), bool)
        return np.where(found, rows[np.maximum(at, 0)] if len(ids) else -1, -1)


class StreetWays:
    """Named highway ways: the name tags of each (one dict shared by the ways that carry the same names) and their
    coordinates, (lon, lat) rows of one flat array cut by offsets, not a dict and a list of tuples per way."""

    def __init__(self) -> None:
        self.names: list[dict[str, str]] = []
        self._shared: dict[tuple, dict[str, str]] = {}
        self._xy = array("d")
        self._end = array("q", [0])

    def __len__(self) -> int:
        return len(self.names)

    def append(self, names: dict[str, str], points: list[tuple[float, float]]) -> None:
        key = tuple(names.items())
        self.names.append(self._shared.setdefault(key, names))
        self._xy.extend(chain.from_iterable(points))
        self._end.append(len(self._xy) // 2)

    def freeze(self) -> None:
        """Coordinates and offsets as numpy arrays (no more ways)."""
        self._xy = np.asarray(self._xy, dtype=np.float64).reshape(-1, 2)
        self._end = np.asarray(self._end, dtype=np.int64)
        self._shared = {}

    def coords(self, way: int) -> np.ndarray:
        """(lon, lat) rows of one way (after :meth:`freeze`)."""
        return self._xy[self._end[way] : self._end[way + 1]]


def first_mode(keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Per key, its most common value (-1 values ignored), ties to the value seen first: ``Counter.most_common``
    of each key's values in row order, for all keys at once. -1 where a key has no value."""
    out = np.full(n_keys, -1, dtype=np.int64)
    pos = np.flatnonzero(values >= 0)
    if not len(pos):
        return out
    span = int(values.max()) + 1
    pair = keys[pos].astype(np.int64) * span + values[pos]  # (key, value) as one number
    order = np.argsort(pair, kind="stable")  # by key, value, then row
    pair = pair[order]
    start = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    count = np.diff(np.r_[start, len(pair)])
    first = pos[order[start]]
    rk, rv = pair[start] // span, pair[start] % span
    best = np.lexsort((first, -count, rk))  # per key: highest count, then earliest first row
    rk, rv = rk[best], rv[best]
    head = np.r_[True, rk[1:] != rk[:-1]]
    out[rk[head]] = rv[head]
    return out
