"""A small table of H3 and quadbin cells the cell-source tests (Python and Node) share: 600 points, 500 over
Monaco and 100 over Copenhagen, each with its H3 cell at resolution 9 (hex string and integer) and its quadbin
cell at zoom 17, computed here with the `h3` package and the tile formula, independently of the warehouse."""

from __future__ import annotations

import math
import random

import h3

H3_RES = 9
QUADBIN_RES = 17
COLUMNS = ("id", "pop", "kind", "h3", "h3int", "quadbin")


def quadbin_of(lon: float, lat: float, z: int) -> int:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    morton = 0
    for i in range(z):
        morton |= ((x >> i) & 1) << (2 * i) | ((y >> i) & 1) << (2 * i + 1)
    return 0x4000000000000000 | (1 << 59) | (z << 52) | (morton << (52 - 2 * z)) | ((1 << (52 - 2 * z)) - 1)


def rows() -> list[tuple]:
    rnd = random.Random(12)
    out = []
    for i in range(600):
        lon, lat = (7.41 + rnd.random() * 0.02, 43.725 + rnd.random() * 0.02) if i < 500 else (12.55, 55.67)
        if i >= 500:
            lon, lat = lon + rnd.random() * 0.05, lat + rnd.random() * 0.03
        cell = h3.latlng_to_cell(lat, lon, H3_RES)
        q = quadbin_of(lon, lat, QUADBIN_RES)
        out.append((i, 1 + i % 7, ("a", "b", "c")[i % 3], cell, h3.str_to_int(cell), q, lon, lat))
    return out


ROWS = rows()


def values_sql() -> str:
    return ", ".join(f"({i}, {p}, '{k}', '{c}', {ci}, {q})" for i, p, k, c, ci, q, _, _ in ROWS)


DW_SETUP = (
    "CREATE OR REPLACE TABLE cells AS SELECT * FROM (VALUES " + values_sql() + ") t(id, pop, kind, h3, h3int, quadbin)"
)
PG_SETUP = (
    "CREATE TABLE cells (id int, pop int, kind text, h3 text, h3int bigint, quadbin bigint)",
    "INSERT INTO cells VALUES " + values_sql(),
)


def parent_of(kind: str, row: tuple, res: int) -> int:
    """A row's cell at a coarser resolution, by the `h3` package or the tile formula (not lds's bit arithmetic)."""
    if kind == "quadbin":
        return quadbin_of(row[6], row[7], res)
    return h3.str_to_int(h3.cell_to_parent(row[3], res))


def expected(kind: str, tile: int, tile_res: int, group_res: int, keep=lambda r: True) -> dict[int, tuple[int, int]]:
    """{group cell: (sum of pop, count)} of the rows inside ``tile``, grouped at ``group_res``."""
    out: dict[int, tuple[int, int]] = {}
    for r in ROWS:
        if keep(r) and parent_of(kind, r, tile_res) == tile:
            g = parent_of(kind, r, group_res)
            s, n = out.get(g, (0, 0))
            out[g] = (s + r[1], n + 1)
    return out
