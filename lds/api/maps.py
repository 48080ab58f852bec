"""Maps API (CARTO §3): ``GET|POST /v3/maps/<connection>/<table|query>`` (instantiation, or TileJSON with
``format=tilejson``) and ``GET /v3/maps/<connection>/<table|query>/<z>/<x>/<y>`` (tiles). The auth hook has
already required ``maps`` in the token's ``allowed_apis``; the work is in :mod:`lds.maps`.

Parameters come from the query string (``queryParameters`` and ``filters`` JSON-encoded) merged with a JSON
body (JSON values), as ``@carto/api-client`` switches to POST for long URLs; unknown ones (``client``, ``v``,
tags) are ignored. The URLs of the answers carry the source parameters again, so tiles can be fetched with a
plain GET; they start at ``public_url``, or where the request came in when it is unset (CARTO's clients
need absolute URLs). Answers are cached under the warehouse's data version and revalidate with an ETag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request

from lds import params as v
from lds.api.access import current_principal
from lds.api.connections import current_connections
from lds.api.params import request_params
from lds.cache import current_outcome
from lds.errors import BadRequest, NotFound
from lds.maps import cells
from lds.maps import filters as f
from lds.maps import tilejson as tj
from lds.maps.cache import cached_json, cached_tile, data_version, maps_key
from lds.maps.cellindex import SCHEMES, parse_cell
from lds.maps.layout import layout_of
from lds.maps.packing import PACK_ABOVE, pack, unpack
from lds.maps.source import KINDS, Binder, Source, open_source
from lds.maps.tiles import TileRequest, make_tile, parse_format, parse_resolution, parse_tile

bp = Blueprint("maps", __name__)

# the parameters that name a source and its filters: carried into the data and tile URLs
_SOURCE_PARAMS = (
    "name",
    "q",
    "queryParameters",
    "columns",
    "spatialDataColumn",
    "spatialDataType",
    "filters",
    "filtersLogicalOperator",
    "tileResolution",
    "featureBbox",
    "aggregationExp",
    "aggregationResLevel",
)
_JSON_PARAMS = ("queryParameters", "filters")


class _Request:
    """One Maps request's parsed parameters, source and filters."""

    def __init__(self, connection: str, kind: str):
        raw = request_params()  # the body first: a malformed one is a 4xx of its own whatever the path
        if kind not in KINDS:
            if kind == "tileset":
                raise NotFound("tileset sources are not served: this server makes tiles from tables and queries")
            raise NotFound(f"no such Maps source type {kind[:40]!r}: use table or query")
        settings = current_app.extensions["lds_settings"]
        self.settings = settings
        self.connection, self.kind = connection, kind
        if "geo_column" in raw:
            raise BadRequest(
                "geo_column is a legacy parameter (refused since v=3.3): use spatialDataColumn and spatialDataType"
            )
        if "src" in raw:  # the source parameters of one of our URLs, packed (lds.maps.packing)
            packed = unpack(raw["src"], max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
            raw = {**{k: val for k, val in raw.items() if k not in _SOURCE_PARAMS}, **packed}
        params: dict[str, Any] = {}
        for name in _SOURCE_PARAMS:
            value = raw.get(name)
            if name in _JSON_PARAMS:
                value = f.decode_json_param(value, name, encoded=True, max_depth=settings.max_json_depth)
            if value is not None and value != "":
                params[name] = value
        self.params = params
        self.format = raw.get("format")
        self.resolution = parse_resolution(params.get("tileResolution"))
        self.feature_bbox = v.boolean("featureBbox", params.get("featureBbox"))
        self.filters = params.get("filters")
        self.operator = params.get("filtersLogicalOperator")
        if self.filters is not None or self.operator is not None:  # refused now, not at the first tile
            f.filters_sql(
                self.filters,
                Binder(),
                dialect="duckdb",
                logical_operator=self.operator,
                max_values=settings.filter_max_values,
            )
        record, warehouse = current_connections().warehouse(connection)
        principal = current_principal()
        self.grants = None if principal is None or principal.is_admin else list(principal.grants)
        self.caller = None if principal is None else [principal.id, self.grants]
        text = params.get("name") if kind == "table" else params.get("q")
        if kind == "table" and "q" in params and "name" not in params:
            raise BadRequest("a table source takes 'name' (the table), not 'q'")
        self.source: Source = open_source(
            record,
            warehouse,
            kind,
            text,
            params=params.get("queryParameters"),
            grants=self.grants,
            spatial_column=params.get("spatialDataColumn"),
            spatial_type=params.get("spatialDataType"),
            columns=params.get("columns"),
            caller=self.caller,
            max_chars=settings.sql_token_max_chars,
        )
        reuse = settings.maps_postgres_version_s if warehouse.provider == "postgres" else 0.0
        self.version = data_version(warehouse, reuse)
        self.store = current_app.extensions["lds"].store
        self.prefix = settings.redis_prefix

    def where(self, bind: Binder) -> str | None:
        return f.filters_sql(
            self.filters,
            bind,
            dialect=self.source.dialect,
            logical_operator=self.operator,
            max_values=self.settings.filter_max_values,
        )

    def digest(self, *extra: Any) -> str:
        """Names an answer: the source, its data version, the filters. Not the caller: the grant check runs on
        every request before the cache is asked, so tokens that may read a source share its cached answers."""
        return self.source.identity(self.version, self.filters, self.operator, *extra)

    def layout(self):
        return layout_of(self.source, self.version, timeout_s=self.settings.maps_timeout_s)

    @property
    def is_cells(self) -> bool:
        """An h3 or quadbin source: tiles of aggregated cells (:mod:`lds.maps.cells`)."""
        return self.source.spatial_type in SCHEMES

    def cells(self) -> tuple[cells.CellLayout, int, str]:
        """A cell source's layout, ``aggregationResLevel`` and checked ``aggregationExp``."""
        level = cells.parse_res_level(self.params.get("aggregationResLevel"), self.source.spatial_type)
        aggregation = cells.aggregation_sql(
            self.source,
            self.params.get("aggregationExp"),
            grants=self.grants,
            max_chars=self.settings.sql_token_max_chars,
        )
        layout = cells.cell_layout(self.source, self.version, timeout_s=self.settings.maps_timeout_s)
        return layout, level, aggregation

    def base(self) -> str:
        root = self.settings.public_url or request.host_url
        return f"{root.rstrip('/')}/v3/maps/{quote(self.connection, safe='')}/{self.kind}"

    def query_string(self, **extra: Any) -> str:
        """The source parameters for our URLs (packed into ``src`` when long), then ``extra``."""
        items = {
            k: (json.dumps(val, ensure_ascii=False) if k in _JSON_PARAMS else val) for k, val in self.params.items()
        }
        text = urlencode(items, quote_via=quote)
        if len(text) > PACK_ABOVE:
            text = urlencode({"src": pack(self.params)})
        return "&".join(p for p in (text, urlencode(extra, quote_via=quote)) if p)


def _hit(hit: bool) -> None:
    outcome = current_outcome()
    if outcome is not None:
        if hit:
            outcome.hits += 1
        else:
            outcome.misses += 1


def _revalidated(etag: str, max_age: int) -> Response | None:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        response.headers["Cache-Control"] = f"private, max-age={max_age}"
        return response
    return None


def _json_answer(value: dict[str, Any], etag: str, max_age: int) -> Response:
    response = Response(json.dumps(value, ensure_ascii=False, allow_nan=False), mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={max_age}"
    return response


def _source_answer(r: _Request, kind: str, digest: str, make: Callable[[], dict[str, Any]], links: dict) -> Response:
    """A cached JSON answer about the source (instantiation or TileJSON) plus its ``links`` (URLs, never
    cached), with an ETag over the digest and those URLs."""
    max_age = r.settings.maps_cache_max_age_s
    etag = hashlib.sha256((digest + r.base() + r.query_string()).encode()).hexdigest()[:32]  # the URLs in it
    found = _revalidated(etag, max_age)
    if found is not None:
        return found
    value, hit = cached_json(r.store, maps_key(r.prefix, kind, digest), make)
    _hit(hit)
    return _json_answer({**value, **links}, etag, max_age)


@bp.route("/v3/maps/<connection>/<kind>", methods=["GET", "POST"])
def maps_source(connection: str, kind: str):
    r = _Request(connection, kind)
    timeout = r.settings.maps_timeout_s
    buster = tj.cache_buster(r.source, r.version, r.filters, r.operator)
    if r.format not in (None, "", "tilejson"):
        raise BadRequest(f"format must be tilejson (or absent for the instantiation), got {str(r.format)[:20]!r}")
    if r.is_cells:
        return _cells_source(r, buster)
    if r.format == "tilejson":
        tiles = f"{r.base()}/{{z}}/{{x}}/{{y}}?{r.query_string(cache=buster, formatTiles='mvt')}"
        return _source_answer(
            r,
            "tilejson",
            r.digest("tilejson", r.resolution, r.settings.maps_max_zoom),
            lambda: tj.tilejson(
                r.source,
                r.layout(),
                where=r.where,
                timeout_s=timeout,
                max_zoom=r.settings.maps_max_zoom,
                resolution=r.resolution,
            ),
            {"tiles": [tiles]},
        )
    url = f"{r.base()}?{r.query_string(format='tilejson', cache=buster)}"
    return _source_answer(
        r,
        "instantiation",
        r.digest("instantiation"),
        lambda: tj.instantiation(r.source, r.layout(), where=r.where, timeout_s=timeout),
        {"tilejson": {"url": [url]}},
    )


@bp.get("/v3/maps/<connection>/<kind>/<z>/<x>/<y>")
def maps_tile(connection: str, kind: str, z: str, x: str, y: str):
    zi, xi, yi = parse_tile(z, x, y)
    fmt = parse_format(request.args.get("formatTiles"))
    r = _Request(connection, kind)
    s = r.settings
    t = TileRequest(
        zi, xi, yi, fmt=fmt, resolution=r.resolution, max_features=s.maps_tile_max_features, feature_bbox=r.feature_bbox
    )
    digest = r.digest("tile", zi, xi, yi, fmt, r.resolution, s.maps_tile_max_features, r.feature_bbox)
    return _tile_answer(
        r, digest, lambda: make_tile(r.source, r.layout(), t, timeout_s=s.maps_timeout_s, where=r.where)
    )


def _tile_answer(r: _Request, digest: str, make: Callable[[], Any]) -> Response:
    """A tile from the answer cache or ``make()``: 204 when empty, ETag (304 on a match), Cache-Control."""
    s = r.settings
    etag = hashlib.sha256(digest.encode()).hexdigest()[:32]
    found = _revalidated(etag, s.maps_cache_max_age_s)
    if found is not None:
        return found
    tile, hit = cached_tile(r.store, maps_key(r.prefix, "tile", digest), make, s.maps_cache_max_tile_bytes)
    _hit(hit)
    if not tile.features:
        response = Response(status=204)
    else:
        response = Response(tile.body, content_type=tile.content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={s.maps_cache_max_age_s}"
    response.headers["X-LDS-Features"] = str(tile.features)
    response.headers["X-LDS-Dropped-Fraction"] = f"{tile.dropped_fraction:g}"
    return response


def _cells_source(r: _Request, buster: int) -> Response:
    """The instantiation or TileJSON of an h3/quadbin source; its tiles are ``.../{i}``, one cell each."""
    s = r.settings
    layout, level, aggregation = r.cells()
    if r.format != "tilejson":
        url = f"{r.base()}?{r.query_string(format='tilejson', cache=buster)}"
        return _source_answer(
            r,
            "cells-instantiation",
            r.digest("cells-instantiation"),
            lambda: cells.instantiation(r.source, layout, where=r.where, timeout_s=s.maps_timeout_s),
            {"tilejson": {"url": [url]}},
        )
    tiles = f"{r.base()}/{{i}}?{r.query_string(cache=buster, formatTiles='binary')}"
    return _source_answer(
        r,
        "cells-tilejson",
        r.digest("cells-tilejson", level, aggregation, r.resolution, s.maps_max_zoom),
        lambda: cells.tilejson(
            r.source,
            layout,
            level=level,
            aggregation=aggregation,
            where=r.where,
            timeout_s=s.maps_timeout_s,
            max_zoom=s.maps_max_zoom,
            resolution=r.resolution,
        ),
        {"tiles": [tiles]},
    )


@bp.get("/v3/maps/<connection>/<kind>/<index>")
def maps_cell_tile(connection: str, kind: str, index: str):
    """A tile of an h3/quadbin source, named by one cell (the TileJSON's ``{i}``, the cell's hex id)."""
    fmt = cells.parse_cell_format(request.args.get("formatTiles"))
    r = _Request(connection, kind)
    if not r.is_cells:
        raise BadRequest("tiles named by one cell are for spatialDataType h3 or quadbin; use /{z}/{x}/{y}")
    tile_cell = parse_cell(SCHEMES[r.source.spatial_type], index)
    s = r.settings
    layout, level, aggregation = r.cells()
    digest = r.digest("cell-tile", tile_cell, fmt, level, aggregation, s.maps_tile_max_features)
    return _tile_answer(
        r,
        digest,
        lambda: cells.make_cell_tile(
            r.source,
            layout,
            tile_cell,
            level=level,
            aggregation=aggregation,
            fmt=fmt,
            timeout_s=s.maps_timeout_s,
            max_cells=s.maps_tile_max_features,
            where=r.where,
        ),
    )
