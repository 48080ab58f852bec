"""Vector tiles of a source, made in the warehouse: Mapbox Vector Tiles (``ST_AsMVT`` in PostGIS and DuckDB
spatial) or GeoJSON.

One statement per tile: rows whose geometry box meets the tile (plus a buffer) and pass the filters are
counted; when there are more than ``max_features`` of them, they are numbered and every k-th is kept (an
even thinning, not the first rows of the table) and the dropped fraction is reported. Geometries are simplified by half a grid
cell of the tile's zoom before ``ST_AsMVTGeom`` clips and quantises them to the tile grid
(``1024 * tileResolution`` cells, as CARTO's clients define it). A tile with no feature is answered as
empty without encoding anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lds.errors import BadRequest
from lds.maps.layout import Layout
from lds.maps.source import Binder, Source, quote_ident

MAX_TILE_ZOOM = 24
FORMATS = ("mvt", "geojson")
TILE_RESOLUTIONS = (0.25, 0.5, 1.0, 2.0, 4.0)
DEFAULT_TILE_RESOLUTION = 0.5
GRID_AT_RESOLUTION_1 = 1024  # @carto/api-client: tileResolution 1 = a 1024x1024 grid
BUFFER_FRACTION = 1 / 16  # of a tile's width, around it (256 cells of a 4096 grid, PostGIS's default)
LAYER = "default"  # the layer name CARTO's TileJSON announces
MERCATOR_HALF = 20037508.342789244  # half the Web Mercator world's width, metres
MAX_LAT = 85.0511287798066
MVT_TYPE = "application/vnd.mapbox-vector-tile"


@dataclass(frozen=True)
class TileRequest:
    """Which tile, in which format and resolution, with how many features at most."""

    z: int
    x: int
    y: int
    fmt: str = "mvt"
    resolution: float = DEFAULT_TILE_RESOLUTION
    max_features: int = 50_000
    feature_bbox: bool = False

    @property
    def extent(self) -> int:
        return int(GRID_AT_RESOLUTION_1 * self.resolution)


@dataclass(frozen=True)
class Tile:
    """A made tile: its bytes (empty when it has no feature), the features in it, the rows the feature cap
    kept and the rows that met the tile (``kept < total`` only when the tile was thinned)."""

    body: bytes
    content_type: str
    features: int
    kept: int
    total: int

    @property
    def dropped_fraction(self) -> float:
        """The share of the tile's rows the feature cap dropped (not geometries too small for this zoom)."""
        return 0.0 if self.total == 0 else round(1.0 - self.kept / self.total, 6)


def parse_tile(z: Any, x: Any, y: Any) -> tuple[int, int, int]:
    """Tile coordinates, checked: ``0 <= z <= 24`` and ``0 <= x, y < 2**z``."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except (TypeError, ValueError):
        raise BadRequest("tile coordinates z/x/y must be integers") from None
    if not 0 <= zi <= MAX_TILE_ZOOM:
        raise BadRequest(f"tile zoom must be from 0 to {MAX_TILE_ZOOM}, got {zi}")
    if not (0 <= xi < 2**zi and 0 <= yi < 2**zi):
        raise BadRequest(f"tile {zi}/{xi}/{yi} does not exist: x and y must be from 0 to {2**zi - 1} at zoom {zi}")
    return zi, xi, yi


def parse_resolution(value: Any) -> float:
    """``tileResolution`` (0.25, 0.5, 1, 2 or 4; default 0.5)."""
    if value is None or value == "":
        return DEFAULT_TILE_RESOLUTION
    try:
        res = float(value)
    except (TypeError, ValueError):
        res = -1.0
    if res not in TILE_RESOLUTIONS:
        raise BadRequest(f"tileResolution must be one of 0.25, 0.5, 1, 2, 4, got {str(value)[:20]!r}")
    return res


def parse_format(value: Any) -> str:
    """``formatTiles``: ``mvt`` (the default, and what this server's TileJSON asks for) or ``geojson``."""
    if value is None or value == "":
        return "mvt"
    if value not in FORMATS:
        raise BadRequest(
            f"formatTiles must be mvt or geojson, got {str(value)[:20]!r} (CARTO's binary format is "
            "not served: the tiles of this server's TileJSON ask for mvt, which CARTO's clients read)"
        )
    return value


def lonlat_bounds(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """The tile's (west, south, east, north) in degrees, widened by ``margin`` tile widths, clamped to the world."""
    n = 2.0**z

    def lon(px: float) -> float:
        return max(-180.0, min(180.0, px / n * 360.0 - 180.0))

    def lat(py: float) -> float:
        py = max(0.0, min(n, py))
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))

    return lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin)


def _tile_envelope(dialect: str, t: TileRequest) -> str:
    if dialect == "duckdb":
        return f"ST_Extent(ST_TileEnvelope({t.z}, {t.x}, {t.y}))"
    return f"ST_TileEnvelope({t.z}, {t.x}, {t.y})"


def _simplified(geometry: str, t: TileRequest, *, degrees: bool = False) -> str:
    """Simplified by half a grid cell of this zoom, in metres of Web Mercator or in degrees (a point stays as
    it is; one call rather than a CASE on the type, which would evaluate the projection three times)."""
    world = 360.0 if degrees else 2 * MERCATOR_HALF
    tolerance = (world / 2**t.z) / t.extent / 2
    return f"ST_Simplify({geometry}, {tolerance!r})"


def _bbox_prop(dialect: str, geometry: str) -> str:
    """``_carto_bbox`` "w,s,e,n" of a polygon's whole (unclipped) geometry, for labels across tiles."""
    parts = [f"ST_XMin({geometry})", f"ST_YMin({geometry})", f"ST_XMax({geometry})", f"ST_YMax({geometry})"]
    if dialect == "duckdb":
        joined = " || ',' || ".join(f"CAST({p} AS VARCHAR)" for p in parts)
    else:
        joined = "concat_ws(',', " + ", ".join(parts) + ")"
    return f"CASE WHEN ST_Dimension({geometry}) = 2 THEN {joined} END"


def tile_sql(source: Source, layout: Layout, t: TileRequest, where: str | None) -> str:
    """The statement of one tile. MVT: one row ``(body, features, kept, total)``: the features encoded
    (geometries that vanish at this zoom are not), the rows the thinning kept, the rows that met the tile.
    GeoJSON: one row per kept feature ``(geometry, properties..., total)``.

    The rows meeting the tile are counted first; only when there are more than ``max_features`` does the
    other branch number them (a window over the tile's rows) to keep every k-th: a tile under the cap costs
    a count and a plain scan.
    """
    d = source.dialect
    w, s, e, n = lonlat_bounds(t.z, t.x, t.y, BUFFER_FRACTION)
    cond = " AND ".join([layout.bbox_test(d, w, s, e, n)] + ([f"({where})"] if where else []))
    src = source.from_sql()
    cap = t.max_features
    props = [f"{p.sql} AS {quote_ident(p.name)}" for p in layout.props]
    if t.feature_bbox:
        props.append(f"{_bbox_prop(d, layout.geometry)} AS {quote_ident('_carto_bbox')}")
    names = "".join(f", {quote_ident(p.name)}" for p in layout.props) + (', "_carto_bbox"' if t.feature_bbox else "")
    selected = ", ".join([f'{layout.geometry} AS "__lds_r"', *props])
    total = '(SELECT n FROM "__lds_t")'
    stride = f"CAST(ceil({total} / {float(cap)!r}) AS BIGINT)"
    if d == "duckdb":  # no index to count with: one scan, its rows held once, counted and read from there
        scan = f'WITH "__lds_m" AS MATERIALIZED (SELECT {selected} FROM {src} WHERE {cond}), '
        scan += '"__lds_t" AS (SELECT count(*) AS n FROM "__lds_m"), '
        selected, src, cond = '"__lds_r"' + names, '"__lds_m"', "TRUE"
    else:  # PostgreSQL counts through the spatial index, then reads the rows
        scan = f'WITH "__lds_t" AS (SELECT count(*) AS n FROM {src} WHERE {cond}), '
    rows = (
        f"SELECT {selected} FROM {src} WHERE {cond} AND {total} <= {cap} "
        f'UNION ALL SELECT "__lds_r"{names} FROM (SELECT {selected}, row_number() OVER () AS "__lds_n" '
        f"FROM {src} WHERE {cond} AND {total} > {cap}) thinned "
        f'WHERE ("__lds_n" - 1) % {stride} = 0'
    )
    # our names start with __lds_, so a source's own table or column t, r or k is never shadowed
    head = f'{scan}"__lds_rows" AS ({rows})'
    if t.fmt == "geojson":
        g = _simplified('"__lds_r"', t, degrees=True)
        return f'{head} SELECT {g} AS "__lds_geom"{names}, {total} FROM "__lds_rows"'
    g = _simplified(layout.mercator('"__lds_r"', d), t)
    geom = f"ST_AsMVTGeom({g}, {_tile_envelope(d, t)}, {t.extent}, {int(t.extent * BUFFER_FRACTION)}, true)"
    mvt = f"ST_AsMVT(\"__lds_k\", '{LAYER}', {t.extent}, '__lds_geom')"
    return (
        f'{head}, "__lds_k" AS (SELECT {geom} AS "__lds_geom"{names} FROM "__lds_rows") '
        f'SELECT {mvt} FILTER (WHERE "__lds_geom" IS NOT NULL), count("__lds_geom"), count(*), {total} '
        f'FROM "__lds_k"'
    )


def make_tile(
    source: Source,
    layout: Layout,
    t: TileRequest,
    *,
    timeout_s: float | None,
    where: Callable[[Binder], str | None] | None = None,
) -> Tile:
    """One tile of ``source``; ``where`` builds the filters' condition with the statement's binder."""
    bind = source.binder()
    condition = where(bind) if where is not None else None
    sql = tile_sql(source, layout, t, condition)
    if t.fmt == "geojson":
        return _geojson_tile(source, layout, t, sql, bind.params, timeout_s)
    with source.run(sql, bind.params, timeout_s=timeout_s) as q:
        rows = list(q.rows())
    body, features, kept, total = rows[0] if rows else (None, 0, 0, 0)
    if not features:
        return Tile(b"", MVT_TYPE, 0, int(kept or 0), int(total or 0))
    if isinstance(body, str):  # the warehouse layer hands binary values over as hex
        body = bytes.fromhex(body)
    return Tile(bytes(body), MVT_TYPE, int(features), int(kept), int(total))


def _geojson_tile(
    source: Source, layout: Layout, t: TileRequest, sql: str, params: Any, timeout_s: float | None
) -> Tile:
    names = [p.name for p in layout.props] + (["_carto_bbox"] if t.feature_bbox else [])
    features: list[str] = []
    total = kept = 0
    with source.run(sql, params, timeout_s=timeout_s) as q:
        for batch in q.batches():
            for row in batch:
                geometry, values, total = row[0], row[1:-1], row[-1]
                kept += 1
                if geometry is None:
                    continue
                props = json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False, default=str)
                features.append(f'{{"type":"Feature","geometry":{geometry},"properties":{props}}}')
    if not features:
        return Tile(b"", "application/geo+json", 0, kept, int(total or 0))
    body = '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
    return Tile(body.encode(), "application/geo+json", len(features), kept, int(total))
