"""``AddressIndex``: the loaded address index, and the one object forward, reverse and batch use.

Arrays are memory-mapped (``store``), the nearest-point grids of reverse geocoding too (``lds.geocoding.nearest``,
written by the build; an index built before them has them built in memory: at load for small extracts, on first use
for large ones); the vocabulary dict is built at load, per-street house-number tables on first use.
"""

from __future__ import annotations

import json
import math
import threading
import time
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lds.formats import FLAG_INTERPOLATED, GEOCODER_FORMAT, KIND_PLACE, KIND_POI, KIND_POSTCODE, KIND_STREET
from lds.geocoding.areas import Areas
from lds.geocoding.housenumbers import index_keys, main_number
from lds.geocoding.lexicon import Lexicon, word_matches
from lds.geocoding.nearest import PointGrid, lonlat_xyz
from lds.geocoding.store import StringTable, load_array, load_manifest
from lds.geocoding.streets import Segments
from lds.settings import Settings

KIND_NAMES = {KIND_STREET: "street", KIND_PLACE: "place", KIND_POI: "poi", KIND_POSTCODE: "postcode"}
WARM_LIMIT = 1_000_000  # indexes without grid files and up to this many points build their grids at load
# Cells of the nearest-point grids: larger cells scan more points, smaller ones need more cell look-ups (at 5M
# nodes 150 m took a third of the time 50 m did; in central Copenhagen as fast as 50 m).
ADDR_GRID_CELL_M = 150.0  # cell of the address points' nearest-point grid (segments: SEGMENT_GRID_CELL_M)
PLACE_GRID_CELLS = 4  # the place nodes' grid has this many cells across the largest place radius


def build_grid(directory: Path, name: str, out: Path | None = None) -> PointGrid | None:
    """The nearest-point grid ``name`` (``addr``: address points, ``seg``: street segment midpoints, ``placenode``:
    place nodes) of the index arrays in ``directory``: written to ``out`` (the build) or kept in memory (an index
    built before the grids). None when it has no points."""
    arr = lambda a: load_array(directory, a, mmap=True)
    if name == "seg":
        return Segments(*(arr(f"seg_{a}") for a in ("lat0", "lon0", "lat1", "lon1", "entity"))).make_grid(out)
    if name == "addr":
        n, xyz_of, cell = len(arr("addr_lat")), lonlat_xyz(arr("addr_lon"), arr("addr_lat")), ADDR_GRID_CELL_M
    else:
        e, radius = np.asarray(arr("placenode_entity")), arr("placenode_radius")
        n = len(e)
        cell = float(np.max(radius)) / PLACE_GRID_CELLS if n else 1.0
        xyz_of = lonlat_xyz(np.asarray(arr("ent_lon"))[e], np.asarray(arr("ent_lat"))[e])
    if n == 0:
        return None
    return PointGrid.build(n, xyz_of, cell, out, name)


class AddressIndex:
    """Addresses, streets, places, POIs and postcodes of one extract, ready to search."""

    def __init__(self, directory: Path, settings: Settings):
        t0 = time.perf_counter()
        self.directory = Path(directory)
        self.settings = settings
        self.manifest = load_manifest(self.directory)
        if self.manifest.get("format") != GEOCODER_FORMAT:
            raise ValueError(f"address index format {self.manifest.get('format')} is not {GEOCODER_FORMAT}: rebuild it")
        self.counts = self.manifest.get("counts", {})
        self.countries: dict[str, dict[str, str]] = self.manifest.get("countries", {})
        self.strings = StringTable(self.directory, "strings")
        # Memory-mapped, as plain ndarray views (element access as fast as on arrays read into memory, unlike on a
        # np.memmap): the pages are the files' (shared by every process serving them), not anonymous memory.
        arr = lambda name: np.asarray(load_array(self.directory, name, mmap=True))
        self.addr_lat, self.addr_lon = arr("addr_lat"), arr("addr_lon")
        self.addr_entity, self.addr_hn = arr("addr_entity"), arr("addr_hn")
        self.addr_postcode, self.addr_city, self.addr_suburb = arr("addr_postcode"), arr("addr_city"), arr("addr_suburb")
        self.addr_state, self.addr_country, self.addr_flags = arr("addr_state"), arr("addr_country"), arr("addr_flags")
        self.ent_kind, self.ent_lat, self.ent_lon = arr("ent_kind"), arr("ent_lat"), arr("ent_lon")
        self.ent_importance = arr("ent_importance")
        self.ent_addr_off = arr("ent_addr_off")
        self.ent_ctx_off, self.ent_ctx = arr("ent_ctx_off"), arr("ent_ctx")
        self.ent = {f: arr(f"ent_{f}") for f in ("name", "street", "hn", "postcode", "city", "suburb", "state", "country", "category")}
        self.name_entity, self.name_tok_off, self.name_tok = arr("name_entity"), arr("name_tok_off"), arr("name_tok")
        self.name_weight = arr("name_weight")
        self.tok_post_off, self.tok_post = arr("tok_post_off"), arr("tok_post")
        self.segments = Segments(arr("seg_lat0"), arr("seg_lon0"), arr("seg_lat1"), arr("seg_lon1"), arr("seg_entity"),
                                 self._grid_file("seg"))
        self.placenode_entity, self.placenode_radius = arr("placenode_entity"), arr("placenode_radius")
        self.area_entity, self.area_size = arr("area_entity"), arr("area_size")
        self.i18n: dict[str, dict[str, str]] = json.loads((self.directory / "i18n.json").read_text())
        vocab = StringTable(self.directory, "vocab").all()
        surf_keys = StringTable(self.directory, "surface").all()
        surf_off, surf_tok = np.load(self.directory / "surf_off.npy").tolist(), np.load(self.directory / "surf_tok.npy").tolist()
        surface = {k: tuple(surf_tok[surf_off[i] : surf_off[i + 1]]) for i, k in enumerate(surf_keys)}
        post_off = np.asarray(self.tok_post_off)
        self.lexicon = Lexicon(vocab, surface, np.asarray(arr("tok_idf")).tolist(), np.asarray(arr("tok_flags")).tolist(),
                               np.diff(post_off).tolist())
        self.n_names = len(self.name_entity)
        # Hot per-entity and per-name values as Python lists: element access on them is ~20x cheaper.
        self.kind_l = self.ent_kind.tolist()
        self.lat_l, self.lon_l = self.ent_lat.tolist(), self.ent_lon.tolist()
        self.importance_l = self.ent_importance.tolist()
        self.addr_off_l = self.ent_addr_off.tolist()
        self.name_entity_l = self.name_entity.tolist()
        self.name_weight_l = self.name_weight.tolist()
        self._name_tok_off_l = self.name_tok_off.tolist()
        self._ctx_off_l = self.ent_ctx_off.tolist()
        self._post_off_l = post_off.tolist()
        self._name_cache: dict[int, tuple[int, ...]] = {}
        self._ctx_cache: dict[int, frozenset[int]] = {}
        self._lock = threading.Lock()
        self._addr_grid: PointGrid | None = self._grid_file("addr")
        self._placenode_grid: PointGrid | None = self._grid_file("placenode")
        self.hn_table = lru_cache(maxsize=16384)(self._hn_table)
        self.word_matches = lru_cache(maxsize=100_000)(lambda text, raw, fuzzy: word_matches(self.lexicon, text, raw, fuzzy))
        if len(self.addr_lat) + len(self.segments) <= WARM_LIMIT:
            self.warm()
        # Larger extracts (built without grid files) build them on first use instead: no background thread here, because
        # gunicorn forks its workers from the process that loaded the data, and a thread caught mid-build
        # would leave its lock held in every worker.
        self.load_seconds = time.perf_counter() - t0

    @classmethod
    def load(cls, directory: str | Path, settings: Settings | None = None) -> AddressIndex:
        return cls(Path(directory), settings or Settings.from_env())

    def summary(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.counts.items() if not isinstance(v, dict)},
                "source": self.manifest.get("source"), "load_seconds": round(self.load_seconds, 3)}

    # --- lazily built structures ------------------------------------------------------------
    def warm(self) -> None:
        """Build what the first requests would otherwise pay for: the nearest-point grids of an index built without
        them, the typo buckets (done at load for small extracts; a server may call it before forking workers so
        they share the result)."""
        _ = self.addr_grid
        with self._lock:
            _ = self.segments.grid
        _ = self.placenode_grid
        self.lexicon.fuzzy("warmup")

    def _grid_file(self, name: str) -> PointGrid | None:
        """The grid the build wrote (memory-mapped), or None (then built in memory on first use)."""
        return PointGrid.load(self.directory, name) if PointGrid.exists(self.directory, name) else None

    @property
    def addr_grid(self) -> PointGrid | None:
        """Address points by ECEF cell, for nearest-address queries (``PointGrid.query``); None: no addresses."""
        if self._addr_grid is None and len(self.addr_lat):
            with self._lock:
                if self._addr_grid is None:
                    self._addr_grid = build_grid(self.directory, "addr")
        return self._addr_grid

    @property
    def placenode_grid(self) -> PointGrid | None:
        """Place nodes by ECEF cell (row ``j`` is ``placenode_entity[j]``); None: no place nodes."""
        if self._placenode_grid is None and len(self.placenode_entity):
            with self._lock:
                if self._placenode_grid is None:
                    self._placenode_grid = build_grid(self.directory, "placenode")
        return self._placenode_grid

    @cached_property
    def areas(self) -> Areas | None:
        """The locality polygons (lds.geocoding.areas), mapped on first use; None when the index has none."""
        areas = Areas(self.directory)
        return areas if len(areas) else None

    # --- accessors ----------------------------------------------------------------------------
    def string(self, i: int) -> str | None:
        return self.strings[int(i)]

    def ent_field(self, e: int, field: str) -> str | None:
        return self.strings[int(self.ent[field][e])]

    def context(self, e: int) -> frozenset[int]:
        """Token ids of the entity's locality names (city, suburb, postcode, country, enclosing areas)."""
        ctx = self._ctx_cache.get(e)
        if ctx is None:
            off = self._ctx_off_l
            ctx = self._ctx_cache[e] = frozenset(self.ent_ctx[off[e] : off[e + 1]].tolist())
        return ctx

    def name_tokens(self, nid: int) -> tuple[int, ...]:
        toks = self._name_cache.get(nid)
        if toks is None:
            off = self._name_tok_off_l
            toks = self._name_cache[nid] = tuple(self.name_tok[off[nid] : off[nid + 1]].tolist())
        return toks

    def postings(self, tid: int, most: int | None = None) -> list[int]:
        a, b = self._post_off_l[tid], self._post_off_l[tid + 1]
        if most is not None:
            b = min(b, a + most)
        return self.tok_post[a:b].tolist()

    def addr_range(self, e: int) -> tuple[int, int]:
        if self.kind_l[e] != KIND_STREET:
            return 0, 0
        return self.addr_off_l[e], self.addr_off_l[e + 1]

    def is_interpolated(self, j: int) -> bool:
        return bool(self.addr_flags[j] & FLAG_INTERPOLATED)

    def _hn_table(self, e: int) -> tuple[dict[str, list[tuple[float, int]]], list[tuple[int, int]]]:
        """Of one street: house-number key -> [(quality, address row)] best first, and the rows' leading
        numbers as sorted (number, row) pairs (for placing a missing number between its neighbours)."""
        a0, a1 = self.addr_range(e)
        table: dict[str, list[tuple[float, int]]] = {}
        numbers: list[tuple[int, int]] = []
        hns = self.addr_hn[a0:a1].tolist()
        flags = self.addr_flags[a0:a1].tolist()
        for j, (s, f) in enumerate(zip(hns, flags)):
            text = self.strings[s] or ""
            for key, q in index_keys(text):
                table.setdefault(key, []).append((q * (0.92 if f & FLAG_INTERPOLATED else 1.0), a0 + j))
            n = main_number(text)
            if n >= 0:
                numbers.append((n, a0 + j))
        for v in table.values():
            v.sort(key=lambda x: -x[0])
        numbers.sort()
        return table, numbers

    @property
    def bbox(self) -> list[float] | None:
        return self.manifest.get("bbox")

    def covers(self, lat: float, lon: float, margin_m: float) -> bool:
        """Whether the point lies in the data's bounding box grown by ``margin_m``."""
        bbox = self.bbox
        if not bbox:
            return False
        dlat = margin_m / 111_195.0
        dlon = dlat / max(0.01, math.cos(math.radians(lat)))
        return bbox[1] - dlat <= lat <= bbox[3] + dlat and bbox[0] - dlon <= lon <= bbox[2] + dlon

    def translate(self, value: str | None, language: str | None) -> str | None:
        if not value or not language:
            return value
        return self.i18n.get(value, {}).get(language, value)

    def country_name(self, code: str | None, language: str | None = None) -> str | None:
        if not code:
            return None
        names = self.countries.get(code)
        if not names:
            return None
        return (language and names.get(f"name:{language}")) or names.get("name")
