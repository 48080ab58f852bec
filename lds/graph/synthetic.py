"""Synthetic grid road graphs with the same arrays as a built extract, for tests with known geometry and for
scaling benchmarks (a million-node graph without a country-sized download)."""

from __future__ import annotations

import numpy as np

from lds.build.roads import ModeGraph
from lds.formats import CLASS_INDEX
from lds.geo import EARTH_RADIUS_M


def grid_graph(nx: int, ny: int, spacing_m: float = 100.0, arterial_every: int = 10, mode: str = "car",
               origin: tuple[float, float] = (8.0, 49.0), trunk_every: int = 0, jitter: float = 0.0,
               seed: int = 0) -> ModeGraph:
    """An ``nx`` x ``ny`` grid of two-way streets ``spacing_m`` apart; every ``arterial_every``-th row and column
    is a 50 km/h primary road, every ``trunk_every``-th (when > 0) a 90 km/h trunk road, the rest 25 km/h
    residential ones; ``jitter`` varies each segment's speed by up to that fraction (seeded), as real roads vary.
    Rows are ways ``1..ny`` named "Row i", columns ways ``ny+1..`` named "Column j"; node ``(i, j)`` (row i,
    column j) has index ``i * nx + j``."""
    lon0, lat0 = origin
    dlat = np.degrees(spacing_m / EARTH_RADIUS_M)
    dlon = dlat / np.cos(np.radians(lat0))
    n = nx * ny
    jj, ii = np.meshgrid(np.arange(nx), np.arange(ny))
    node_lon = (lon0 + jj * dlon).ravel()
    node_lat = (lat0 + ii * dlat).ravel()
    ids = np.arange(n, dtype=np.int64).reshape(ny, nx)
    # Horizontal segments (along rows) then vertical ones (along columns).
    h_a, h_b = ids[:, :-1].ravel(), ids[:, 1:].ravel()
    v_a, v_b = ids[:-1, :].ravel(), ids[1:, :].ravel()
    seg_a = np.concatenate([h_a, v_a])
    seg_b = np.concatenate([h_b, v_b])
    h_row = np.repeat(np.arange(ny), nx - 1)
    v_col = np.tile(np.arange(nx), ny - 1)
    seg_way = np.concatenate([1 + h_row, 1 + ny + v_col]).astype(np.int64)
    line = np.concatenate([h_row, v_col])
    arterial = line % arterial_every == 0
    trunk = (line % trunk_every == 0) if trunk_every > 0 else np.zeros(len(line), dtype=bool)
    m = len(seg_a)
    src = np.concatenate([seg_a, seg_b]).astype(np.int32)
    dst = np.concatenate([seg_b, seg_a]).astype(np.int32)
    rev = np.concatenate([np.arange(m, 2 * m), np.arange(m)]).astype(np.int32)
    way = np.concatenate([seg_way, seg_way])
    art = np.concatenate([arterial, arterial])
    fast = np.concatenate([trunk, trunk])
    seg_speed = np.where(trunk, 90.0, np.where(arterial, 50.0, 25.0))
    if jitter > 0:
        seg_speed = seg_speed * (1 + np.random.default_rng(seed).uniform(-jitter, jitter, m))
    speed = np.concatenate([seg_speed, seg_speed]) / 3.6
    length = np.full(2 * m, spacing_m, dtype=np.float32)
    time = (length / speed).astype(np.float32)
    names = [""] + [f"Row {i}" for i in range(ny)] + [f"Column {j}" for j in range(nx)]
    cls = np.where(fast, CLASS_INDEX["trunk"], np.where(art, CLASS_INDEX["primary"], CLASS_INDEX["residential"]))
    cls = cls.astype(np.int8)
    geom_idx = np.column_stack([src, dst]).ravel()
    arrays = {
        "node_osm": np.arange(1, n + 1, dtype=np.int64),
        "node_lon": node_lon, "node_lat": node_lat,
        "node_scc": np.zeros(n, dtype=np.int32),
        "edge_src": src, "edge_dst": dst, "edge_length": length, "edge_time": time, "edge_weight": time,
        "edge_rev": rev, "edge_way": way, "edge_name": way.astype(np.int32), "edge_class": cls,
        "edge_flags": np.zeros(2 * m, dtype=np.uint8),
        "edge_geom_off": np.arange(0, 4 * m + 1, 2, dtype=np.int64),
        "geom_lon": node_lon[geom_idx], "geom_lat": node_lat[geom_idx],
        "geom_osm": geom_idx.astype(np.int64) + 1,
        "largest_scc": np.array([0], dtype=np.int32),
    }
    return ModeGraph(mode, arrays, names)
