"""Nominatim's API (v4/v5 ``/search``, ``/reverse``, ``/lookup``, ``/status``): parameters read and answers shaped
as Nominatim does (``json``, ``jsonv2``, ``geojson``, ``geocodejson``; strings where Nominatim has strings),
from lds's geocoding candidates. No Flask: the views in :mod:`lds.api.dialects` call these.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from lds import __version__
from lds import params as v
from lds.dialects import DialectError
from lds.errors import BadRequest, LdsError, OutOfCoverage
from lds.memo import per_object

LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"
FORMATS = ("json", "jsonv2", "geojson", "geocodejson")
DEFAULT_LIMIT, MAX_LIMIT = 10, 40  # Nominatim's defaults for /search
OSM_TYPES = {"N": "node", "W": "way", "R": "relation"}
STRUCTURED = ("amenity", "street", "city", "county", "state", "country", "postalcode")
# class, type, place_rank and addresstype per lds match type (Nominatim's ranks: house 30, street 26, ...)
_KINDS = {
    "address": ("place", "house", 30, "place"),
    "interpolated": ("place", "house", 30, "place"),
    "street": ("highway", "residential", 26, "road"),
    "postcode": ("place", "postcode", 21, "postcode"),
}
_PLACE_RANKS = {
    "country": 4,
    "state": 8,
    "county": 12,
    "city": 16,
    "town": 18,
    "village": 19,
    "municipality": 16,
    "suburb": 20,
    "quarter": 20,
    "neighbourhood": 22,
    "hamlet": 20,
    "square": 25,
    "locality": 25,
}
BBOX_DEG = {30: 0.0001, 26: 0.001, 21: 0.01}  # half-size of the box around a point result, by rank


def error(message: str, status: int = 400) -> DialectError:
    return DialectError("error", message, status)


def body_of_error(exc: LdsError) -> dict[str, Any]:
    """Nominatim 4/5's JSON error body."""
    return {"error": {"code": exc.status, "message": exc.message}}


def _format(args: dict[str, str], default: str = "jsonv2") -> str:
    fmt = (args.get("format") or default).lower()
    if fmt not in FORMATS:
        raise error(f"Parameter 'format' must be one of: {', '.join(FORMATS)}")
    return fmt


def _flag(args: dict[str, str], name: str, default: bool) -> bool:
    value = args.get(name)
    if v.missing(value):
        return default
    if value not in ("0", "1", "true", "false"):
        raise error(f"Parameter '{name}' must be 0 or 1")
    return value in ("1", "true")


def _viewbox(text: str | None) -> tuple[float, float, float, float] | None:
    if v.missing(text):
        return None
    try:
        x1, y1, x2, y2 = (float(p) for p in text.split(","))
    except ValueError:
        raise error("Bad parameter 'viewbox'. Expected 4 coordinates.") from None
    if not all(math.isfinite(c) for c in (x1, y1, x2, y2)):
        raise error("Bad parameter 'viewbox'. Expected 4 coordinates.")
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def search_query(args: dict[str, str], settings: Any) -> dict[str, Any]:
    """The checked parameters of a search: free text ``q`` or the structured fields, never both."""
    q = (args.get("q") or "").strip()
    fields = {k: args[k].strip() for k in STRUCTURED if not v.missing(args.get(k))}
    if q and fields:
        raise error(
            "Structured query parameters(amenity, street, city, county, state, postalcode, country) "
            "cannot be used together with 'q' parameter."
        )
    if not q:
        order = ("amenity", "street", "postalcode", "city", "county", "state", "country")
        q = ", ".join(fields[k] for k in order if k in fields)
    if not q:
        raise error("Nominatim needs a query: 'q' or one of the structured parameters")
    limit = args.get("limit")
    try:
        n = DEFAULT_LIMIT if v.missing(limit) else max(1, min(int(limit), MAX_LIMIT, settings.geocode_max_limit))
    except ValueError:
        raise error("Parameter 'limit' must be a number") from None
    codes = [c.strip().upper() for c in (args.get("countrycodes") or "").split(",") if c.strip()]
    for c in codes:
        v.country("countrycodes", c)
    box = _viewbox(args.get("viewbox"))
    return {
        "q": v.geocode_address(q, settings),
        "limit": n,
        "countrycodes": codes,
        "viewbox": box,
        "bounded": _flag(args, "bounded", False) and box is not None,
        "format": _format(args),
        "addressdetails": _flag(args, "addressdetails", False),
        "dedupe": _flag(args, "dedupe", True),
        "language": _language(args),
    }


def _language(args: dict[str, str]) -> str | None:
    value = args.get("accept-language")
    if v.missing(value):
        return None
    first = value.split(",")[0].split(";")[0].strip()
    try:
        return v.language("accept-language", first) if first and first != "*" else None
    except BadRequest:
        return None  # browsers send tags lds does not know: Nominatim falls back to local names too


def _point(args: dict[str, str], name: str, check) -> float:
    value = args.get(name)
    if v.missing(value):
        raise error(f"Parameter '{name}' missing.")
    try:
        return check(name, value)
    except BadRequest as exc:
        raise error(exc.message) from None


def reverse_query(args: dict[str, str]) -> dict[str, Any]:
    zoom = args.get("zoom", "18")
    try:
        z = max(0, min(18, int(zoom)))
    except ValueError:
        raise error("Parameter 'zoom' must be a number") from None
    return {
        "lat": _point(args, "lat", v.latitude),
        "lon": _point(args, "lon", v.longitude),
        "zoom": z,
        "format": _format(args, "jsonv2"),
        "addressdetails": _flag(args, "addressdetails", True),
        "language": _language(args),
    }


def lookup_query(args: dict[str, str]) -> dict[str, Any]:
    ids = []
    for part in (args.get("osm_ids") or "").split(","):
        part = part.strip().upper()
        if not part:
            continue
        if part[0] not in OSM_TYPES or not part[1:].isdigit():
            raise error(f"Parameter 'osm_ids' expects N123,W456,R789 style ids, got '{part[:20]}'")
        ids.append((part[0], int(part[1:])))
    if not ids:
        raise error("Parameter 'osm_ids' missing.")
    if len(ids) > 50:
        raise error("Parameter 'osm_ids' may hold at most 50 ids")
    return {
        "ids": ids,
        "format": _format(args, "jsonv2"),
        "addressdetails": _flag(args, "addressdetails", False),
        "language": _language(args),
    }


# --- answering -------------------------------------------------------------------------------------------------
@per_object
def _osm_ids(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """The OSM type (ord of N/W/R, 0 unknown) and id of every address point, memory-mapped on first use."""
    from lds.geocoding.store import load_array

    return (
        load_array(index.directory, "addr_osm_type", mmap=True),
        load_array(index.directory, "addr_osm_id", mmap=True),
    )


def _osm_of(index: Any, cand: dict[str, Any]) -> tuple[str, int] | None:
    """The OSM object of an address candidate: the address point at exactly the candidate's position."""
    if cand.get("matchType") != "address":
        return None
    types, ids = _osm_ids(index)
    hit = np.flatnonzero(
        (np.abs(index.addr_lat - cand["latitude"]) < 5e-8) & (np.abs(index.addr_lon - cand["longitude"]) < 5e-8)
    )
    for r in hit.tolist():
        t = chr(int(types[r])).upper()  # stored as n/w/r
        if t in OSM_TYPES:
            return OSM_TYPES[t], int(ids[r])
    return None


def _inside(cand: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= cand["longitude"] <= box[2] and box[1] <= cand["latitude"] <= box[3]


def search(lds: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates of a search, filtered and ordered as Nominatim's parameters ask."""
    codes = query["countrycodes"]
    country = codes[0] if len(codes) == 1 else None
    found = lds.geocode(query["q"], country, min(query["limit"] * 2, lds.settings.geocode_max_limit))
    if codes:
        found = [c for c in found if c.get("countryCode") in codes]
    box = query["viewbox"]
    if box is not None:
        found = (
            [c for c in found if _inside(c, box)]
            if query["bounded"]
            else sorted(found, key=lambda c: not _inside(c, box))
        )
    if query["dedupe"]:
        seen: set[str] = set()
        found = [c for c in found if not (c["formattedAddress"] in seen or seen.add(c["formattedAddress"]))]
    return [_place(lds, c, query) for c in found[: query["limit"]]]


def reverse(lds: Any, query: dict[str, Any]) -> dict[str, Any] | None:
    """The place at a point at the detail ``zoom`` asks (18 building ... 3 country); None when nothing is there."""
    try:
        found = lds.reverse(query["lat"], query["lon"], query["language"])
    except OutOfCoverage:
        return None
    if not found:
        return None
    cand = dict(found[0])
    z = query["zoom"]
    if z >= 18 or (z >= 16 and cand["matchType"] in ("street", "place")) or cand["matchType"] == "place":
        return _place(lds, cand, query)
    if cand["matchType"] in ("address", "interpolated"):  # street level: the street, not the house
        cand.update(streetNumber=None, matchType="street")
    if z < 16:  # settlement level
        cand.update(
            streetName=None,
            streetNumber=None,
            postalCode=None,
            matchType="place",
            name=cand.get("city"),
            category="place=city",
        )
    if z < 5:  # country level
        cand.update(city=None, state=None, matchType="place", name=cand.get("country"), category="place=country")
    if cand["matchType"] == "place" and cand.get("name") is None:
        return None
    parts = [
        cand.get("name"),
        " ".join(p for p in (cand.get("streetNumber"), cand.get("streetName")) if p) or None,
        cand.get("postalCode"),
        cand.get("city"),
        cand.get("country"),
    ]
    seen: list[str] = []
    for p in parts:
        if p and p not in seen:
            seen.append(p)
    cand["formattedAddress"] = ", ".join(seen)
    return _place(lds, cand, query)


def lookup(lds: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The address points of the given OSM objects (lds keeps addresses' OSM ids), in the order asked."""
    from lds.geocoding import format as fmt

    index = lds.geocoder
    if index is None:
        return []
    types, ids = _osm_ids(index)
    out = []
    for t, osm_id in query["ids"]:
        rows = np.flatnonzero((ids == osm_id) & (types == ord(t.lower())))
        for r in rows[:1].tolist():
            e = int(index.addr_entity[r])
            if e < 0:
                continue
            cand = fmt.candidate(
                index,
                e,
                r,
                "address",
                float(index.addr_lat[r]),
                float(index.addr_lon[r]),
                1.0,
                language=query["language"],
            )
            out.append(_place(lds, cand, query, (OSM_TYPES[t], osm_id)))
    return out


def _place(lds: Any, cand: dict[str, Any], query: dict[str, Any], osm: tuple[str, int] | None = None) -> dict[str, Any]:
    """A format-neutral record of one result (the formatters below pick their fields from it)."""
    kind = cand["matchType"]
    if kind in _KINDS:
        cls, typ, rank, addresstype = _KINDS[kind]
    else:
        category = cand.get("category") or "place=locality"
        cls, _, typ = category.partition("=") if "=" in category else ("place", "", category)
        rank = _PLACE_RANKS.get(typ, 30 if kind == "poi" else 20)
        addresstype = typ if kind == "place" else cls
    if kind == "place" and cand.get("postalCode") and not cand.get("name"):
        cls, typ, rank, addresstype = _KINDS["postcode"]
    osm = osm or (_osm_of(lds.geocoder, cand) if getattr(lds, "geocoder", None) is not None else None)
    lat, lon = cand["latitude"], cand["longitude"]
    half = BBOX_DEG.get(rank, 0.005 if rank >= 20 else 0.05)
    address = {
        "house_number": cand.get("streetNumber"),
        "road": cand.get("streetName"),
        "city": cand.get("city"),
        "state": cand.get("state"),
        "postcode": cand.get("postalCode"),
        "country": cand.get("country"),
        "country_code": (cand.get("countryCode") or "").lower() or None,
    }
    if kind in ("poi", "place") and cand.get("name"):
        address = {addresstype: cand["name"], **address}
    key = f"{osm[0]}{osm[1]}" if osm else cand["formattedAddress"]
    return {
        "place_id": int(osm[1]) * 10 + "nwr".index(osm[0][0]) + 1 if osm else zlib.crc32(key.encode()) + (1 << 40),
        "osm": osm,
        "lat": lat,
        "lon": lon,
        "class": cls,
        "type": typ,
        "place_rank": rank,
        "importance": round(float(cand.get("matchConfidence", 0.5)), 5),
        "addresstype": addresstype,
        "name": cand.get("name") or (cand.get("streetName") if kind == "street" else "") or "",
        "display_name": cand["formattedAddress"],
        "address": {k: val for k, val in address.items() if val},
        "bbox": (lat - half, lat + half, lon - half, lon + half),
        "addressdetails": query["addressdetails"],
    }


def _num(x: float) -> str:
    return f"{x:.7f}"


def _ids(p: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``place_id``, then ``osm_type``/``osm_id`` when lds knows the OSM object, then ``extra``."""
    out: dict[str, Any] = {"place_id": p["place_id"], **extra}
    if p["osm"]:
        out["osm_type"], out["osm_id"] = p["osm"]
    return out


def _kind(p: dict[str, Any], class_key: str) -> dict[str, Any]:
    return {
        class_key: p["class"],
        "type": p["type"],
        "place_rank": p["place_rank"],
        "importance": p["importance"],
        "addresstype": p["addresstype"],
        "name": p["name"],
    }


def _geometry(p: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [p["lon"], p["lat"]]}


def _json_item(p: dict[str, Any], v2: bool) -> dict[str, Any]:
    out = _ids(p, licence=LICENCE)
    out.update(
        {
            "lat": _num(p["lat"]),
            "lon": _num(p["lon"]),
            **_kind(p, "category" if v2 else "class"),
            "display_name": p["display_name"],
        }
    )
    if p["addressdetails"]:
        out["address"] = p["address"]
    out["boundingbox"] = [_num(c) for c in p["bbox"]]
    return out


def _geojson_feature(p: dict[str, Any]) -> dict[str, Any]:
    props = {**_ids(p), **_kind(p, "category"), "display_name": p["display_name"]}
    if p["addressdetails"]:
        props["address"] = p["address"]
    s, n, w, e = p["bbox"]
    return {"type": "Feature", "properties": props, "bbox": [w, s, e, n], "geometry": _geometry(p)}


def _geocodejson_feature(p: dict[str, Any]) -> dict[str, Any]:
    a = p["address"]
    rank = p["place_rank"]
    g = _ids(
        p,
        osm_key=p["class"],
        osm_value=p["type"],
        type="house" if rank == 30 else "street" if rank == 26 else p["addresstype"],
        label=p["display_name"],
        name=p["name"],
    )
    for src, dst in (
        ("house_number", "housenumber"),
        ("road", "street"),
        ("postcode", "postcode"),
        ("city", "city"),
        ("state", "state"),
        ("country", "country"),
        ("country_code", "country_code"),
    ):
        if src in a:
            g[dst] = a[src]
    return {"type": "Feature", "properties": {"geocoding": g}, "geometry": _geometry(p)}


def render(places: list[dict[str, Any]] | dict[str, Any] | None, fmt: str, endpoint: str) -> Any:
    """The response body of ``places`` in ``fmt``; a reverse answers one object (or Nominatim's "Unable to
    geocode" error object), search and lookup a list."""
    single = endpoint == "reverse"
    if single and places is None:
        return {"error": "Unable to geocode"}
    items = [places] if single else places
    if fmt in ("json", "jsonv2"):
        out = [_json_item(p, fmt == "jsonv2") for p in items]
        return out[0] if single else out
    if fmt == "geojson":
        return {"type": "FeatureCollection", "licence": LICENCE, "features": [_geojson_feature(p) for p in items]}
    return {
        "type": "FeatureCollection",
        "geocoding": {"version": "0.1.0", "attribution": LICENCE, "licence": "ODbL", "query": ""},
        "features": [_geocodejson_feature(p) for p in items],
    }


def status(lds: Any) -> dict[str, Any]:
    """``/status?format=json``: Nominatim's fields, the data version standing for the import date."""
    meta = lds.data.meta
    return {
        "status": 0,
        "message": "OK",
        "data_updated": meta.get("built_at") or "",
        "software_version": f"lds {__version__}",
        "database_version": str(lds.data_version),
    }
