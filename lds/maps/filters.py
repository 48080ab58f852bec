"""CARTO's ``filters``, ``filtersLogicalOperator`` and ``spatialFilters`` as one SQL boolean expression.

Maps (tiles, TileJSON) and the SQL Model API (widgets) send the same filter objects (``@carto/api-client``'s
``Filters`` type): ``{"<column>": {"in": {"values": [...]}, "between": {"values": [[a, b], ...]}, ...}}``.
Every value is bound through the source's :class:`lds.maps.source.Binder` (placeholders after the caller's
own ``queryParameters``), never spliced; column names are quoted (:func:`lds.maps.source.quote_ident`).
The semantics follow the client's own local filtering (``src/filters/FilterTypes.ts``), so a widget
computed here matches one the client computes in the browser:

- ``in``: the value is one of ``values``; ``between`` ``[a, b]`` and ``closed_open`` ``[a, b)`` intervals,
  any of several, ``null`` ends unbounded; ``time``: ``between`` over the column as epoch milliseconds;
  ``stringSearch``: any of ``values`` as a substring (``mustStart``/``mustEnd`` anchor it, ``useRegExp`` takes
  them as regular expressions, case-insensitive unless ``caseSensitive``, accents ignored on both sides unless
  ``keepSpecialCharacters``).
- Several filter types on one column must all hold; columns combine with ``filtersLogicalOperator``
  (``and``, the default, or ``or``). A NULL value passes no filter.
- ``spatialFilters`` ``{"<column>": <GeoJSON Polygon or MultiPolygon>}`` keep rows whose geometry intersects
  the polygon (clipped to the world's lon/lat bounds, as a wrapped web-map viewport can pass them), or
  ``{"indexes": [...], "type": "h3"|"h3int"|"quadbin"}`` keeps rows whose cell is one of ``indexes``; on an
  h3/quadbin source a polygon keeps the cells that meet it (covered with cells at the data's resolution).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

from lds import inputs
from lds.errors import BadRequest
from lds.maps.source import Binder, quote_ident

FILTER_TYPES = ("in", "between", "closed_open", "time", "stringSearch")
STRING_SEARCH_OPTIONS = ("useRegExp", "mustStart", "mustEnd", "caseSensitive", "keepSpecialCharacters")
DEFAULT_MAX_VALUES = 10_000  # default of setting filter_max_values
_WORLD = box(-180.0, -90.0, 180.0, 90.0)
_REGEX_SPECIAL = re.compile(r"[.*+?^${}()|\[\]\\]")  # the client's own escape set (FilterTypes.ts)


def decode_json_param(value: Any, name: str, *, encoded: bool, max_depth: int = 64) -> Any:
    """A parameter that GET sends JSON-encoded and a POST body as a JSON value; '' and null mean absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if encoded and isinstance(value, str):
        try:
            return inputs.decode_json(value.encode("utf-8", "surrogatepass"), max_depth)
        except BadRequest as exc:
            raise BadRequest(f"{name} must be JSON: {exc.message}") from None
    return value


def _number(value: Any, where: str, *, nullable: bool = False) -> float | int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{where} must be {'a number or null' if nullable else 'a number'}")
    if isinstance(value, int) and abs(value) > 2**63 - 1:
        raise BadRequest(f"{where} is out of range")
    return value


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return _number(value, where)
    if isinstance(value, str):
        return value
    raise BadRequest(f"{where} must be strings, numbers or booleans")


class _Budget:
    """Counts bound values across one request's filters (setting ``filter_max_values``)."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise BadRequest(f"the filters hold more than {self.limit} values (setting filter_max_values)")


def _values(spec: Any, where: str) -> list[Any]:
    if not isinstance(spec, Mapping):
        raise BadRequest(f"{where} must be an object with 'values'")
    values = spec.get("values")
    if not isinstance(values, list):
        raise BadRequest(f"{where}.values must be an array")
    return values


def _intervals(col: str, values: list[Any], where: str, bind: Binder, upper_op: str, budget: _Budget) -> str:
    """``col`` in any of the ``[a, b]`` intervals (``upper_op`` '<=' or '<'); a null end is unbounded."""
    budget.take(2 * len(values))
    parts = []
    for i, pair in enumerate(values):
        if not isinstance(pair, list) or len(pair) != 2:
            raise BadRequest(f"{where}.values[{i}] must be a [from, to] pair")
        lo = _number(pair[0], f"{where}.values[{i}][0]", nullable=True)
        hi = _number(pair[1], f"{where}.values[{i}][1]", nullable=True)
        conds = []
        if lo is not None:
            conds.append(f"{col} >= {bind(lo)}")
        if hi is not None:
            conds.append(f"{col} {upper_op} {bind(hi)}")
        parts.append(" AND ".join(conds) if conds else f"{col} IS NOT NULL")
    return _any(parts)


def _any(parts: list[str]) -> str:
    if not parts:
        return "FALSE"
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(f"({p})" for p in parts) + ")"


def strip_accents(text: str) -> str:
    """``text`` without combining marks (the client's NFD + ``\\p{Diacritic}`` removal, close enough)."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def _string_search(col: str, spec: Any, where: str, bind: Binder, dialect: str, budget: _Budget) -> str:
    values = _values(spec, where)
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise BadRequest(f"{where}.params must be an object")
    opts = {k: bool(params.get(k)) for k in STRING_SEARCH_OPTIONS}
    budget.take(1)
    patterns = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise BadRequest(f"{where}.values[{i}] must be a string")
        if opts["useRegExp"]:
            patterns.append(value)
            continue
        text = value if opts["keepSpecialCharacters"] else strip_accents(value)
        pattern = _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
        patterns.append(("^" if opts["mustStart"] else "") + pattern + ("$" if opts["mustEnd"] else ""))
    if not patterns:
        return f"{col} IS NOT NULL"  # the client's empty pattern matches every value
    pattern = bind("|".join(patterns))
    if dialect == "postgres":
        text = f"CAST({col} AS text)"
        if not opts["keepSpecialCharacters"]:
            text = f"regexp_replace(normalize({text}, NFD), '[\\u0300-\\u036f]', '', 'g')"
        return f"{text} {'~' if opts['caseSensitive'] else '~*'} CAST({pattern} AS text)"
    text = f"CAST({col} AS VARCHAR)"
    if not opts["keepSpecialCharacters"]:
        text = f"strip_accents({text})"
    return f"regexp_matches({text}, {pattern}, '{'c' if opts['caseSensitive'] else 'i'}')"


def _column_filter(column: str, spec: Any, bind: Binder, dialect: str, budget: _Budget) -> str:
    col = quote_ident(column)
    if not isinstance(spec, Mapping) or not spec:
        raise BadRequest(f"filters.{column} must be an object of filter types ({', '.join(FILTER_TYPES)})")
    conds = []
    for kind, body in spec.items():
        where = f"filters.{column}.{kind}"
        if kind == "in":
            values = _values(body, where)
            budget.take(len(values))
            placeholders = [bind(_scalar(v, where + ".values")) for v in values]
            conds.append(f"{col} IN ({', '.join(placeholders)})" if placeholders else "FALSE")
        elif kind == "between":
            conds.append(_intervals(col, _values(body, where), where, bind, "<=", budget))
        elif kind == "closed_open":
            conds.append(_intervals(col, _values(body, where), where, bind, "<", budget))
        elif kind == "time":
            epoch_ms = f"(EXTRACT(EPOCH FROM {col}) * 1000)"
            conds.append(_intervals(epoch_ms, _values(body, where), where, bind, "<=", budget))
        elif kind == "stringSearch":
            conds.append(_string_search(col, body, where, bind, dialect, budget))
        else:
            raise BadRequest(
                f"unknown filter type {str(kind)[:40]!r} on column {column[:40]!r}: use {', '.join(FILTER_TYPES)}"
            )
    return conds[0] if len(conds) == 1 else " AND ".join(f"({c})" for c in conds)


def filters_sql(
    filters: Any, bind: Binder, *, dialect: str, logical_operator: Any = "and", max_values: int = DEFAULT_MAX_VALUES
) -> str | None:
    """The condition of CARTO ``filters`` (None when there are none); values bound through ``bind``."""
    if filters is None:
        return None
    if not isinstance(filters, Mapping):
        raise BadRequest("filters must be an object: {column: {filterType: {values: [...]}}}")
    op = "and" if logical_operator in (None, "") else logical_operator
    if op not in ("and", "or"):
        raise BadRequest("filtersLogicalOperator must be 'and' or 'or'")
    budget = _Budget(max_values)
    conds = [_column_filter(column, spec, bind, dialect, budget) for column, spec in filters.items()]
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else f" {op.upper()} ".join(f"({c})" for c in conds)


def _polygon_geojson(value: Mapping[str, Any], where: str, max_vertices: int) -> str | None:
    """The polygon as GeoJSON text, validated and clipped to the world; None when nothing of it is left."""
    geom = _polygon(value, where, max_vertices)
    return None if geom is None else json.dumps(mapping(geom))


def _polygon(value: Mapping[str, Any], where: str, max_vertices: int) -> BaseGeometry | None:
    """The polygon validated and clipped to the world; None when nothing of it is left."""
    if value.get("type") == "Feature":
        value = value.get("geometry") or {}
    if not isinstance(value, Mapping) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise BadRequest(f"{where} must be a GeoJSON Polygon or MultiPolygon")
    try:
        geom = shape(value)
        count = shapely.get_num_coordinates(geom)
    except Exception:  # noqa: BLE001 - any malformed coordinate array is the client's error
        raise BadRequest(f"{where} is not a valid GeoJSON polygon") from None
    if count > max_vertices:
        raise BadRequest(f"{where} has more than {max_vertices} vertices (setting filter_max_values)")
    if not geom.is_empty and not all(math.isfinite(b) for b in geom.bounds):
        raise BadRequest(f"{where} has coordinates that are not finite numbers")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    geom = geom.intersection(_WORLD)
    return None if geom.is_empty else geom


def _index_filter(col: str, value: Mapping[str, Any], where: str, bind: Binder, budget: _Budget) -> str:
    indexes, kind = value.get("indexes"), value.get("type")
    if kind not in ("h3", "h3int", "quadbin") or not isinstance(indexes, list):
        raise BadRequest(f"{where} must be {{'indexes': [...], 'type': 'h3'|'h3int'|'quadbin'}}")
    budget.take(len(indexes))
    bound = []
    for i, index in enumerate(indexes):
        if kind == "h3" and isinstance(index, str) and re.fullmatch(r"[0-9a-fA-F]{15,16}", index):
            bound.append(bind(index.lower()))
        elif (
            kind != "h3"
            and isinstance(index, (str, int))
            and not isinstance(index, bool)
            and re.fullmatch(r"[0-9]{1,20}", str(index))
            and int(index) < 2**64
        ):
            bound.append(bind(int(index)))
        else:
            raise BadRequest(f"{where}.indexes[{i}] is not a {kind} cell id")
    return f"{col} IN ({', '.join(bound)})" if bound else "FALSE"


def _cells_in_polygon(
    value: Mapping[str, Any],
    where: str,
    bind: Binder,
    budget: _Budget,
    spatial_data_type: Any,
    cells: Callable[[], tuple[str, int, Any]] | None,
    mode: Any,
) -> str:
    from lds.maps.cellindex import SCHEMES, polygon_ranges

    scheme = SCHEMES.get(spatial_data_type)
    if scheme is None or cells is None:
        raise BadRequest(
            f"a polygon spatial filter needs spatialDataType geo, h3 or quadbin, got {str(spatial_data_type)[:20]!r}"
        )
    geom = _polygon(value, where, budget.limit)
    cell_sql, res, extent = cells()
    if geom is None or res < 0 or extent is None:
        return "FALSE"
    if geom.contains(extent):  # every cell of the source is inside: nothing to cover
        return f"{cell_sql} IS NOT NULL"
    geom = geom.intersection(extent)  # exact: every cell lies wholly inside the extent
    if geom.is_empty:
        return "FALSE"
    ranges = polygon_ranges(scheme, geom, res, "intersects" if mode in (None, "") else mode, budget.limit)
    budget.take(2 * len(ranges))
    return _any([f"{cell_sql} BETWEEN {bind(lo)} AND {bind(hi)}" for lo, hi in ranges])


def spatial_sql(
    spatial_filters: Any,
    bind: Binder,
    *,
    dialect: str,
    spatial_data_type: Any = "geo",
    max_values: int = DEFAULT_MAX_VALUES,
    cells: Callable[[], tuple[str, int, Any]] | None = None,
    mode: Any = None,
) -> str | None:
    """The condition of CARTO ``spatialFilters`` (None when there are none): all of them must hold.

    On an h3/quadbin source a polygon keeps the cells that meet it by ``mode`` (``spatialFiltersMode``:
    ``intersects``, ``contains``, ``center``): ``cells()`` gives the cell ids' SQL, the data's resolution, at
    which the polygon (clipped to the data's extent, the third item) is covered with cells
    (:func:`lds.maps.cellindex.polygon_ranges`).
    """
    if spatial_filters is None:
        return None
    if not isinstance(spatial_filters, Mapping):
        raise BadRequest("spatialFilters must be an object: {column: GeoJSON polygon}")
    budget = _Budget(max_values)
    conds = []
    for column, value in spatial_filters.items():
        col, where = quote_ident(column), f"spatialFilters.{column}"
        if not isinstance(value, Mapping):
            raise BadRequest(f"{where} must be a GeoJSON Polygon or MultiPolygon")
        if "indexes" in value:
            conds.append(_index_filter(col, value, where, bind, budget))
            continue
        if spatial_data_type not in (None, "", "geo"):
            conds.append(_cells_in_polygon(value, where, bind, budget, spatial_data_type, cells, mode))
            continue
        text = _polygon_geojson(value, where, budget.limit)
        if text is None:
            conds.append("FALSE")
            continue
        budget.take(1)
        if dialect == "postgres":
            conds.append(f"ST_Intersects({col}, ST_SetSRID(ST_GeomFromGeoJSON(CAST({bind(text)} AS text)), 4326))")
        else:
            conds.append(f"ST_Intersects({col}, ST_GeomFromGeoJSON({bind(text)}))")
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else " AND ".join(f"({c})" for c in conds)


def where_sql(
    bind: Binder,
    *,
    dialect: str,
    filters: Any = None,
    logical_operator: Any = "and",
    spatial_filters: Any = None,
    spatial_data_type: Any = "geo",
    max_values: int = DEFAULT_MAX_VALUES,
    cells: Callable[[], tuple[str, int, Any]] | None = None,
    spatial_filters_mode: Any = None,
) -> str | None:
    """``filters`` and ``spatialFilters`` together, ANDed: the text after ``WHERE``, or None to keep every row."""
    parts = [
        p
        for p in (
            filters_sql(filters, bind, dialect=dialect, logical_operator=logical_operator, max_values=max_values),
            spatial_sql(
                spatial_filters,
                bind,
                dialect=dialect,
                spatial_data_type=spatial_data_type,
                max_values=max_values,
                cells=cells,
                mode=spatial_filters_mode,
            ),
        )
        if p
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)
