"""Read what the address index needs from an OSM extract, in two pyosmium passes.

Pass 1 reads relations (boundaries, place and multipolygon areas, associatedStreet) to learn which ways
and nodes their geometry needs. Pass 2 reads nodes and ways with node locations: address points,
interpolation lines, named highways, places, POIs and the member geometry. Missing node references (bbox
cuts such as the Copenhagen extract) are skipped, never fatal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
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


def _way_point(pts: list[tuple[float, float]], closed: bool) -> tuple[float, float] | None:
    """Representative (lon, lat) of a way: building centroid (point on surface when the centroid falls
    outside, e.g. an L-shaped block), or the middle of a line."""
    if not pts:
        return None
    if len(pts) == 1:
        return pts[0]
    if closed and len(pts) >= 4:
        poly = shapely.Polygon(pts)
        if poly.is_valid and poly.area > 0:
            c = poly.centroid
            if not poly.contains(c):
                c = poly.point_on_surface()
            return (c.x, c.y)
    line = shapely.LineString(pts)
    p = line.interpolate(0.5, normalized=True)
    return (p.x, p.y)


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

    fp = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EmptyTagFilter().enable_for(osmium.osm.NODE))
    )
    for obj in fp:
        tags = obj.tags
        if obj.is_node():
            if obj.id in need_nodes and obj.location.valid():
                node_coords[obj.id] = (obj.location.lon, obj.location.lat)
            if not obj.location.valid():
                continue
            lon, lat = obj.location.lon, obj.location.lat
            _point_object(ex, "n", obj.id, tags, lat, lon)
            continue
        # ways
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
        if "highway" in tags:
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
            point = _way_point(pts, closed)
            if point is not None:
                row = _point_object(ex, "w", obj.id, tags, point[1], point[0], is_area=rec is not None)
                if closed and row >= 0 and "building" in tags:  # lds.geocoding.buildings
                    ex.addresses.outlines[row] = pts
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
                ex.addresses.outlines[row] = geom
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
    """Classify one located object: address, place, POI (an object may be several). Its address row, or -1."""
    row = -1
    if "addr:housenumber" in tags:
        hn = " ".join(tags.get("addr:housenumber").split())
        if hn:
            row = ex.addresses.append(osm_type, osm_id, lat, lon, _address_ids(tags, hn, ex.addresses.strings))
    osm = f"{osm_type}{osm_id}"
    place = tags.get("place")
    if place and not is_area:
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
            hn = " ".join((tags.get("addr:housenumber") or "").split())
            ex.pois.append({"osm": osm, "lat": lat, "lon": lon, "kind": kind, "names": names_of(tags), "addr": _addr(tags), "hn": hn})
    return row
