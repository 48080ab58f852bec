"""Read what the address index needs from an OSM extract, in two pyosmium passes.

Pass 1 reads relations (boundaries, place and multipolygon areas, associatedStreet) to learn which ways
and nodes their geometry needs. Pass 2 reads nodes and ways with node locations: address points,
interpolation lines, named highways, places, POIs and the member geometry (a way is located only when it is one
of those). Missing node references (bbox cuts such as the Copenhagen extract) are skipped, never fatal, and counted
in the ways read.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import osmium
import shapely

from lds.geocoding.columns import FIELDS, Addresses, StreetWays, Strings

Progress = Callable[[str, str], None]

POI_KEYS = (
    "amenity", "shop", "tourism", "leisure", "office", "historic", "craft", "healthcare", "club", "man_made",
    "emergency", "sport",
)
POI_VALUES = {
    "railway": {"station", "halt", "tram_stop"},
    "public_transport": {"station"},
    "aeroway": {"aerodrome", "terminal"},
    "natural": {"peak", "beach", "bay", "cape"},
}
NAME_KEYS = ("name", "alt_name", "old_name", "official_name", "short_name", "loc_name", "int_name", "nat_name", "reg_name")
ADDR_KEYS = ("addr:street", "addr:place", "addr:postcode", "addr:city", "addr:country", "addr:suburb", "addr:housename")
# Languages whose name:xx variants also enter locality context (the full set is searchable on places).
CONTEXT_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "da", "sv", "no", "nb", "fi", "pl", "cs")


@dataclass
class Extract:
    """Everything the index build needs: the address points and the named highways as columns (:class:`Addresses`,
    :class:`StreetWays`: by far the most objects), the rest as plain Python records (dicts with fixed keys)."""

    addresses: Addresses = field(default_factory=lambda: Addresses(Strings()))
    interpolations: list[dict] = field(default_factory=list)
    streets: StreetWays = field(default_factory=StreetWays)
    places: list[dict] = field(default_factory=list)
    pois: list[dict] = field(default_factory=list)
    areas: list[dict] = field(default_factory=list)
    associated: list[dict] = field(default_factory=list)
    countries: dict[str, dict] = field(default_factory=dict)
    missing_refs: int = 0


def names_of(tags) -> dict[str, str]:
    """Every name tag of an object: name, name:xx, alt_name, old_name, ... (';'-lists kept whole here)."""
    out: dict[str, str] = {}
    pairs = tags.items() if isinstance(tags, dict) else ((t.k, t.v) for t in tags)
    for k, v in pairs:
        if k in NAME_KEYS or k.startswith(("name:", "alt_name:", "old_name:", "official_name:")):
            v = v.strip()
            if v:
                out[k] = v
    return out


# a node without any of these is no address, place or POI (lds.geocoding.osmread._point_object)
_NODE_KEYS = ("addr:housenumber", "place", "name")
# a way whose tags have none of these (and that no relation or associatedStreet names) gives the index nothing
_WAY_KEYS = ("name", "addr:housenumber", "addr:interpolation", "place", "boundary")
_ADDR_FIELDS = tuple((k, k[5:]) for k in ADDR_KEYS)  # addr:street -> street, made once, not per address
# the tag of each of an address point's FIELDS after the house number (None: not a tag, filled in later)
_ADDR_ROW_KEYS = tuple(f"addr:{f}" if f"addr:{f}" in ADDR_KEYS else None for f in FIELDS[1:])


def _addr(tags) -> dict[str, str]:
    """The addr:* fields of an object (POIs, interpolation ways), whitespace collapsed."""
    out = {}
    for k, field_name in _ADDR_FIELDS:
        v = tags.get(k)
        if v and v.strip():
            out[field_name] = sys.intern(" ".join(v.split()))
    return out


def _address_ids(tags, hn: str, strings: Strings) -> list[int]:
    """The ``FIELDS`` of an address point as ids in ``strings`` (-1: untagged; a country repeats each street,
    city and postcode over thousands of addresses: one string each). Whitespace collapsed as in ``_addr``."""
    ids, lookup = strings.ids, strings.id
    out = [lookup(hn)]
    for k in _ADDR_ROW_KEYS:
        v = tags.get(k) if k else None
        if v and v.strip():
            v = " ".join(v.split())
            i = ids.get(v)
            out.append(lookup(v) if i is None else i)
        else:
            out.append(-1)
    return out


def _poi_kind(tags) -> str | None:
    for k in POI_KEYS:
        v = tags.get(k)
        if v and v != "no":
            return f"{k}={v}"
    for k, values in POI_VALUES.items():
        v = tags.get(k)
        if v in values:
            return f"{k}={v}"
    if "building" in tags and "name" in tags:
        return f"building={tags.get('building')}"
    return None


def _iso2(tags) -> str | None:
    for k in ("ISO3166-1:alpha2", "ISO3166-1", "country_code"):
        v = tags.get(k)
        if v and len(v.strip()) == 2 and v.strip().isalpha():
            return v.strip().upper()
    return None


def _area_record(osm: str, tags) -> dict | None:
    """An area that can name a locality: admin boundary, place polygon or postcode boundary."""
    boundary = tags.get("boundary")
    place = tags.get("place")
    postal = tags.get("postal_code") or (tags.get("addr:postcode") if boundary == "postal_code" else None)
    if boundary == "administrative":
        level = tags.get("admin_level", "")
        if not level.isdigit():
            return None
        kind, level_n = "admin", int(level)
    elif place:
        kind, level_n = "place", 0
    elif boundary == "postal_code" and postal:
        kind, level_n = "postal", 0
    else:
        return None
    names = names_of(tags)
    if not names and kind != "postal":
        return None
    return {
        "osm": osm, "kind": kind, "level": level_n, "place": place, "names": names, "postcode": postal,
        "iso2": _iso2(tags) if kind == "admin" and level_n == 2 else None, "geom": None, "center": None,
    }


class _Relations:
    """Pass 1: relations whose geometry or membership matters."""

    def __init__(self) -> None:
        self.areas: list[tuple[dict, list[tuple[int, str]], list[tuple[int, str]]]] = []
        self.address_areas: list[tuple[dict, list[tuple[int, str]]]] = []
        self.associated: list[dict] = []
        self.need_ways: set[int] = set()
        self.need_nodes: set[int] = set()
        self.country_tags: dict[str, dict] = {}

    def relation(self, r) -> None:
        tags = r.tags
        rtype = tags.get("type")
        if rtype in ("associatedStreet", "street"):
            name = tags.get("name")
            if name:
                houses = [(m.type, m.ref) for m in r.members if m.role in ("house", "address", "addr")]
                streets = [m.ref for m in r.members if m.type == "w" and m.role == "street"]
                self.associated.append({"name": name, "houses": houses, "streets": streets})
            return
        if rtype not in ("multipolygon", "boundary"):
            return
        osm = f"r{r.id}"
        ways = [(m.ref, m.role) for m in r.members if m.type == "w"]
        nodes = [(m.ref, m.role) for m in r.members if m.type == "n" and m.role in ("admin_centre", "label")]
        rec = _area_record(osm, tags)
        if rec is not None:
            if rec["kind"] == "admin" and rec["level"] == 2 and rec["iso2"]:
                self.country_tags.setdefault(rec["iso2"], rec["names"])
            self.areas.append((rec, ways, nodes))
        elif "addr:housenumber" in tags or (_poi_kind(tags) and "name" in tags):
            self.address_areas.append(({"osm": osm, "tags": dict(tags)}, ways))
        else:
            return
        self.need_ways.update(w for w, _ in ways)
        self.need_nodes.update(n for n, _ in nodes)


def _assemble(ways: list[tuple[int, str]], coords: dict[int, list[tuple[float, float]]]):
    """A (multi)polygon from a relation's member ways: outer faces minus inner faces.

    Unlike a strict assembler it keeps whatever rings close when some members are missing from a cut
    extract (Monaco's own boundary lacks three members), and drops the rest.
    """
    outer, inner = [], []
    for ref, role in ways:
        pts = coords.get(ref)
        if pts and len(pts) >= 2:
            (inner if role == "inner" else outer).append(shapely.LineString(pts))
    if not outer:
        return None
    faces = shapely.get_parts(shapely.polygonize(outer))
    if len(faces) == 0:
        return None
    geom = shapely.union_all(faces)
    if inner:
        holes = shapely.get_parts(shapely.polygonize(inner))
        if len(holes):
            geom = geom.difference(shapely.union_all(holes))
    if geom.is_empty:
        return None
    return shapely.make_valid(geom) if not geom.is_valid else geom


def way_points(ways: list[list[tuple[float, float]]], closed: np.ndarray) -> np.ndarray:
    """Representative (lon, lat) of each way (a list of points, at least one): a closed way's centroid when it is a
    valid polygon of some area (its point on surface when the centroid falls outside, e.g. an L-shaped block),
    else the middle of the line. The GEOS calls of a scalar walk, made once for all the ways."""
    n = len(ways)
    lengths = np.fromiter(map(len, ways), dtype=np.int64, count=n)
    coords = np.fromiter(chain.from_iterable(chain.from_iterable(ways)), dtype=np.float64,
                         count=2 * int(lengths.sum())).reshape(-1, 2)
    start = np.cumsum(lengths) - lengths
    out = np.empty((n, 2))
    done = lengths == 1
    out[done] = coords[start[done]]

    def parts(which: np.ndarray) -> dict[str, np.ndarray]:  # the coordinates of these ways, and whose
        at = np.repeat(start[which] - np.cumsum(lengths[which]) + lengths[which], lengths[which])
        at += np.arange(len(at))
        return {"coords": coords[at], "indices": np.repeat(np.arange(len(which)), lengths[which])}

    poly = np.flatnonzero(np.asarray(closed, dtype=bool) & (lengths >= 4))
    if len(poly):
        polys = shapely.polygons(shapely.linearrings(**parts(poly)))
        good = shapely.is_valid(polys) & (shapely.area(polys) > 0)
        polys, poly = polys[good], poly[good]
        c = shapely.centroid(polys)
        outside = ~shapely.contains(polys, c)
        c[outside] = shapely.point_on_surface(polys[outside])
        out[poly] = shapely.get_coordinates(c)
        done[poly] = True
    line = np.flatnonzero(~done)
    if len(line):
        mid = shapely.line_interpolate_point(shapely.linestrings(**parts(line)), 0.5, normalized=True)
        out[line] = shapely.get_coordinates(mid)
    return out


class _NamedWays:
    """The ways that are objects of the index (addressed buildings, named or place areas and lines): classified as
    they are read (while their tags live), located a chunk at a time (:func:`way_points` for the chunk in one go),
    their records' coordinates filled in then."""

    CHUNK = 65_536

    def __init__(self, ex: Extract) -> None:
        self.ex = ex
        self.items: list[tuple[int, int, int, list[tuple[float, float]], bool]] = []

    def add(self, osm_id: int, tags, pts: list[tuple[float, float]], closed: bool, is_area: bool) -> None:
        ex = self.ex
        places, pois = len(ex.places), len(ex.pois)
        row = _point_object(ex, "w", osm_id, tags, math.nan, math.nan, is_area=is_area)
        place = places if len(ex.places) > places else -1
        poi = pois if len(ex.pois) > pois else -1
        if row < 0 and place < 0 and poi < 0:
            return
        if closed and row >= 0 and "building" in tags:  # lds.geocoding.buildings
            ex.addresses.outlines.add(row, pts)
        self.items.append((row, place, poi, pts, closed))
        if len(self.items) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        items, self.items = self.items, []
        if not items:
            return
        points = way_points([it[3] for it in items], np.array([it[4] for it in items], dtype=bool))
        ex = self.ex
        lat_of, lon_of = ex.addresses.lat, ex.addresses.lon
        for (row, place, poi, _, _), (lon, lat) in zip(items, points.tolist()):
            if row >= 0:
                lat_of[row], lon_of[row] = lat, lon
            for records, k in ((ex.places, place), (ex.pois, poi)):
                if k >= 0:
                    records[k]["lat"], records[k]["lon"] = lat, lon


def read_extract(path: Path, progress: Progress) -> Extract:
    """Both passes over ``path``; returns the raw records."""
    rels = _Relations()
    for obj in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        rels.relation(obj)
    progress("geocoder", f"pass 1: {len(rels.areas)} area relations, {len(rels.associated)} associatedStreet")

    ex = Extract()
    member_coords: dict[int, list[tuple[float, float]]] = {}
    node_coords: dict[int, tuple[float, float]] = {}
    need_ways, need_nodes = rels.need_ways, rels.need_nodes
    assoc_way_name: dict[int, str] = {}
    for a in rels.associated:
        for w in a["streets"]:
            assoc_way_name[w] = a["name"]

    # nodes reach Python only with a key that makes them an address, place or POI (a country's crossings, trees and
    # street lamps are filtered in C++); every node is still located, and relation members read from the store
    fp = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter(*_NODE_KEYS).enable_for(osmium.osm.NODE))
    )
    named = _NamedWays(ex)
    for obj in fp:
        tags = obj.tags
        if obj.is_node():
            loc = obj.location
            if not loc.valid():
                continue
            _point_object(ex, "n", obj.id, tags, loc.lat, loc.lon)
            continue
        # ways: only those the index reads are located (most of a country's ways are unnamed roads and buildings
        # without an address)
        if not (obj.id in need_ways or any(k in tags for k in _WAY_KEYS) or obj.id in assoc_way_name):
            continue
        pts = []
        missing = 0
        for n in obj.nodes:
            loc = n.location
            if loc.valid():
                pts.append((loc.lon, loc.lat))
            else:
                missing += 1
        ex.missing_refs += missing
        if obj.id in need_ways:
            member_coords[obj.id] = pts
        if not pts:
            continue
        closed = len(obj.nodes) >= 4 and obj.nodes[0].ref == obj.nodes[-1].ref and not missing
        osm = f"w{obj.id}"
        if "highway" in tags and ("name" in tags or obj.id in assoc_way_name):
            names = names_of(tags)
            if not names.get("name") and obj.id in assoc_way_name:
                names["name"] = assoc_way_name[obj.id]
            if names.get("name") and len(pts) >= 2 and tags.get("area") != "yes":
                ex.streets.append(names, pts)
                continue
        if "addr:interpolation" in tags:
            ex.interpolations.append(
                {
                    "osm": osm, "kind": tags.get("addr:interpolation"), "nodes": [n.ref for n in obj.nodes],
                    "coords": [(n.location.lon, n.location.lat) if n.location.valid() else None for n in obj.nodes],
                    "addr": _addr(tags),
                }
            )
            continue
        has_addr = "addr:housenumber" in tags
        rec = _area_record(osm, tags) if closed and ("boundary" in tags or "place" in tags) else None
        if rec is not None:
            poly = shapely.Polygon(pts)
            if not poly.is_valid:
                poly = shapely.make_valid(poly)
            if not poly.is_empty and poly.area > 0:
                rec["geom"] = poly
                ex.areas.append(rec)
        if has_addr or "name" in tags or "place" in tags:
            named.add(obj.id, tags, pts, closed, rec is not None)
    named.flush()
    store = fp.node_location_storage
    for ref in need_nodes:
        try:
            loc = store.get(ref)
        except KeyError:  # not in a cut extract
            continue
        if loc.valid():
            node_coords[ref] = (loc.lon, loc.lat)
    progress("geocoder", f"pass 2: {len(ex.addresses)} addresses, {len(ex.streets)} named highway ways, "
             f"{len(ex.places)} places, {len(ex.pois)} POIs, {ex.missing_refs} missing node refs")

    for rec, ways, nodes in rels.areas:
        geom = _assemble(ways, member_coords)
        for ref, role in sorted(nodes, key=lambda x: x[1] != "label"):
            if ref in node_coords:
                rec["center"] = node_coords[ref]
                break
        rec["geom"] = geom
        if geom is not None or rec["center"] is not None:
            ex.areas.append(rec)
    for rec, ways in rels.address_areas:
        geom = _assemble(ways, member_coords)
        if geom is not None:
            p = geom.point_on_surface() if not geom.contains(geom.centroid) else geom.centroid
            row = _point_object(ex, "r", int(rec["osm"][1:]), rec["tags"], p.y, p.x)
            if "building" in rec["tags"] and row >= 0:
                ex.addresses.outlines.add(row, geom)
    ex.addresses.freeze()
    ex.streets.freeze()
    _associated_streets(ex.addresses, rels.associated)
    ex.associated = rels.associated
    ex.countries = {code: names for code, names in rels.country_tags.items()}
    return ex


def _associated_streets(addresses: Addresses, associated: list[dict]) -> None:
    """The house members of an associatedStreet relation without addr:street or addr:place take its name (the
    first relation's when several name one house)."""
    houses = [(mtype, ref, a["name"]) for a in associated for mtype, ref in a["houses"]]
    rows = np.full(len(houses), -1, dtype=np.int64)
    for mtype in {h[0] for h in houses}:
        at = [k for k, h in enumerate(houses) if h[0] == mtype]
        rows[at] = addresses.row_of(mtype, np.array([houses[k][1] for k in at], dtype=np.int64))
    street, place = addresses["street"], addresses["place"]
    for (_, _, name), i in zip(houses, rows.tolist()):
        if i >= 0 and street[i] < 0 and place[i] < 0:
            street[i] = addresses.strings.id(name)


def _point_object(ex: Extract, osm_type: str, osm_id: int, tags, lat: float, lon: float, is_area: bool = False) -> int:
    """Classify one object: address, place, POI (an object may be several). Its address row, or -1. A way's
    coordinates may be NaN here, filled in when its chunk is located (:class:`_NamedWays`)."""
    row = -1
    hn = tags.get("addr:housenumber")
    if hn:
        hn = " ".join(hn.split())
        if hn:
            row = ex.addresses.append(osm_type, osm_id, lat, lon, _address_ids(tags, hn, ex.addresses.strings))
    place = tags.get("place")
    if place and not is_area:
        osm = f"{osm_type}{osm_id}"
        names = names_of(tags)
        if names:
            is_in = (tags.get("is_in") or "").replace(";", ",").split(",")[0].strip()
            ex.places.append({"osm": osm, "lat": lat, "lon": lon, "place": place, "names": names, "iso2": _iso2(tags),
                              "is_in": is_in or None})
            if place == "country" and _iso2(tags):
                ex.countries.setdefault(_iso2(tags), names)
        return row
    if "name" in tags and "highway" not in tags and "boundary" not in tags:
        kind = _poi_kind(tags)
        if kind:
            osm = f"{osm_type}{osm_id}"
            hn = " ".join((tags.get("addr:housenumber") or "").split())
            ex.pois.append({"osm": osm, "lat": lat, "lon": lon, "kind": kind, "names": names_of(tags), "addr": _addr(tags), "hn": hn})
    return row
