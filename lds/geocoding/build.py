"""``build_index``: an OSM extract -> the address index directory (called by ``lds build``).

Steps: read (``osmread``: the address points and street ways as columns, ``columns``); merge streets and infer
missing ones (``streets``); expand interpolation ways (``interpolation``); fill city/postcode/country from areas
and place nodes (``localities``, ``address_fill``) and from neighbours (``fill``); make the entities (streets,
places, POIs, postcodes) and their names as canonical tokens with an inverted index (``vocabulary``); write
everything with the address points (``store``).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from lds.formats import FLAG_INFERRED, FLAG_INTERPOLATED, KIND_PLACE, KIND_POI, KIND_POSTCODE, KIND_STREET
from lds.geocoding import interpolation
from lds.geocoding.address_fill import (
    StreetAddresses,
    address_order,
    fill_localities,
    mode_of,
    pooled,
    postcode_rows,
)
from lds.geocoding.buildings import save_buildings
from lds.geocoding.columns import CITY_FROM_NODE, CITY_FROM_TAG, StreetWays
from lds.geocoding.fill import address_localities, fill_countries, fill_from_street, nearest_row
from lds.geocoding.index import build_grid
from lds.geocoding.localities import PLACE_RANK, SUBURB_PLACES, Localities, context_names, display_name
from lds.geocoding.osmread import read_extract
from lds.geocoding.store import StringPool, save_arrays, save_manifest, save_strings, save_wkb
from lds.geocoding.streets import Segments, central_point, group_streets, infer_streets, set_members
from lds.geocoding.vocabulary import Tokenizer, build_vocabulary

Progress = Callable[[str, str], None]

AREA_SIMPLIFY_DEG = 0.00002  # ~2 m: polygons stored for reverse fallbacks
# Reverse fallback: a place node answers for points this close (m), tighter than the locality fill-in
# radii because here it is the whole answer.
PLACE_NODE_RADIUS = {
    "city": 6000.0, "town": 4000.0, "municipality": 4000.0, "village": 2000.0, "hamlet": 800.0, "borough": 3000.0,
    "suburb": 1500.0, "quarter": 1000.0, "city_district": 2000.0, "district": 2000.0, "neighbourhood": 600.0,
    "island": 1500.0, "islet": 300.0, "locality": 500.0, "square": 150.0,
}


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(";") if p.strip()]


def build_index(source_path: Path, out_dir: Path, progress: Progress) -> dict:
    """Build the address index of ``source_path`` into ``out_dir``; returns counts for meta.json."""
    t0 = time.perf_counter()
    source_path, out_dir = Path(source_path), Path(out_dir)
    ex = read_extract(source_path, progress)
    locs = Localities(ex.areas, ex.places)
    groups, addr_group = group_streets(ex.streets, ex.addresses, progress)
    tmp = out_dir.with_name(out_dir.name + ".tmp")  # the index is written here, then renamed
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    segments, rep = Segments.write(groups, ex.streets, tmp)
    t_grid = time.perf_counter()
    segments = Segments(segments.lat0, segments.lon0, segments.lat1, segments.lon1, segments.group, segments.make_grid(tmp))
    grid_seconds = time.perf_counter() - t_grid
    ex.streets = StreetWays()  # their coordinates are in the segments now, their names in the groups
    inferred = infer_streets(ex.addresses, addr_group, groups, segments)
    progress("geocoder", f"street inferred for {inferred} addresses without addr:street")
    extra, extra_groups = interpolation.expand(ex.interpolations, ex.addresses, addr_group)
    addresses = ex.addresses
    addresses.extend(extra)
    addr_group = np.concatenate([addr_group, np.array(extra_groups, dtype=np.int64)])
    del extra
    members = set_members(groups, addr_group, addresses.inferred + 2 * addresses.interpolated.astype(np.int8))
    progress("geocoder", f"{len(extra_groups)} house numbers interpolated from {len(ex.interpolations)} interpolation ways")

    tok = Tokenizer()
    pool = StringPool()
    strings = addresses.strings
    ctx_cache: dict[int, set[str]] = {}

    def locality_context(loc) -> set[str]:
        key = id(loc)
        if key not in ctx_cache:
            ctx_cache[key] = {t for s in locs.context_of(loc) for t in tok(s)}
        return ctx_cache[key]

    # --- countries: tag > enclosing level-2 boundary > nearest address that knows > the extract's majority
    countries = {code: names for code, names in ex.countries.items()}
    for a in ex.areas:  # level-2 boundaries drawn as closed ways
        if a.get("iso2"):
            countries.setdefault(a["iso2"], a["names"])

    def country_context(code: str | None) -> set[str]:
        if not code:
            return set()
        out = {code.lower()}
        for s in context_names(countries.get(code, {})):
            out.update(tok(s))
        return out

    # --- addresses: locality fill-in
    n_addr = len(addresses)
    a_lat, a_lon = addresses.lat, addresses.lon
    unique_locs, a_loc = locs.locate_ids(a_lat, a_lon)
    filled = fill_localities(addresses, unique_locs, a_loc)
    postcode = addresses["postcode"]
    fill_from_street(addresses, groups, "postcode", postcode < 0, postcode >= 0, filled)
    # a tagged city on the same street beats the nearest place node (postal districts such as "København V")
    fill_from_street(addresses, groups, "city", addresses.city_from == CITY_FROM_NODE,
                     addresses.city_from == CITY_FROM_TAG, filled)
    majority = fill_countries(addresses, countries, filled)
    progress("geocoder", f"filled in: {dict(filled)}")

    # --- entities
    ent: dict[str, list] = defaultdict(list)
    ent_names: list[list[str]] = []
    ent_ctx: list[frozenset[str]] = []
    shared_ctx: dict[frozenset[str], frozenset[str]] = {}

    def add_entity(kind: int, lat: float, lon: float, name: str | None, names: list[str], ctx: set[str], **fields) -> int:
        ent["kind"].append(kind)
        ent["lat"].append(lat)
        ent["lon"].append(lon)
        ent["name"].append(pool.add(name))
        for f in ("street", "hn", "postcode", "city", "suburb", "state", "country", "category"):
            ent[f].append(pool.add(fields.get(f)))
        ent["importance"].append(fields.get("importance", 0.0))
        ent_names.append(names)
        ctx = frozenset(ctx)
        ent_ctx.append(shared_ctx.setdefault(ctx, ctx))  # one set for the many streets of one town
        return len(ent["kind"]) - 1

    # streets first: entity id == group id
    for g, grp in enumerate(groups):  # streets without a way: the address nearest the centre of theirs
        if g not in rep:
            j = int(grp["addrs"][central_point(a_lat[grp["addrs"]], a_lon[grp["addrs"]])])
            rep[g] = (float(a_lat[j]), float(a_lon[j]))
    no_addr = [g for g, grp in enumerate(groups) if not len(grp["addrs"])]
    rep_locs = locs.locate([rep[g][0] for g in no_addr], [rep[g][1] for g in no_addr])
    rep_loc = dict(zip(no_addr, rep_locs))
    per_street = StreetAddresses(*members, addresses, a_loc)
    for g, grp in enumerate(groups):
        ctx: set[str] = set()
        if len(grp["addrs"]):
            fields = per_street.fields(g)
            for u in per_street.localities(g):
                ctx |= locality_context(unique_locs[u])
            for value in per_street.values(g, ("city", "suburb", "postcode")):
                ctx.update(tok(value))
            for code in per_street.values(g, ("country",), keep_none=True):
                ctx |= country_context(code)
        else:
            loc = rep_loc[g]
            fields = {
                "city": display_name(loc.city) if loc.city else None, "suburb": display_name(loc.suburb) if loc.suburb else None,
                "state": display_name(loc.state) if loc.state else None, "postcode": loc.postcode,
                "country": loc.country_code or majority,
            }
            ctx |= locality_context(loc) | country_context(fields["country"])
        names = [n for v in grp["names"].values() for n in _split(v)] + grp["variants"]
        add_entity(
            KIND_STREET, rep[g][0], rep[g][1], grp["name"], names, ctx, street=grp["name"],
            category="street" if grp["kind"] == "street" else "addr:place",
            importance=math.log1p(len(grp["addrs"])) + (0.5 if grp["ways"] else 0.0), **fields,
        )
    del per_street

    # places: nodes, then areas whose centre is not already a place node of the same name
    place_entity_by_osm: dict[str, int] = {}
    node_names = {(p["lat"], p["lon"], display_name(p["names"])) for p in ex.places}
    place_items = [(p, None) for p in ex.places]
    for a in ex.areas:
        if a["kind"] == "postal" or not a["names"]:
            continue
        center = a["center"]
        if center is None:
            pt = a["geom"].point_on_surface()
            center = (pt.x, pt.y)
        if (center[1], center[0], display_name(a["names"])) in node_names:
            a["entity_of_node"] = (center[1], center[0])
            continue
        place_items.append(({"osm": a["osm"], "lat": center[1], "lon": center[0], "names": a["names"],
                             "place": a["place"] or f"admin_level={a['level']}", "level": a["level"], "iso2": a["iso2"]}, a))
    place_items += address_localities(addresses, place_items)
    p_locs = locs.locate([p["lat"] for p, _ in place_items], [p["lon"] for p, _ in place_items])
    node_entity: dict[tuple[float, float], int] = {}
    for (p, area), loc in zip(place_items, p_locs):
        kind = p["place"]
        rank = PLACE_RANK.get(kind, 0) if not kind.startswith("admin_level") else _admin_rank(p["level"])
        own = display_name(p["names"])
        code = p.get("iso2") or loc.country_code or majority
        city = display_name(loc.city) if loc.city and display_name(loc.city) != own else None
        if p.get("is_in") and p["is_in"] != own and kind in SUBURB_PLACES:  # is_in=København on a suburb node
            city = p["is_in"]
        ctx = locality_context(loc) | country_context(code)
        names = [n for v in p["names"].values() for n in _split(v)]
        e = add_entity(
            KIND_PLACE, p["lat"], p["lon"], own, names, ctx, category=kind, city=city,
            state=display_name(loc.state) if loc.state and display_name(loc.state) != own else None,
            country=code, postcode=loc.postcode if rank <= 20 else None, importance=rank / 3.0,
        )
        place_entity_by_osm[p["osm"]] = e
        if area is not None:
            area["entity"] = e
        elif not p["osm"].startswith("addr:city="):
            node_entity[(p["lat"], p["lon"])] = e
    for a in ex.areas:
        if "entity_of_node" in a:
            a["entity"] = node_entity.get(a["entity_of_node"], -1)

    # POIs
    q_locs = locs.locate([p["lat"] for p in ex.pois], [p["lon"] for p in ex.pois])
    for p, loc in zip(ex.pois, q_locs):
        addr = p["addr"]
        code = (addr.get("country") or "").upper()
        code = code if len(code) == 2 and code.isalpha() else (loc.country_code or majority)
        names = [n for v in p["names"].values() for n in _split(v)]
        city = addr.get("city") or (display_name(loc.city) if loc.city else None)
        ctx = locality_context(loc) | country_context(code)
        for value in (city, addr.get("postcode"), addr.get("street")):
            if value:
                ctx.update(tok(value))
        if p["hn"]:
            ctx.update(tok(p["hn"]))
        add_entity(
            KIND_POI, p["lat"], p["lon"], display_name(p["names"]), names, ctx, category=p["kind"],
            street=addr.get("street") or addr.get("place"), hn=p["hn"] or None,
            postcode=addr.get("postcode") or loc.postcode, city=city,
            suburb=display_name(loc.suburb) if loc.suburb else None,
            state=display_name(loc.state) if loc.state else None, country=code, importance=0.3,
        )

    # postcodes: centre = the address nearest the mean of those carrying the code
    by_code = postcode_rows(addresses)
    city, state = addresses["city"], addresses["state"]
    for (code, country), idxs in by_code:
        j = nearest_row(a_lat, a_lon, idxs)
        cities = city[idxs]
        ctx = set()
        for c in np.unique(cities[cities >= 0]).tolist():
            ctx.update(tok(strings.text(c)))
        ctx |= country_context(country)
        add_entity(KIND_POSTCODE, float(a_lat[j]), float(a_lon[j]), code, [code], ctx, postcode=code,
                   city=strings.text(mode_of(cities)), state=strings.text(int(state[j])), country=country,
                   category="postcode", importance=1.0)

    n_ent = len(ent["kind"])
    progress("geocoder", f"{n_ent} entities: {len(groups)} streets, {len(place_items)} places, {len(ex.pois)} POIs, {len(by_code)} postcodes")

    # --- names -> tokens, vocabulary, postings
    voc = build_vocabulary(ent_names, ent_ctx, tok)

    # --- addresses sorted by (street, number, text) so each street's numbers are one contiguous run
    order_arr = address_order(addresses, addr_group)
    counts = np.bincount(addr_group[addr_group >= 0], minlength=n_ent) if n_addr else np.zeros(n_ent, dtype=np.int64)
    ent_addr_off = np.zeros(n_ent + 1, dtype=np.int64)
    ent_addr_off[1:] = np.cumsum(counts)

    # --- write: the address columns one at a time, in their written order (a country's are large)
    address_columns = {
        "addr_lat": lambda: a_lat[order_arr], "addr_lon": lambda: a_lon[order_arr],
        "addr_entity": lambda: addr_group[order_arr].astype(np.int32),
        **{f"addr_{f}": (lambda f=f: pooled(addresses[f][order_arr], strings, pool))
           for f in ("hn", "postcode", "city", "suburb", "state", "country")},
        "addr_flags": lambda: (np.where(addresses.interpolated, FLAG_INTERPOLATED, 0)
                               | np.where(addresses.inferred, FLAG_INFERRED, 0))[order_arr].astype(np.uint8),
        # OSM object of each address ("n123", "w45": an interpolated number's is its interpolation way), for lds.addresses
        "addr_osm_type": lambda: addresses.osm_type[order_arr], "addr_osm_id": lambda: addresses.osm_id[order_arr],
    }
    for name, make in address_columns.items():
        save_arrays(tmp, {name: make()})
    arrays = {
        "ent_kind": np.array(ent["kind"], dtype=np.int8), "ent_lat": np.array(ent["lat"]), "ent_lon": np.array(ent["lon"]),
        "ent_importance": np.array(ent["importance"], dtype=np.float32), "ent_addr_off": ent_addr_off,
        **voc.arrays(),
    }
    for f in ("name", "street", "hn", "postcode", "city", "suburb", "state", "country", "category"):
        arrays[f"ent_{f}"] = np.array(ent[f], dtype=np.int32)
    arrays.update(_reverse_places(locs, ex, place_entity_by_osm, node_entity))
    save_arrays(tmp, arrays)
    pool.save(tmp, "strings")
    save_strings(tmp, "vocab", list(voc.vocab))
    save_strings(tmp, "surface", voc.surface_keys)
    _save_area_geoms(tmp, locs)
    save_buildings(tmp, *addresses.outlines.in_order(order_arr))  # reverse at building level
    t_grid = time.perf_counter()
    for name in ("addr", "placenode"):  # reverse geocoding's nearest-point grids, memory-mapped by servers
        build_grid(tmp, name, tmp)
    grid_seconds += time.perf_counter() - t_grid
    progress("geocoder", f"nearest-point grids written in {grid_seconds:.2f} s")
    i18n = _i18n(groups, ex, countries)
    (tmp / "i18n.json").write_text(json.dumps(i18n, ensure_ascii=False))
    lat_parts = [x for x in (a_lat, np.array(ent["lat"])) if len(x)]
    lon_parts = [x for x in (a_lon, np.array(ent["lon"])) if len(x)]
    n_real = addresses.n_real
    summary = {
        "addresses": n_real, "interpolated": len(addresses) - n_real, "streets": len(groups), "places": len(place_items),
        "pois": len(ex.pois), "postcodes": len(by_code), "names": len(voc.name_entity), "tokens": len(voc.vocab),
        "street_segments": len(segments), "streets_inferred": inferred, "areas": len(locs.areas),
        "filled": dict(filled), "missing_node_refs": ex.missing_refs,
    }
    manifest = {
        "source": source_path.name, "counts": summary, "countries": {k: {"name": display_name(v), **v} for k, v in countries.items()},
        "default_country": majority,
        "bbox": [float(min(x.min() for x in lon_parts)), float(min(x.min() for x in lat_parts)),
                 float(max(x.max() for x in lon_parts)), float(max(x.max() for x in lat_parts))] if lat_parts else None,
    }
    save_manifest(tmp, manifest)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    progress("geocoder", f"index written to {out_dir} in {summary['seconds']} s")
    return summary


def _admin_rank(level: int) -> int:
    return {2: 30, 3: 26, 4: 25, 5: 23, 6: 21, 7: 20, 8: 19, 9: 14, 10: 13}.get(level, 10)


def _reverse_places(locs: Localities, ex, place_entity_by_osm: dict, node_entity: dict) -> dict[str, np.ndarray]:
    """Place nodes (entity, radius) and polygons (entity, rank) for the reverse place fallback."""
    pn_entity, pn_radius = [], []
    for p in ex.places:
        e = node_entity.get((p["lat"], p["lon"]))
        if e is not None:
            pn_entity.append(e)
            pn_radius.append(PLACE_NODE_RADIUS.get(p["place"], 300.0))
    area_entity = [a.get("entity", -1) for a in locs.areas]
    area_size = [a["area_m2"] for a in locs.areas]
    return {
        "placenode_entity": np.array(pn_entity, dtype=np.int32), "placenode_radius": np.array(pn_radius, dtype=np.float64),
        "area_entity": np.array(area_entity, dtype=np.int32), "area_size": np.array(area_size, dtype=np.float64),
    }


def _save_area_geoms(out: Path, locs: Localities) -> None:
    geoms = [shapely.simplify(a["geom"], AREA_SIMPLIFY_DEG, preserve_topology=True) for a in locs.areas]
    save_wkb(out, "areas", [shapely.to_wkb(g) for g in geoms])
    np.save(out / "areas.bounds.npy", shapely.bounds(np.array(geoms, dtype=object)).reshape(-1, 4))  # lds.geocoding.areas


def _i18n(groups, ex, countries) -> dict[str, dict[str, str]]:
    """Display name -> {language: name} for streets, places and countries that carry name:xx tags."""
    out: dict[str, dict[str, str]] = {}

    def add(names: dict[str, str]) -> None:
        default = display_name(names)
        langs = {k[5:]: v for k, v in names.items() if k.startswith("name:") and ":" not in k[5:]}
        if default and langs:
            out.setdefault(default, {}).update(langs)

    for g in groups:
        add(g["names"])
    for p in ex.places:
        add(p["names"])
    for a in ex.areas:
        add(a["names"])
    for names in countries.values():
        add(names)
    return out
