"""The LDS services as SQL functions of ``carto_dw``: ``lds_geocode``, ``lds_reverse``, ``lds_route``, ``lds_isoline``.

They answer from the same core as the HTTP API (the process's loaded :class:`lds.core.LDS`, through its answer
cache), with the same validators and limits, and charge the calling token's monthly quota per non-NULL call.

How a function finds its caller: DuckDB runs Python UDFs on its own worker threads, and a function registered
on a database is shared by all its cursors, so neither a thread-local nor a per-cursor closure can say which
statement (hence which token) a call belongs to. Each cursor therefore gets a random *slot* id in a session
variable (``SET VARIABLE __lds_call``, per cursor), and the public names are per-cursor TEMP macros that pass
``getvariable('__lds_call')`` to the registered functions (``__lds_geocode`` ...). While a statement runs,
its driver binds the slot to that statement's :class:`LdsCalls` (:func:`bind`); the functions look the slot up.
A slot not bound (a statement run outside the SQL API) makes the functions fail with a clear message.

Vectorised: each function receives a whole Arrow batch (DuckDB's vector, 2,048 rows); ``lds_geocode`` answers
it with one call of the core's batch geocoder. Errors a function raises (quota 429, refused 403, a bad
``mode`` 400) are kept on the binding so the driver reports them with their own status, not as a 400 with a
Python traceback inside DuckDB's message.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import shapely
import shapely.geometry

from lds.errors import LdsError, NotFound, OutOfCoverage
from lds.warehouse.callers import VARIABLE, Binding, LdsCalls, binding_of, calls_of, open_slot

log = logging.getLogger("lds.warehouse")

# Answers that are about the data, not the input: the function returns NULL (as a batch entry's error).
_NO_ANSWER = (NotFound, OutOfCoverage)


class _WKB(pa.ExtensionType):
    """Arrow's ``geoarrow.wkb`` extension: DuckDB reads a column of it as GEOMETRY (users ST_ it directly)."""

    def __init__(self) -> None:
        super().__init__(pa.binary(), "geoarrow.wkb")

    def __arrow_ext_serialize__(self) -> bytes:
        return b"{}"

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> _WKB:
        return cls()


WKB = _WKB()

GEOCODE_FIELDS = (
    ("latitude", pa.float64()),
    ("longitude", pa.float64()),
    ("formatted_address", pa.string()),
    ("match_type", pa.string()),
    ("match_confidence", pa.float64()),
)
REVERSE_FIELDS = (
    ("latitude", pa.float64()),
    ("longitude", pa.float64()),
    ("formatted_address", pa.string()),
    ("street_name", pa.string()),
    ("street_number", pa.string()),
    ("postal_code", pa.string()),
    ("city", pa.string()),
    ("country", pa.string()),
    ("country_code", pa.string()),
    ("match_type", pa.string()),
    ("match_confidence", pa.float64()),
    ("distance", pa.float64()),
)
ROUTE_FIELDS = (("distance", pa.float64()), ("duration", pa.float64()), ("geom", WKB))
_CAMEL = {
    "formatted_address": "formattedAddress",
    "match_type": "matchType",
    "match_confidence": "matchConfidence",
    "street_name": "streetName",
    "street_number": "streetNumber",
    "postal_code": "postalCode",
    "country_code": "countryCode",
}


def prepare_cursor(cur: duckdb.DuckDBPyConnection) -> str:
    """Give a new cursor its slot and the public macros; returns the slot id."""
    slot = secrets.token_hex(16)
    open_slot(slot)
    cur.execute(f"SET VARIABLE {VARIABLE} = '{slot}'; {_MACROS}")
    return slot



# --- the functions --------------------------------------------------------------------------------------------
def _struct(fields: Sequence[tuple[str, pa.DataType]], rows: list[dict | None]) -> pa.Array:
    return pa.array(rows, type=pa.struct(list(fields)))


def _pick(candidate: dict, fields: Sequence[tuple[str, pa.DataType]]) -> dict:
    return {name: candidate.get(_CAMEL.get(name, name)) for name, _ in fields}


def _geocode(binding: Binding, calls: LdsCalls, address: pa.Array, country: pa.Array) -> pa.Array:
    texts, codes = address.to_pylist(), country.to_pylist()
    rows = [i for i, a in enumerate(texts) if a is not None]
    out: list[dict | None] = [None] * len(texts)
    if rows:
        calls.pay("geocoding", len(rows))
        items = [texts[i] if codes[i] is None else {"address": texts[i], "country": codes[i]} for i in rows]
        entries = calls.lds.geocode_batch(items, limit=1)  # one core call for the whole Arrow batch
        for i, entry in zip(rows, entries, strict=True):
            if entry["value"]:  # an entry's error (no match, too long, bad country): NULL, as in a batch
                out[i] = _pick(entry["value"][0], GEOCODE_FIELDS)
        binding.check()
    return _struct(GEOCODE_FIELDS, out)


def _each(
    binding: Binding, calls: LdsCalls, service: str, columns: Sequence[pa.Array], answer: Callable[..., Any]
) -> list[Any]:
    """``answer(*row)`` per row without a NULL argument (after charging them all), None elsewhere; a
    no-answer error (no route, outside the data) is None too, a bad argument fails the statement."""
    values = [c.to_pylist() for c in columns]
    rows = [i for i, row in enumerate(zip(*values, strict=True)) if None not in row]
    out: list[Any] = [None] * len(values[0])
    calls.pay(service, len(rows))
    for i in rows:
        binding.check()
        try:
            out[i] = answer(*(v[i] for v in values))
        except _NO_ANSWER:
            pass
    return out


def _reverse(binding: Binding, calls: LdsCalls, lon: pa.Array, lat: pa.Array) -> pa.Array:
    def one(x: float, y: float) -> dict | None:
        found = calls.lds.reverse(y, x)
        return _pick(found[0], REVERSE_FIELDS) if found else None

    return _struct(REVERSE_FIELDS, _each(binding, calls, "geocoding", (lon, lat), one))


def _route(
    binding: Binding, calls: LdsCalls, lon1: pa.Array, lat1: pa.Array, lon2: pa.Array, lat2: pa.Array, mode: pa.Array
) -> pa.Array:
    def one(x1: float, y1: float, x2: float, y2: float, m: str) -> dict:
        value = calls.lds.route((x1, y1), (x2, y2), mode=m)
        line = shapely.linestrings(value["geom"]["coordinates"])
        return {"distance": value["distance"], "duration": value["duration"], "geom": shapely.to_wkb(line)}

    rows = _each(binding, calls, "routing", (lon1, lat1, lon2, lat2, mode), one)
    geoms = pa.ExtensionArray.from_storage(WKB, pa.array([r and r["geom"] for r in rows], type=pa.binary()))
    distance = pa.array([r and r["distance"] for r in rows], type=pa.float64())
    duration = pa.array([r and r["duration"] for r in rows], type=pa.float64())
    mask = pa.array([r is None for r in rows])
    return pa.StructArray.from_arrays([distance, duration, geoms], names=[n for n, _ in ROUTE_FIELDS], mask=mask)


def _isoline(
    binding: Binding,
    calls: LdsCalls,
    lon: pa.Array,
    lat: pa.Array,
    value: pa.Array,
    range_type: pa.Array,
    mode: pa.Array,
) -> pa.Array:
    def one(x: float, y: float, r: float, kind: str, m: str) -> bytes:
        iso = calls.lds.isolines((x, y), [r], kind, m)[0]
        return shapely.to_wkb(shapely.geometry.shape(iso["geom"]))

    rows = _each(binding, calls, "isolines", (lon, lat, value, range_type, mode), one)
    return pa.ExtensionArray.from_storage(WKB, pa.array(rows, type=pa.binary()))


def _udf(fn: Callable[..., pa.Array], arity: int) -> Callable[..., pa.Array]:
    """``fn`` as DuckDB calls it: ``arity`` arguments, the slot id last; errors are kept on the binding (see the
    module doc)."""

    def udf(*arrays: pa.Array) -> pa.Array:
        slot = arrays[-1][0].as_py() if len(arrays[-1]) else None
        binding = binding_of(slot)
        try:
            binding.check()
            return fn(binding, calls_of(binding), *arrays[:-1])
        except LdsError as exc:
            binding.fail(exc)
            raise
        except Exception as exc:
            log.exception("an LDS function failed")
            error = LdsError(f"an LDS function failed ({type(exc).__name__})", 500)
            binding.fail(error)
            raise error from None

    # DuckDB counts a Python function's parameters from its signature
    udf.__signature__ = inspect.Signature(
        [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(arity)]
    )
    return udf


_T = duckdb.sqltype
_STRUCT = duckdb.struct_type
_FUNCTIONS = (
    (
        "__lds_geocode",
        _geocode,
        ("VARCHAR", "VARCHAR"),
        _STRUCT({n: _T("VARCHAR" if t == pa.string() else "DOUBLE") for n, t in GEOCODE_FIELDS}),
    ),
    (
        "__lds_reverse",
        _reverse,
        ("DOUBLE", "DOUBLE"),
        _STRUCT({n: _T("VARCHAR" if t == pa.string() else "DOUBLE") for n, t in REVERSE_FIELDS}),
    ),
    (
        "__lds_route",
        _route,
        ("DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR"),
        _STRUCT({"distance": _T("DOUBLE"), "duration": _T("DOUBLE"), "geom": _T("GEOMETRY")}),
    ),
    ("__lds_isoline", _isoline, ("DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR", "VARCHAR"), _T("GEOMETRY")),
)

_CALL = f"getvariable('{VARIABLE}')"
_MACROS = f"""
CREATE OR REPLACE TEMP MACRO lds_geocode(address) AS __lds_geocode(address::VARCHAR, NULL::VARCHAR, {_CALL}),
    (address, country) AS __lds_geocode(address::VARCHAR, country::VARCHAR, {_CALL});
CREATE OR REPLACE TEMP MACRO lds_reverse(lon, lat) AS __lds_reverse(lon::DOUBLE, lat::DOUBLE, {_CALL});
CREATE OR REPLACE TEMP MACRO lds_route(lon1, lat1, lon2, lat2) AS
    __lds_route(lon1::DOUBLE, lat1::DOUBLE, lon2::DOUBLE, lat2::DOUBLE, 'car', {_CALL}),
    (lon1, lat1, lon2, lat2, mode) AS
    __lds_route(lon1::DOUBLE, lat1::DOUBLE, lon2::DOUBLE, lat2::DOUBLE, mode::VARCHAR, {_CALL});
CREATE OR REPLACE TEMP MACRO lds_isoline(lon, lat, range) AS
    __lds_isoline(lon::DOUBLE, lat::DOUBLE, range::DOUBLE, 'time', 'car', {_CALL}),
    (lon, lat, range, range_type) AS
    __lds_isoline(lon::DOUBLE, lat::DOUBLE, range::DOUBLE, range_type::VARCHAR, 'car', {_CALL}),
    (lon, lat, range, range_type, mode) AS
    __lds_isoline(lon::DOUBLE, lat::DOUBLE, range::DOUBLE, range_type::VARCHAR, mode::VARCHAR, {_CALL});
"""


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Register the LDS functions on a DuckDB database (its cursors share them; each needs :func:`prepare_cursor`)."""
    for name, fn, params, returns in _FUNCTIONS:
        con.create_function(
            name,
            _udf(fn, len(params) + 1),
            [_T(p) for p in (*params, "VARCHAR")],
            returns,
            type="arrow",
            null_handling="special",
            side_effects=True,
        )
